import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, connect, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  classifyError,
  readBodyPrefix,
  type WebhookFetch,
  webhookTransport,
} from '../../lambdas/delivery/transport.js';
import type { HostResolver } from '../../lambdas/security/address-guard.js';
import { AttemptLog } from '../../lambdas/storage/attempts.js';
import { deliverFunction } from '../../lambdas/wiring.js';
import { pollOnce } from '../../local/emulators/event-source.js';
import { waitFor } from '../../local/wait.js';
import { publishEvent } from '../support/events.js';
import { startReceiver } from '../support/receiver.js';
import { PUBLIC_ADDRESS } from '../support/resolver.js';
import { startTestService } from '../support/service.js';
import { createSubscription } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

/** A TCP port on loopback that counts every connection made to it: the target an attacker wants reached. */
async function startTrap() {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A DNS a test rewrites between registration and delivery, the way a rebinding attacker's server does. */
function mutableResolver() {
  const answers = new Map<string, readonly string[]>();
  const resolve: HostResolver = async (hostname) => {
    const listed = answers.get(hostname);
    if (listed) return listed;
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  };
  return { answers, resolve };
}

// Retries come back minutes later, so no test sees another's retry; each test publishes its own event type.
const SCHEDULE = [0, 300, 600];

describe('SSRF guard at delivery (AWS mode: allowPrivateUrls false)', () => {
  let service: Service;
  let apiKey: string;
  let tenantId: string;
  let attempts: AttemptLog;
  let trap: Awaited<ReturnType<typeof startTrap>>;
  const dns = mutableResolver();

  beforeAll(async () => {
    service = await startTestService({
      allowPrivateUrls: false,
      resolveHost: dns.resolve,
      retryScheduleSeconds: SCHEDULE,
      random: () => 0.5,
      attemptTimeoutMs: 2_000,
    });
    ({ apiKey, tenantId } = await service.createTenant('rebinding'));
    attempts = new AttemptLog(service.clients.db, service.resources.tables.attempts);
    trap = await startTrap();
  });
  afterAll(async () => {
    await trap.close();
    await service.close();
  });

  /** Registers `name` while it resolves to a public address, then lets it answer `atDelivery`. */
  const subscribeThenRebind = async (name: string, eventType: string, atDelivery: string[] | undefined) => {
    dns.answers.set(name, [PUBLIC_ADDRESS]);
    const { id } = await createSubscription(service.api, apiKey, {
      url: `https://${name}:${trap.port}/hook`,
      eventTypes: [eventType],
    });
    if (atDelivery) dns.answers.set(name, atDelivery);
    else dns.answers.delete(name);
    return id;
  };
  const publishAndDeliver = async (type: string) => {
    await publishEvent(service.api, apiKey, { type, data: { n: 1 } });
    await service.pollFanout();
    return service.pollDelivery();
  };
  const attemptsOf = async (subscriptionId: string) =>
    (await attempts.listBySubscription(tenantId, subscriptionId, { limit: 10 })).items;

  it.each([
    ['loopback', ['127.0.0.1']],
    ['metadata', ['169.254.169.254']],
    ['mixed', [PUBLIC_ADDRESS, '127.0.0.1']],
    ['mapped', ['::ffff:127.0.0.1']],
    ['ipv6-loopback', ['::1']],
    ['unique-local', ['2606:4700:4700::1111', 'fd00:ec2::254']],
  ])(
    'blocks a host rebound to %s after registration, never connecting, and retries it',
    async (label, atDelivery) => {
      const subscriptionId = await subscribeThenRebind(`${label}.rebind.dev`, `${label}.ping`, atDelivery);
      expect(await publishAndDeliver(`${label}.ping`)).toMatchObject({ received: 1, failed: 1 });

      const [attempt, ...others] = await attemptsOf(subscriptionId);
      expect(others).toEqual([]);
      expect(attempt).toMatchObject({
        attempt: 1,
        result: 'failed',
        errorClass: 'blocked_address',
        nextAttemptAt: expect.any(String),
      });
      expect(attempt?.statusCode).toBeUndefined();
      // Retried like a connection error, on the schedule: the owner may fix the address.
      expect(Date.parse(attempt?.nextAttemptAt ?? '') - Date.parse(attempt?.attemptedAt ?? '')).toBe(
        (SCHEDULE[1] ?? 0) * 1000,
      );
      expect(trap.connections()).toBe(0);
    },
  );

  it('records a name that stopped resolving as a DNS error, not a blocked address', async () => {
    const subscriptionId = await subscribeThenRebind('gone.rebind.dev', 'gone.ping', undefined);
    expect(await publishAndDeliver('gone.ping')).toMatchObject({ received: 1, failed: 1 });
    expect(await attemptsOf(subscriptionId)).toEqual([
      expect.objectContaining({ result: 'failed', errorClass: 'dns_error' }),
    ]);
  });

  it('left the trap reachable: only the guard kept deliveries away from it', async () => {
    const direct = connect({ host: '127.0.0.1', port: trap.port });
    await once(direct, 'close');
    expect(trap.connections()).toBe(1);
  });
});

describe('SSRF guard on subscriptions stored while private URLs were allowed', () => {
  let service: Service;
  let apiKey: string;
  let tenantId: string;

  beforeAll(async () => {
    service = await startTestService({ retryScheduleSeconds: SCHEDULE, random: () => 0.5 });
    ({ apiKey, tenantId } = await service.createTenant('flipped'));
  });
  afterAll(() => service.close());

  it('blocks IP-literal and localhost URLs once the guard is on, and delivers to them while it is off', async () => {
    const receiver = await startReceiver();
    const port = new URL(receiver.url).port;
    const subscriptions: { id: string; secret: string }[] = [];
    for (const url of [
      receiver.url,
      `http://localhost:${port}/webhooks`,
      `http://[::ffff:7f00:1]:${port}/x`,
    ]) {
      subscriptions.push(await createSubscription(service.api, apiKey, { url }));
    }
    const publish = async () => {
      await publishEvent(service.api, apiKey, { type: 'order.created', data: {} });
      await service.pollFanout();
    };

    // The same tables and queue, delivered by a deliver function built as in AWS mode.
    const guarded = deliverFunction(service.config, service.clients);
    await publish();
    const result = await pollOnce(service.clients.sqs, guarded, {
      functionName: 'deliver',
      queueUrl: service.resources.queues.delivery.url,
      queueArn: service.resources.queues.delivery.arn,
      batchSize: 10,
    });
    expect(result).toMatchObject({ received: 3, failed: 3 });
    expect(receiver.received).toEqual([]);
    const log = new AttemptLog(service.clients.db, service.resources.tables.attempts);
    for (const { id } of subscriptions) {
      const { items } = await log.listBySubscription(tenantId, id, { limit: 10 });
      expect(items).toEqual([expect.objectContaining({ result: 'failed', errorClass: 'blocked_address' })]);
    }

    // Control: the receiver was reachable all along, as the permissive deliver function shows.
    receiver.useSecret(subscriptions[0]?.secret ?? '');
    await publish();
    // Each subscription signs with its own secret; the receiver holds the first one's and answers the other
    // two 401, so all three arrived but only one succeeded.
    expect(await service.pollDelivery()).toMatchObject({ received: 3, succeeded: 1, failed: 2 });
    expect(receiver.received).toHaveLength(3);
    expect(receiver.received.filter((delivery) => delivery.verificationError === undefined)).toHaveLength(1);
    await receiver.close();
  });
});

/** A self-signed certificate for localhost (ECDSA P-256, valid until 2126), which no client trusts. */
const SELF_SIGNED = {
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/wb7n9hZwagVbDxJ
NF5UnI+qNe6T7DhRwhVekUjvdaGhRANCAASBBOHMkspRQSuDGk5hsXWqqDfqoWPj
RXPdKjuDV/okHOU4YmIDWzmUxypqxCBrSziUAKLC/OlSHZMN7NVmGQ0C
-----END PRIVATE KEY-----`,
  cert: `-----BEGIN CERTIFICATE-----
MIIBljCCATugAwIBAgIUJueuSEUvw9bh9jutX2Sqh5sWfhMwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMzA2NDgwOVoYDzIxMjYxMDMw
MDY0ODA5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASBBOHMkspRQSuDGk5hsXWqqDfqoWPjRXPdKjuDV/okHOU4YmIDWzmU
xypqxCBrSziUAKLC/OlSHZMN7NVmGQ0Co2kwZzAdBgNVHQ4EFgQU1JS92S43k7Fv
y8WLWOICMuBAKlQwHwYDVR0jBBgwFoAU1JS92S43k7Fvy8WLWOICMuBAKlQwDwYD
VR0TAQH/BAUwAwEB/zAUBgNVHREEDTALgglsb2NhbGhvc3QwCgYIKoZIzj0EAwID
SQAwRgIhAJAfNLNkn1Q5+uTMhTF6tb9YeqdO+vDZAfk8fpMfbf6VAiEAykV15YlD
4OUL7VxtW7iHhba+wQHl120mpye392pQq7E=
-----END CERTIFICATE-----`,
};

describe('Webhook transport', () => {
  const post = (send: WebhookFetch, url: string, timeoutMs = 2_000) =>
    send(url, {
      headers: { 'content-type': 'application/json' },
      body: '{}',
      signal: AbortSignal.timeout(timeoutMs),
    });

  /** An HTTP server on loopback that counts connections and answers with `handler`. */
  async function startServer(handler: (request: IncomingMessage, response: ServerResponse) => void) {
    let connections = 0;
    const server = createHttpServer(handler);
    server.on('connection', () => connections++);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
      connections: () => connections,
      close() {
        server.closeAllConnections();
        server.close();
      },
    };
  }

  it('refuses IP literals and local names under the guard, before any connection', async () => {
    const trap = await startTrap();
    const send = webhookTransport({ allowPrivateUrls: false });
    for (const host of ['127.0.0.1', '[::1]', 'localhost', '[::ffff:127.0.0.1]']) {
      const error = await post(send, `http://${host}:${trap.port}/`).catch((caught: unknown) => caught);
      expect(classifyError(error)).toBe('blocked_address');
    }
    expect(trap.connections()).toBe(0);
    await trap.close();
  });

  it('reuses keep-alive connections, whether a body is read or discarded', async () => {
    const server = await startServer((request, response) => {
      request.resume();
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    const send = webhookTransport({ allowPrivateUrls: true });
    for (let i = 0; i < 10; i++) {
      const response = await post(send, server.url);
      expect(response.status).toBe(200);
      if (i % 2 === 0) expect(await readBodyPrefix(response.body, 1024)).toBe('ok');
      else response.discard();
    }
    // A request may open a second connection while a discarded body is still being drained; after that,
    // two suffice. Closing a discarded body's connection instead would have opened one per discard.
    expect(server.connections()).toBeLessThanOrEqual(2);
    server.close();
  });

  it('closes the connection of a discarded body that does not end, rather than draining it forever', async () => {
    let abandoned = false;
    const server = await startServer((request, response) => {
      request.resume();
      response.on('close', () => {
        abandoned = true;
      });
      response.writeHead(200);
      const pump = () => {
        while (!response.destroyed && response.write('y'.repeat(16_384)));
        if (!response.destroyed) response.once('drain', pump);
      };
      pump();
    });
    const send = webhookTransport({ allowPrivateUrls: true });
    // The attempt's timeout would end it too, but well after the drain limit has.
    const response = await post(send, server.url, 60_000);
    response.discard();
    await waitFor(() => (abandoned ? true : undefined), { what: 'the receiver to see the body abandoned' });
    server.close();
  });

  it('verifies the certificate of an https receiver, named by SNI, and sends nothing to one it does not trust', async () => {
    let requests = 0;
    let servername: string | undefined;
    const server = createHttpsServer(
      {
        ...SELF_SIGNED,
        SNICallback: (name, callback) => {
          servername = name;
          callback(null, undefined);
        },
      },
      (_request, response) => {
        requests++;
        response.writeHead(204).end();
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;

    const error = await post(
      webhookTransport({ allowPrivateUrls: true }),
      `https://localhost:${port}/hook`,
    ).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(classifyError(error)).toBe('connection_error');
    expect(servername).toBe('localhost');
    expect(requests).toBe(0);
    server.close();
  });
});
