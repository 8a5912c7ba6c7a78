import { Webhook } from 'standardwebhooks';

/** Standard Webhooks headers for one attempt: the signature covers "{id}.{unix seconds}.{body}". */
export function signatureHeaders(
  secret: string,
  messageId: string,
  at: Date,
  body: string,
): Record<string, string> {
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(messageId, at, body),
  };
}
