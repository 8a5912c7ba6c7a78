import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { listen, readBody } from './http-server.js';

/**
 * A webhook receiver as a subscriber would write one: it verifies every request with the `standardwebhooks`
 * package and answers with the status it is set to, or 401 with the reason when the signature does not verify.
 * Without a secret it cannot verify, and accepts (the walkthrough starts it before the secret is known).
 * `npm run receiver` and the tests both use it.
 */
export interface ReceivedWebhook {
  /** When the request arrived (epoch milliseconds), by the receiver's own clock. */
  receivedAt: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The payload as standardwebhooks verified it, or undefined when verification failed. */
  verified: unknown;
  verificationError?: string;
  /** The status the receiver answered with: 401 when a secret is set and the signature did not verify. */
  status: number;
}

export interface WebhookReceiverOptions {
  port?: number;
  host?: string;
  /** The subscription's signing secret (whsec_…); without it nothing is verified and everything accepted. */
  secret?: string;
  /** @default 204 */
  status?: number;
  onDelivery?: (delivery: ReceivedWebhook) => void;
}

/** Deliveries carry at most a 256 KB payload; anything far larger is not one of ours. */
const MAX_DELIVERY_BYTES = 1024 * 1024;

export async function startWebhookReceiver(options: WebhookReceiverOptions = {}) {
  let secret = options.secret;
  let status = options.status ?? 204;
  const host = options.host ?? '127.0.0.1';
  const server = createServer(async (request, response) => {
    const receivedAt = Date.now();
    const body = await readBody(request, MAX_DELIVERY_BYTES);
    if (body === undefined) {
      response.writeHead(413).end();
      return;
    }
    const delivery: ReceivedWebhook = {
      receivedAt,
      headers: request.headers,
      body,
      verified: undefined,
      status,
    };
    let refused = false;
    try {
      if (!secret) throw new Error('no signing secret configured');
      delivery.verified = new Webhook(secret).verify(body, request.headers as Record<string, string>);
    } catch (error) {
      delivery.verificationError = (error as Error).message;
      // Without a secret there is nothing to verify against: the delivery is only recorded as unverified.
      refused = Boolean(secret);
      if (refused) delivery.status = 401;
    }
    options.onDelivery?.(delivery);
    if (refused) {
      response
        .writeHead(401, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`signature not verified: ${delivery.verificationError}\n`);
      return;
    }
    response.writeHead(status).end();
  });
  const port = await listen(server, options.port ?? 0, host);
  return {
    url: `http://${host}:${port}/webhooks`,
    useSecret(value: string) {
      secret = value;
    },
    respondWith(value: number) {
      status = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
