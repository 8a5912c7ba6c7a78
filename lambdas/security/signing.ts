import { Webhook } from 'standardwebhooks';

/**
 * Standard Webhooks headers for one attempt: each signature covers "{id}.{unix seconds}.{body}", one per
 * live secret, space-separated, so during a secret rotation receivers holding any of them can verify.
 */
export function signatureHeaders(
  secrets: readonly string[],
  messageId: string,
  at: Date,
  body: string,
): Record<string, string> {
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(messageId, at, body)).join(' '),
  };
}
