import { type DynamoDBDocumentClient, ScanCommand, type ScanCommandOutput } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { revokeApiKey } from '../../../lambdas/storage/tenants.js';
import { apiFunction, authorizerFunction, ingestFunction } from '../../../lambdas/wiring.js';
import { type ApiRequest, invokeApi, type NormalizedResponse } from '../../../local/emulators/api-gateway.js';
import { namedQueues, queueDepth } from '../../../local/emulators/queue-metrics.js';
import { waitFor } from '../../../local/wait.js';
import { fakeResolver, PUBLIC_ADDRESS } from '../resolver.js';
import { startTestService } from '../service.js';
import { by, type HostileCase, type Service, type Tenant, type World } from './requests.js';

/**
 * The hostile-input suite: tables of distinct bad requests, each answered with its exact status and error
 * code in the JSON error contract, and each leaving every table and queue exactly as it found them. The
 * service runs with the AWS-mode SSRF guard (allowPrivateUrls false) and a resolver that never touches DNS.
 * Each test file of the suite builds this world once for itself.
 */

type Api = (request: ApiRequest) => Promise<NormalizedResponse>;

export interface HostileWorld {
  /** The service, the world and the APIs are set in beforeAll. */
  service: Service;
  world: World;
  apis: Record<'service' | 'capped' | 'throttled', Api>;
  /** Every item of every table and the depth of every queue. */
  state: () => ReturnType<typeof state>;
}

