import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  /** The payload as standardwebhooks verified it, or undefined when verification failed. */
  verified: unknown;
  verificationError?: string;
}

/**
 * A webhook receiver on loopback, as a subscriber would write one: it verifies every request with the
 * `standardwebhooks` package and answers with whatever status the test sets.
 */
export async function startReceiver(options: { status?: number } = {}) {
  const received: ReceivedWebhook[] = [];
  let secret: string | undefined;
  let status = options.status ?? 204;
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const entry: ReceivedWebhook = { headers: request.headers, body, verified: undefined };
    try {
      if (!secret) throw new Error('receiver has no secret yet');
      entry.verified = new Webhook(secret).verify(body, request.headers as Record<string, string>);
    } catch (error) {
      entry.verificationError = (error as Error).message;
    }
    received.push(entry);
    response.writeHead(status).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    received,
    useSecret(value: string) {
      secret = value;
    },
    respondWith(value: number) {
      status = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
