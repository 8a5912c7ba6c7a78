import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { postWebhook } from '../../lambdas/delivery/deliver.js';
import { classifyError, type WebhookFetch, webhookTransport } from '../../lambdas/delivery/transport.js';
import type { StoredSubscription } from '../../lambdas/storage/subscription-model.js';
import { fakeResolver } from '../support/resolver.js';

/**
 * postWebhook and the webhook transport called directly, without a service: how much of a response body an
 * attempt reads, and what each way a socket fails counts as.
 */

/** What postWebhook is handed: a stored subscription and the event to post to it. */
const subscription: StoredSubscription = {
  id: 'sub_1',
  tenantId: 'ten_1',
  url: 'https://receiver.example/hook',
  eventTypes: ['*'],
  description: '',
  metadata: {},
  status: 'active',
  secret: `whsec_${Buffer.alloc(32, 1).toString('base64')}`,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  version: 1,
};
const event = {
  tenantId: 'ten_1',
  id: 'evt_1',
  type: 'a.b',
  timestamp: '2026-01-01T00:00:00.000Z',
  data: {},
};

describe('Delivery: reading the response body', () => {
  /** A response whose body counts the chunks read from it and whether it was let go. */
  function countingResponse(status: number) {
    const body = { pulls: 0, cancelled: false };
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          body.pulls++;
          controller.enqueue(new Uint8Array(600).fill(0x61));
        },
        cancel() {
          body.cancelled = true;
        },
      },
      // Nothing is pulled until someone reads.
      { highWaterMark: 0 },
    );
    const fetch: WebhookFetch = async () => ({
      status,
      headers: {},
      body: stream,
      discard: () => void stream.cancel(),
    });
    return { body, fetch };
  }

  it('does not read the body of an attempt the log will not keep, and lets it go', async () => {
    const { body, fetch } = countingResponse(200);
    const outcome = await postWebhook(subscription, event, new Date(), {
      timeoutMs: 1_000,
      fetch,
      keepBody: () => false,
    });
    expect(outcome).toEqual({ result: 'delivered', statusCode: 200, latencyMs: expect.any(Number) });
    expect(body).toEqual({ pulls: 0, cancelled: true });
  });

  it('reads only the chunks that cover 1 KB, then lets go of the rest', async () => {
    const { body, fetch } = countingResponse(500);
    const outcome = await postWebhook(subscription, event, new Date(), {
      timeoutMs: 1_000,
      fetch,
      keepBody: (result) => result === 'failed',
    });
    expect(outcome).toMatchObject({ result: 'failed', statusCode: 500, responseBody: 'a'.repeat(1024) });
    expect(body).toEqual({ pulls: 2, cancelled: true });
  });
});

/** A TCP server on loopback that does `onConnection` with each socket; closing it ends every socket. */
async function startTcp(onConnection: (socket: Socket) => void) {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('Delivery: transport failures on real sockets', () => {
  const send = webhookTransport({ allowPrivateUrls: true });
  const post = (url: string, timeoutMs = 2_000) =>
    send(url, { headers: {}, body: '{}', signal: AbortSignal.timeout(timeoutMs) }).then(
      () => expect.unreachable('the request should have failed'),
      (error: unknown) => error,
    );

  it('records a receiver that accepts and never answers as a timeout', async () => {
    const silent = await startTcp((socket) => socket.resume());
    const error = await post(silent.url, 200);
    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(classifyError(error)).toBe('timeout');
    await silent.close();
  });

  it('records a reset connection and a refused port as connection errors', async () => {
    // Reset once the request is in, so the client sees it while awaiting the response.
    const resetting = await startTcp((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const reset = await post(resetting.url);
    expect(reset).toMatchObject({ code: 'ECONNRESET' });
    expect(classifyError(reset)).toBe('connection_error');
    await resetting.close();

    // The port of a server just closed: nothing listens there now.
    const refused = await post(resetting.url);
    expect(refused).toMatchObject({ code: 'ECONNREFUSED' });
    expect(classifyError(refused)).toBe('connection_error');
  });

  it('records a name that does not resolve as a DNS error', async () => {
    const guarded = webhookTransport({ allowPrivateUrls: false, resolveHost: fakeResolver() });
    const error = await guarded('https://nowhere.invalid/hook', {
      headers: {},
      body: '{}',
      signal: AbortSignal.timeout(2_000),
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'ENOTFOUND' });
    expect(classifyError(error)).toBe('dns_error');
  });

  it('bounds the body read by the attempt timeout: a trickling body costs the snippet, not the result', async () => {
    const trickling = await startTcp((socket) =>
      socket.once('data', () =>
        socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nz\r\n'),
      ),
    );
    const outcome = await postWebhook({ ...subscription, url: trickling.url }, event, new Date(), {
      timeoutMs: 300,
      fetch: send,
      keepBody: () => true,
    });
    expect(outcome).toEqual({ result: 'delivered', statusCode: 200, latencyMs: expect.any(Number) });
    await trickling.close();
  });
});
