import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../lambdas/storage/tenants.js';
import { DEFAULT_MAX_CONCURRENCY } from '../../lib/definitions.js';
import { INITIAL_CONCURRENCY } from '../../local/emulators/event-source-mapping.js';
import { type LocalHttpServer, startHttpServer } from '../../local/http-server.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import { waitFor } from '../../local/wait.js';
import { deliveriesOf, type LocalReceiver, localClient, nonEmpty } from '../support/local.js';
import { startReceiver } from '../support/receiver.js';

/** Resolves when the port accepts a connection, rejects with the connection error otherwise. */
const connect = (port: number) =>
  new Promise<void>((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' }, () => {
      socket.end();
      resolve();
    });
    socket.once('error', reject);
  });

describe('Local mode: the whole service from startLocalRuntime, through HTTP', () => {
  const logged: string[] = [];
  let runtime: LocalRuntime;
  let api: ReturnType<typeof localClient>;
  let receiver: LocalReceiver;

  beforeAll(async () => {
    // Two attempts one second apart, and alarms sampled often, so the DLQ path takes about two seconds.
    runtime = await startLocalRuntime({
      port: 0,
      retryScheduleSeconds: [0, 1],
      alarmIntervalMs: 100,
      log: (line) => logged.push(line),
    });
    api = localClient(runtime, runtime.tenants[0]?.apiKey ?? '');
    receiver = await startReceiver();
    await api.subscribe(receiver, ['order.*']);
  });
  afterAll(async () => {
    await receiver.close();
    await runtime.stop();
  });

  it('answers GET /health with 200 and shows empty queues and quiet alarms without auth', async () => {
    const health = await fetch(`${runtime.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const status = await api.status();
    const empty = { visible: 0, inFlight: 0 };
    expect(status.queues).toEqual({
      fanout: empty,
      'fanout-dlq': empty,
      delivery: empty,
      'delivery-dlq': empty,
    });
    expect(status.alarms).toEqual({ 'fanout-dlq': 'OK', 'delivery-dlq': 'OK' });
    // Idle, each event source mapping polls with its first five pollers, up to the stack's maximum.
    expect(status.eventSources).toEqual({
      fanout: { concurrency: INITIAL_CONCURRENCY, maxConcurrency: DEFAULT_MAX_CONCURRENCY.fanout },
      delivery: { concurrency: INITIAL_CONCURRENCY, maxConcurrency: DEFAULT_MAX_CONCURRENCY.delivery },
    });
  });

  it('delivers an event published with POST /events, signed so that standardwebhooks verifies it', async () => {
    const id = await api.publish({ type: 'order.created', data: { orderId: 42 } });

    const [delivery] = await waitFor(() => nonEmpty(deliveriesOf(receiver, id)), { what: 'the delivery' });
    expect(delivery?.verificationError).toBeUndefined();
    expect(delivery?.verified).toMatchObject({ type: 'order.created', data: { orderId: 42 } });
  });

  it('delivers an event id published twice exactly once', async () => {
    for (let i = 0; i < 2; i++) await api.publish({ id: 'order-twice', type: 'order.paid', data: { i } });

    // Fan-out sends deliveries before deleting its message, so once its queue is empty, and then the
    // delivery queue too, every copy has been handled.
    const drained = (name: string) => async () => {
      const { queues } = await api.status();
      return queues[name]?.visible === 0 && queues[name]?.inFlight === 0 ? true : undefined;
    };
    await waitFor(drained('fanout'), { what: 'the fan-out queue to drain' });
    await waitFor(drained('delivery'), { what: 'the delivery queue to drain' });
    expect(deliveriesOf(receiver, 'order-twice')).toHaveLength(1);
  });

  it('moves a delivery a receiver keeps failing to the DLQ, and the DLQ alarm goes to ALARM', async () => {
    const failing = await startReceiver({ status: 500 });
    await api.subscribe(failing, ['payment.*']);
    const id = await api.publish({ type: 'payment.failed', data: { paymentId: 9 } });

    const status = await waitFor(
      async () => {
        const current = await api.status();
        return current.alarms['delivery-dlq'] === 'ALARM' ? current : undefined;
      },
      { what: 'the delivery DLQ alarm' },
    );
    await failing.close();
    expect(status.queues['delivery-dlq']).toEqual({ visible: 1, inFlight: 0 });
    expect(status.alarms['fanout-dlq']).toBe('OK');
    // One attempt per entry of the schedule, each signed.
    expect(deliveriesOf(failing, id)).toHaveLength(2);
    expect(failing.received.every((delivery) => delivery.verificationError === undefined)).toBe(true);
    expect(logged).toContainEqual(expect.stringMatching(/delivery-dlq: OK → ALARM/));
  });

  it('frees its ports when stopped', async () => {
    const ports = [runtime.url, runtime.busEndpoint].map((url) => Number(new URL(url).port));
    await connect(ports[0] ?? 0);

    await runtime.stop();

    for (const port of ports) await expect(connect(port)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('Local mode: FANOUT_DATA_DIR', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'fanout-local-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('keeps tenants and subscriptions across a restart, reusing the tables and the given API key', async () => {
    const apiKey = generateApiKey();
    const options = { port: 0, dataDir, apiKeys: [apiKey], log: () => undefined };

    const first = await startLocalRuntime(options);
    const subscription = await subscribeAnything(first, apiKey);
    await first.stop();

    const second = await startLocalRuntime(options);
    try {
      expect(second.tenants).toEqual([{ ...first.tenants[0], existing: true }]);
      expect(await subscriptionIds(second, apiKey)).toEqual([subscription.body.id]);
    } finally {
      await second.stop();
    }
  });
});

describe('Local mode: FANOUT_DATA_DIR without FANOUT_API_KEY', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'fanout-local-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('keeps the generated key in an owner-only file, so a restart finds the same tenant and subscriptions', async () => {
    const options = { port: 0, dataDir, log: () => undefined };
    const keyFile = join(dataDir, 'local-api-key');

    const first = await startLocalRuntime(options);
    const [tenant] = first.tenants;
    const apiKey = tenant?.apiKey ?? '';
    expect(tenant).toMatchObject({ existing: false, keyFile });
    const subscription = await subscribeAnything(first, apiKey);
    expect(subscription.status).toBe(201);
    await first.stop();

    expect((await readFile(keyFile, 'utf8')).trim()).toBe(apiKey);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);

    const second = await startLocalRuntime(options);
    try {
      expect(second.tenants).toEqual([{ ...tenant, existing: true }]);
      expect(await subscriptionIds(second, apiKey)).toEqual([subscription.body.id]);
    } finally {
      await second.stop();
    }
  });
});

describe('Local mode: HTTP server', () => {
  it('answers 503 until the service is ready, then serves /health and the API', async () => {
    const server = await startHttpServer({ port: 0, host: '127.0.0.1', log: () => undefined });
    try {
      expect((await fetch(`${server.url}/health`)).status).toBe(503);
      expect((await fetch(`${server.url}/subscriptions`)).status).toBe(503);

      server.serve({
        api: async (request) => ({ statusCode: 200, headers: {}, body: `${request.method} ${request.path}` }),
        status: async () => ({}),
      });

      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      expect(await (await fetch(`${server.url}/subscriptions?limit=2`)).text()).toBe(
        'GET /subscriptions?limit=2',
      );
    } finally {
      await server.close();
    }
  });

  it('refuses a body over the 10 MB API Gateway limit with a JSON 413, before any function sees it', async () => {
    const seen: string[] = [];
    const server = await startHttpServer({ port: 0, host: '127.0.0.1', log: () => undefined });
    server.serve({
      api: async (request) => {
        seen.push(request.path);
        return { statusCode: 202, headers: {}, body: '' };
      },
      status: async () => ({}),
    });
    try {
      const tooLarge = await fetch(`${server.url}/events`, {
        method: 'POST',
        body: 'x'.repeat(10 * 1024 * 1024 + 1),
      });
      expect(tooLarge.status).toBe(413);
      expect(((await tooLarge.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
      expect(seen).toEqual([]);
      const atLimit = await fetch(`${server.url}/events`, {
        method: 'POST',
        body: 'x'.repeat(10 * 1024 * 1024),
      });
      expect(atLimit.status).toBe(202);
      expect(seen).toEqual(['/events']);
    } finally {
      await server.close();
    }
  });
});

describe('Local mode: HTTP server rejections', () => {
  let server: LocalHttpServer;
  beforeAll(async () => {
    server = await startHttpServer({ port: 0, host: '127.0.0.1', log: () => undefined });
  });
  afterAll(() => server.close());

  /** Sends raw bytes and reads the whole answer, up to the server closing the connection. */
  const exchange = (request: string) =>
    new Promise<{ head: string; body: string }>((resolve, reject) => {
      const socket = createConnection({ port: Number(new URL(server.url).port), host: '127.0.0.1' });
      const chunks: Buffer[] = [];
      socket.on('data', (chunk) => chunks.push(chunk));
      socket.once('error', reject);
      socket.once('close', () => {
        const [head = '', body = ''] = Buffer.concat(chunks).toString('utf8').split('\r\n\r\n');
        resolve({ head, body });
      });
      socket.write(request);
    });

  it.each([
    [
      'oversized headers',
      `GET /health HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'request_header_fields_too_large',
    ],
    ['a malformed request line', 'NOT A REQUEST\r\n\r\n', 400, 'bad_request'],
    ['a malformed header', 'GET /health HTTP/1.1\r\nno colon here\r\n\r\n', 400, 'bad_request'],
  ])('answers %s with a JSON error, then closes the connection', async (_name, request, status, code) => {
    const { head, body } = await exchange(request);
    const [statusLine, ...headerLines] = head.split('\r\n');
    expect(statusLine).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    const headers = Object.fromEntries(
      headerLines.map((line) => [
        line.slice(0, line.indexOf(':')).toLowerCase(),
        line.slice(line.indexOf(':') + 1).trim(),
      ]),
    );
    expect(headers).toMatchObject({ 'content-type': 'application/json', connection: 'close' });
    expect(Number(headers['content-length'])).toBe(Buffer.byteLength(body));
    expect(JSON.parse(body)).toEqual({ error: { code, message: expect.any(String) } });
  });
});

type Runtime = Awaited<ReturnType<typeof startLocalRuntime>>;

/** A subscription to every type at an address nothing listens on: these tests only look for it again. */
function subscribeAnything(runtime: Runtime, apiKey: string) {
  return localClient(runtime, apiKey).call<{ id: string }>('POST', '/subscriptions', {
    url: 'http://127.0.0.1:9/webhooks',
    eventTypes: ['*'],
  });
}

async function subscriptionIds(runtime: Runtime, apiKey: string) {
  const listed = await localClient(runtime, apiKey).call<{ items: { id: string }[] }>(
    'GET',
    '/subscriptions',
  );
  expect(listed.status).toBe(200);
  return listed.body.items.map((item) => item.id);
}