/** Every item of a table except the rate-limit counters (which every request moves), in key order. */
export async function tableItems(db: DynamoDBDocumentClient, table: string) {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page: ScanCommandOutput = await db.send(
      new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  const key = (item: Record<string, unknown>) => `${String(item.pk)} ${String(item.sk ?? '')}`;
  return items
    .filter((item) => !String(item.pk).startsWith('rate#'))
    .sort((a, b) => key(a).localeCompare(key(b)));
}

/** The moment the throttled API believes it is: dave's window never ends. */
const THROTTLED_AT = Date.UTC(2031, 0, 1, 0, 0, 0, 500);

/** Starts the suite's service and builds its world in beforeAll, and closes it in afterAll. */
export function useHostileWorld(): HostileWorld {
  const setup = {
    apis: {} as HostileWorld['apis'],
    state: () => state(setup.service),
  } as HostileWorld;
  const { apis } = setup;

  beforeAll(async () => {
    const service = await startTestService({
      allowPrivateUrls: false,
      resolveHost: fakeResolver({
        'metadata.example.com': ['169.254.169.254'],
        'loopback6.example.com': ['::1'],
        'mapped.example.com': ['::ffff:10.0.0.1'],
        'nat64.example.com': ['64:ff9b::a9fe:a9fe'],
        'sixtofour.example.com': ['2002:c0a8:1::1'],
        'mixed.example.com': [PUBLIC_ADDRESS, '192.168.0.1'],
        'cgnat.example.com': ['100.64.1.1'],
        'zero.example.com': ['0.0.0.0'],
        '127.0.0.1.nip.io': ['127.0.0.1'],
        'xn--bcher-kva.example': ['10.0.0.1'],
        'xn--80ak6aa92e.com': ['127.0.0.1'],
      }),
    });
    setup.service = service;
    apis.service = service.api;
    const capped = { ...service.config, maxSubscriptionsPerTenant: 1 };
    apis.capped = (request) =>
      invokeApi(
        {
          authorizer: authorizerFunction(capped, service.clients, { cacheTtlMs: 0 }),
          api: apiFunction(capped, service.clients, { resolveHost: fakeResolver() }),
          ingest: ingestFunction(capped, service.clients),
        },
        request,
      );
    const throttled = { ...service.config, tenantRequestsPerSecond: 2 };
    const now = () => THROTTLED_AT;
    apis.throttled = (request) =>
      invokeApi(
        {
          authorizer: authorizerFunction(throttled, service.clients, { cacheTtlMs: 0 }),
          api: apiFunction(throttled, service.clients, { now, resolveHost: fakeResolver() }),
          ingest: ingestFunction(throttled, service.clients, { now }),
        },
        request,
      );

    const alice = await service.createTenant('alice');
    const bob = await service.createTenant('bob');
    const carol = await service.createTenant('carol');
    const dave = await service.createTenant('dave');
    const erin = await service.createTenant('erin');
    const call = async (tenant: Tenant, method: string, path: string, body?: unknown, expected = 200) => {
      const response = await service.api(
        by(tenant, method, path, body === undefined ? undefined : JSON.stringify(body)),
      );
      expect(response.statusCode, response.body).toBe(expected);
      return JSON.parse(response.body || '{}');
    };
    const subscribe = async (tenant: Tenant, eventTypes: string[]) =>
      (
        await call(
          tenant,
          'POST',
          '/subscriptions',
          { url: 'https://hooks.example.com/setup', eventTypes },
          201,
        )
      ).id as string;

    // Neither tenant subscribes to invoice events, so the stored events put nothing on the delivery queue.
    const aliceSub = await subscribe(alice, ['order.*']);
    const aliceDisabled = await subscribe(alice, ['invoice.*']);
    await call(alice, 'PATCH', `/subscriptions/${aliceDisabled}`, { status: 'disabled' });
    const bobSub = await subscribe(bob, ['order.*']);
    await subscribe(carol, ['*']);
    const daveSub = await subscribe(dave, ['*']);
    const erinSub = await subscribe(erin, ['*']);
    await call(alice, 'POST', '/events', { id: 'evt-alice-1', type: 'invoice.paid', data: {} }, 202);
    await call(bob, 'POST', '/events', { id: 'evt-bob-1', type: 'invoice.paid', data: {} }, 202);
    await waitFor(
      async () => {
        await service.pollFanout();
        const stored = await Promise.all([
          service.api(by(alice, 'GET', '/events/evt-alice-1')),
          service.api(by(bob, 'GET', '/events/evt-bob-1')),
        ]);
        return stored.every((response) => response.statusCode === 200) || undefined;
      },
      { what: 'both events stored' },
    );
    await revokeApiKey(service.clients.db, service.resources.tables.tenants, erin.tenantId, erin.keyId);
    // Dave spends the throttled API's whole allowance for its (frozen) second.
    for (let i = 0; i < 2; i++) {
      expect((await apis.throttled(by(dave, 'GET', '/subscriptions'))).statusCode).toBe(200);
    }
    setup.world = {
      alice,
      bob,
      carol,
      dave,
      erin,
      aliceSub,
      aliceDisabled,
      aliceEvent: 'evt-alice-1',
      bobSub,
      bobEvent: 'evt-bob-1',
      daveSub,
      erinSub,
    };
  });
  afterAll(() => setup.service?.close());
  return setup;
}

async function state(service: Service) {
  const { tables } = service.resources;
  const scan = (table: string) => tableItems(service.clients.db, table);
  const queues = namedQueues(service.resources);
  return {
    tables: Object.fromEntries(
      await Promise.all(Object.entries(tables).map(async ([name, table]) => [name, await scan(table)])),
    ),
    queues: Object.fromEntries(
      await Promise.all(
        queues.map(async (queue) => [queue.name, await queueDepth(service.clients.sqs, queue.url)]),
      ),
    ),
  };
}

/** One test per case: refused with its status and error code, and nothing changed. */
export function refusesEach(setup: HostileWorld, cases: readonly HostileCase[]) {
  for (const hostile of cases) {
    it(`${hostile.name} → ${hostile.status} ${hostile.code}`, async () => {
      const { world, apis, state } = setup;
      const request = hostile.request(world);
      const before = await state();
      const response = await apis[hostile.via ?? 'service'](request);

      expect(response.statusCode, response.body).toBe(hostile.status);
      expect(response.headers['content-type']).toBe('application/json');
      const body = JSON.parse(response.body);
      expect(body).toEqual({ error: { code: hostile.code, message: expect.any(String) } });
      expect(body.error.message.length).toBeGreaterThan(0);
      if (hostile.status === 401) expect(response.headers['www-authenticate']).toBe('Bearer');
      if (hostile.status === 429) expect(response.headers['retry-after']).toBe('1');
      // Nothing sent is echoed into a response header, and no key is ever echoed back.
      for (const value of Object.values(response.headers)) expect(value).not.toMatch(/[\r\n\0]/);
      for (const tenant of [world.alice, world.bob, world.erin])
        expect(response.body).not.toContain(tenant.apiKey);

      expect(await state()).toEqual(before);
    });
  }
}
