import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAttemptCursor } from '../../lambdas/api/cursors.js';
import { AttemptLog, type AttemptRecord, newAttemptId } from '../../lambdas/storage/attempts.js';
import { EventStore } from '../../lambdas/storage/events.js';
import { storedEvent } from '../support/events.js';
import { bearer, startTestService } from '../support/service.js';
import { createSubscription } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
type Tenant = Awaited<ReturnType<Service['createTenant']>>;

describe('API: attempt log (GET /subscriptions/{id}/attempts, GET /events/{id}/attempts)', () => {
  let service: Service;
  let tenantA: Tenant;
  let tenantB: Tenant;
  let log: AttemptLog;
  let events: EventStore;
  /** Tenant A's subscriptions: `busy` has 51 attempts, `quiet` 3, all on `eventId` except busy's. */
  let busy: string;
  let quiet: string;
  const eventId = 'evt-attempts-1';
  const busyAttempts: AttemptRecord[] = [];
  const quietAttempts: AttemptRecord[] = [];
  const base = Date.now() - 3_600_000;

  beforeAll(async () => {
    service = await startTestService();
    tenantA = await service.createTenant('attempts-a');
    tenantB = await service.createTenant('attempts-b');
    log = new AttemptLog(service.clients.db, service.resources.tables.attempts, {
      mode: 'all',
      retentionDays: 30,
    });
    events = new EventStore(service.clients.db, service.resources.tables.events, 30);
    busy = await subscribe(tenantA, 'https://busy.example.com');
    quiet = await subscribe(tenantA, 'https://quiet.example.com');
    await storeEvent(tenantA, eventId);

    // One record past its retention, which must never be listed.
    await log.recordAll([
      {
        tenantId: tenantA.tenantId,
        record: attempt(busy, 'evt-old', new Date(Date.now() - 31 * 86_400_000), 1),
      },
    ]);
    for (let i = 0; i < 51; i++) {
      const record = attempt(
        busy,
        i % 5 === 0 ? eventId : `evt-${i}`,
        new Date(base + i * 1000),
        1 + (i % 3),
      );
      busyAttempts.push(record);
      await log.recordAll([{ tenantId: tenantA.tenantId, record }]);
    }
    for (let i = 0; i < 3; i++) {
      const record = attempt(quiet, eventId, new Date(base + i * 1000 + 500), i + 1);
      quietAttempts.push(record);
      await log.recordAll([{ tenantId: tenantA.tenantId, record }]);
    }
  });
  afterAll(() => service.close());

  const subscribe = async (tenant: Tenant, url: string) =>
    (await createSubscription(service.api, tenant.apiKey, { url })).id;
  const storeEvent = (tenant: Tenant, id: string) =>
    events.claim(storedEvent({ tenantId: tenant.tenantId, id, data: { n: 1 } }));
  const attempt = (subscriptionId: string, event: string, at: Date, number: number): AttemptRecord => {
    const failed = number < 3;
    return {
      id: newAttemptId(at),
      eventId: event,
      subscriptionId,
      attempt: number,
      attemptedAt: at.toISOString(),
      latencyMs: 12,
      ...(failed
        ? {
            result: 'failed' as const,
            statusCode: 503,
            responseBody: 'down',
            nextAttemptAt: new Date(at.getTime() + 5000).toISOString(),
          }
        : { result: 'delivered' as const, statusCode: 200 }),
    };
  };
  const call = (tenant: Tenant, method: string, path: string) =>
    service.api({ method, path, headers: bearer(tenant.apiKey) });
  const json = (response: { body: string }) => JSON.parse(response.body);
  const newestFirst = (records: AttemptRecord[]) =>
    [...records].sort((a, b) => b.attemptedAt.localeCompare(a.attemptedAt));

  /** Follows nextCursor to the end, checking every page's size. */
  const walk = async (tenant: Tenant, path: string, limit: number) => {
    const pages: AttemptRecord[][] = [];
    let cursor: string | undefined;
    do {
      const response = await call(
        tenant,
        'GET',
        `${path}?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(response.statusCode).toBe(200);
      const page = json(response) as { items: AttemptRecord[]; nextCursor?: string };
      expect(page.items.length).toBeLessThanOrEqual(limit);
      pages.push(page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return pages;
  };

  it("lists a subscription's attempts newest first, 50 by default, every field as recorded", async () => {
    const response = await call(tenantA, 'GET', `/subscriptions/${busy}/attempts`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    const page = json(response);
    expect(page.items).toEqual(newestFirst(busyAttempts).slice(0, 50));
    expect(page.nextCursor).toEqual(expect.any(String));

    const rest = json(
      await call(tenantA, 'GET', `/subscriptions/${busy}/attempts?cursor=${page.nextCursor}`),
    );
    expect(rest).toEqual({ items: newestFirst(busyAttempts).slice(50) });
  });

  it('walks every page with the cursor, without overlap or gaps, and leaves out expired attempts', async () => {
    const pages = await walk(tenantA, `/subscriptions/${busy}/attempts`, 7);
    expect(pages.map((page) => page.length)).toEqual([7, 7, 7, 7, 7, 7, 7, 2]);
    expect(pages.flat()).toEqual(newestFirst(busyAttempts));
    expect(pages.flat().map((record) => record.eventId)).not.toContain('evt-old');
  });

  it('answers the largest page, 100, in one', async () => {
    const page = json(await call(tenantA, 'GET', `/subscriptions/${busy}/attempts?limit=100`));
    expect(page).toEqual({ items: newestFirst(busyAttempts) });
  });

  it("lists an event's attempts across its subscriptions, newest first, page by page", async () => {
    const expected = newestFirst([
      ...busyAttempts.filter((record) => record.eventId === eventId),
      ...quietAttempts,
    ]);
    expect(expected.length).toBe(14);
    const pages = await walk(tenantA, `/events/${eventId}/attempts`, 4);
    expect(pages.map((page) => page.length)).toEqual([4, 4, 4, 2]);
    expect(pages.flat()).toEqual(expected);
    expect(new Set(pages.flat().map((record) => record.subscriptionId))).toEqual(new Set([busy, quiet]));
  });

  it('answers an empty page for a subscription without attempts', async () => {
    const idle = await subscribe(tenantA, 'https://idle.example.com');
    const response = await call(tenantA, 'GET', `/subscriptions/${idle}/attempts`);
    expect(response.statusCode).toBe(200);
    expect(json(response)).toEqual({ items: [] });
  });

  describe('tenant isolation', () => {
    it("answers 404 for another tenant's subscription and event, with or without a cursor", async () => {
      const cursor = json(await call(tenantA, 'GET', `/subscriptions/${busy}/attempts?limit=2`)).nextCursor;
      const eventCursor = json(await call(tenantA, 'GET', `/events/${eventId}/attempts?limit=2`)).nextCursor;
      for (const path of [
        `/subscriptions/${busy}/attempts`,
        `/subscriptions/${busy}/attempts?cursor=${cursor}`,
        `/events/${eventId}/attempts`,
        `/events/${eventId}/attempts?cursor=${eventCursor}`,
      ]) {
        const response = await call(tenantB, 'GET', path);
        expect(response.statusCode, path).toBe(404);
        expect(json(response).error.code).toBe('not_found');
      }
    });

    it("never shows another tenant's attempts under an event id both tenants used", async () => {
      await storeEvent(tenantB, eventId);
      const own = await subscribe(tenantB, 'https://b.example.com');
      const mine = attempt(own, eventId, new Date(base), 1);
      await log.recordAll([{ tenantId: tenantB.tenantId, record: mine }]);

      expect(json(await call(tenantB, 'GET', `/events/${eventId}/attempts`))).toEqual({ items: [mine] });
      // A cursor naming tenant A's subscription only positions tenant B's own query.
      const foreign = encodeAttemptCursor({
        id: newestFirst(quietAttempts)[0]?.id ?? '',
        subscriptionId: quiet,
      });
      const page = json(await call(tenantB, 'GET', `/events/${eventId}/attempts?cursor=${foreign}`));
      expect(page).toEqual({ items: [mine] });
    });
  });

  describe('rejected requests', () => {
    const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const validId = 'att_01J0000000000000000000000A';
    const validSub = 'sub_01J0000000000000000000000A';
    const cases: [string, () => string, number, string, RegExp][] = [
      ['limit 0', () => `/subscriptions/${busy}/attempts?limit=0`, 422, 'validation_error', /^limit: /],
      ['limit 101', () => `/subscriptions/${busy}/attempts?limit=101`, 422, 'validation_error', /^limit: /],
      [
        'limit not a number',
        () => `/events/${eventId}/attempts?limit=ten`,
        422,
        'validation_error',
        /^limit: /,
      ],
      [
        'unknown query field',
        () => `/subscriptions/${busy}/attempts?page=2`,
        422,
        'validation_error',
        /page/,
      ],
      [
        'cursor not base64 JSON',
        () => `/subscriptions/${busy}/attempts?cursor=garbage`,
        400,
        'invalid_cursor',
        /cursor/,
      ],
      [
        'cursor with a malformed attempt id',
        () => `/subscriptions/${busy}/attempts?cursor=${cursorOf({ id: 'att_1', subscriptionId: busy })}`,
        400,
        'invalid_cursor',
        /cursor/,
      ],
      [
        'cursor with a malformed subscription id',
        () => `/events/${eventId}/attempts?cursor=${cursorOf({ id: validId, subscriptionId: 'sub_x' })}`,
        400,
        'invalid_cursor',
        /cursor/,
      ],
      [
        'cursor with an extra field',
        () =>
          `/events/${eventId}/attempts?cursor=${cursorOf({ id: validId, subscriptionId: validSub, pk: 'x' })}`,
        400,
        'invalid_cursor',
        /cursor/,
      ],
      [
        'cursor that is a JSON string',
        () => `/events/${eventId}/attempts?cursor=${cursorOf(validId)}`,
        400,
        'invalid_cursor',
        /cursor/,
      ],
      [
        "cursor from another subscription's listing",
        () => `/subscriptions/${busy}/attempts?cursor=${cursorOf({ id: validId, subscriptionId: quiet })}`,
        400,
        'invalid_cursor',
        /cursor/,
      ],
      [
        'unknown subscription',
        () => '/subscriptions/sub_00000000000000000000000000/attempts',
        404,
        'not_found',
        /does not exist/,
      ],
      ['malformed subscription id', () => '/subscriptions/nope/attempts', 404, 'not_found', /does not exist/],
      ['unknown event', () => '/events/evt-never/attempts', 404, 'not_found', /does not exist/],
      ['malformed event id', () => '/events/has%20space/attempts', 404, 'not_found', /does not exist/],
    ];

    it.each(cases.map(([name, path, status, code, message]) => ({ name, path, status, code, message })))(
      '$name → $status $code',
      async ({ path, status, code, message }) => {
        const response = await call(tenantA, 'GET', path());
        expect(response.statusCode).toBe(status);
        expect(response.headers['content-type']).toBe('application/json');
        expect(json(response).error.code).toBe(code);
        expect(json(response).error.message).toMatch(message);
      },
    );

    it('answers 404 for the attempts of an event past its retention', async () => {
      await events.claim(
        storedEvent({ tenantId: tenantA.tenantId, id: 'evt-expired', type: 'a' }),
        new Date(Date.now() - 31 * 86_400_000),
      );
      const response = await call(tenantA, 'GET', '/events/evt-expired/attempts');
      expect(response.statusCode).toBe(404);
    });

    it('answers 405 with the allowed method for other methods', async () => {
      const response = await call(tenantA, 'DELETE', `/subscriptions/${busy}/attempts`);
      expect(response.statusCode).toBe(405);
      expect(json(response).error.message).toMatch(/allowed: GET, HEAD$/);
      expect(response.headers.allow).toBe('GET, HEAD');
    });
  });
});
