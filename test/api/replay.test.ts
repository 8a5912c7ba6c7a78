import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseFanoutJob } from '../../lambdas/fanout/jobs.js';
import { EventStore } from '../../lambdas/storage/events.js';
import { storedEvent } from '../support/events.js';
import { bearer, startTestService } from '../support/service.js';
import { createSubscription } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
type Tenant = Awaited<ReturnType<Service['createTenant']>>;

describe('API: replay (POST /events/{id}/replay, POST /subscriptions/{id}/replay)', () => {
  let service: Service;
  let tenantA: Tenant;
  let tenantB: Tenant;
  let active: string;
  let disabled: string;
  let unsubscribed: string;
  let otherTenants: string;
  const eventId = 'evt-replay-1';

  beforeAll(async () => {
    service = await startTestService();
    tenantA = await service.createTenant('replay-a');
    tenantB = await service.createTenant('replay-b');
    active = await subscribe(tenantA);
    disabled = await subscribe(tenantA);
    unsubscribed = await subscribe(tenantA);
    expect(
      (await call(tenantA, 'PATCH', `/subscriptions/${unsubscribed}`, { eventTypes: ['order.*'] }))
        .statusCode,
    ).toBe(200);
    expect(
      (await call(tenantA, 'PATCH', `/subscriptions/${disabled}`, { status: 'disabled' })).statusCode,
    ).toBe(200);
    otherTenants = await subscribe(tenantB);
    const events = new EventStore(service.clients.db, service.resources.tables.events, 30);
    const stored = (tenant: Tenant, id: string, at = new Date()) =>
      events.claim(
        storedEvent({
          tenantId: tenant.tenantId,
          id,
          type: 'invoice.paid',
          timestamp: at.toISOString(),
          data: { amount: 5 },
        }),
        at,
      );
    await stored(tenantA, eventId);
    await stored(tenantA, 'evt-expired', new Date(Date.now() - 31 * 86_400_000));
  });
  afterAll(() => service.close());
  // Each test sees only the jobs its own requests queued.
  beforeEach(async () => {
    await drainFanout();
  });

  const call = (tenant: Tenant, method: string, path: string, body?: unknown) =>
    service.api({
      method,
      path,
      headers: bearer(tenant.apiKey),
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  const json = (response: { body: string }) => JSON.parse(response.body);
  const subscribe = async (tenant: Tenant) =>
    (await createSubscription(service.api, tenant.apiKey, { eventTypes: ['invoice.*'] })).id;
  /** Receives and deletes everything on the fan-out queue: the jobs queued since the last drain. */
  const drainFanout = async () => {
    const bodies: unknown[] = [];
    for (;;) {
      const { Messages = [] } = await service.clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: service.resources.queues.fanout.url,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 30,
        }),
      );
      if (Messages.length === 0) return bodies;
      for (const message of Messages) {
        bodies.push(JSON.parse(message.Body ?? ''));
        await service.clients.sqs.send(
          new DeleteMessageCommand({
            QueueUrl: service.resources.queues.fanout.url,
            ReceiptHandle: message.ReceiptHandle,
          }),
        );
      }
    }
  };

  describe('POST /events/{id}/replay', () => {
    it.each([
      ['no body', undefined],
      ['an empty object', {}],
    ])('with %s queues a replay to every matching subscription', async (_name, body) => {
      const response = await call(tenantA, 'POST', `/events/${eventId}/replay`, body);
      expect(response.statusCode).toBe(202);
      expect(json(response)).toEqual({ eventId });
      const jobs = await drainFanout();
      expect(jobs).toEqual([
        {
          kind: 'fanout.job',
          job: 'event',
          tenantId: tenantA.tenantId,
          eventId,
          eventType: 'invoice.paid',
          replay: true,
        },
      ]);
      // The fan-out function's own parser accepts it.
      expect(parseFanoutJob(jobs[0]).job).toBe('event');
    });

    it('with a subscriptionId queues a replay to that subscription only', async () => {
      const response = await call(tenantA, 'POST', `/events/${eventId}/replay`, { subscriptionId: active });
      expect(response.statusCode).toBe(202);
      expect(json(response)).toEqual({ eventId, subscriptionId: active });
      const jobs = await drainFanout();
      expect(jobs).toEqual([
        {
          kind: 'fanout.job',
          job: 'event-subscription',
          tenantId: tenantA.tenantId,
          eventId,
          subscriptionId: active,
        },
      ]);
      expect(parseFanoutJob(jobs[0]).job).toBe('event-subscription');
    });
  });

  describe('POST /subscriptions/{id}/replay', () => {
    it('queues a replay of everything since a time', async () => {
      const since = new Date(Date.now() - 3_600_000).toISOString();
      const response = await call(tenantA, 'POST', `/subscriptions/${active}/replay`, { since });
      expect(response.statusCode).toBe(202);
      expect(json(response)).toEqual({ subscriptionId: active, since });
      const jobs = await drainFanout();
      expect(jobs).toEqual([
        {
          kind: 'fanout.job',
          job: 'subscription-since',
          tenantId: tenantA.tenantId,
          subscriptionId: active,
          since,
        },
      ]);
      expect(parseFanoutJob(jobs[0]).job).toBe('subscription-since');
    });

    it('accepts a time with an offset and answers it in UTC', async () => {
      const response = await call(tenantA, 'POST', `/subscriptions/${active}/replay`, {
        since: '2026-01-01T02:30:00+02:00',
      });
      expect(response.statusCode).toBe(202);
      expect(json(response).since).toBe('2026-01-01T00:30:00.000Z');
      expect(await drainFanout()).toEqual([expect.objectContaining({ since: '2026-01-01T00:30:00.000Z' })]);
    });
  });

  describe('tenant isolation', () => {
    it("answers 404 for another tenant's event or subscription and queues nothing", async () => {
      const since = new Date(Date.now() - 60_000).toISOString();
      const attempts: [Tenant, string, unknown][] = [
        [tenantB, `/events/${eventId}/replay`, undefined],
        [tenantB, `/events/${eventId}/replay`, { subscriptionId: otherTenants }],
        [tenantB, `/events/${eventId}/replay`, { subscriptionId: active }],
        [tenantA, `/events/${eventId}/replay`, { subscriptionId: otherTenants }],
        [tenantB, `/subscriptions/${active}/replay`, { since }],
        [tenantA, `/subscriptions/${otherTenants}/replay`, { since }],
      ];
      for (const [tenant, path, body] of attempts) {
        const response = await call(tenant, 'POST', path, body);
        expect(response.statusCode, `${path} ${JSON.stringify(body)}`).toBe(404);
        expect(json(response).error.code).toBe('not_found');
      }
      expect(await drainFanout()).toEqual([]);
    });
  });

  describe('rejected requests queue nothing', () => {
    const past = '2026-01-01T00:00:00Z';
    // Bodies are thunks too: the subscription ids exist only once beforeAll has run.
    const cases: [string, string, () => string, () => unknown, number, string, RegExp][] = [
      [
        'unknown event',
        'POST',
        () => '/events/evt-never/replay',
        () => undefined,
        404,
        'not_found',
        /does not exist/,
      ],
      [
        'expired event',
        'POST',
        () => '/events/evt-expired/replay',
        () => undefined,
        404,
        'not_found',
        /retention/,
      ],
      [
        'malformed event id',
        'POST',
        () => '/events/a%20b/replay',
        () => undefined,
        404,
        'not_found',
        /does not exist/,
      ],
      [
        'malformed JSON',
        'POST',
        () => `/events/${eventId}/replay`,
        () => '{"subscriptionId":',
        400,
        'invalid_json',
        /JSON/,
      ],
      [
        'unknown field',
        'POST',
        () => `/events/${eventId}/replay`,
        () => ({ subscription: 'sub_x' }),
        422,
        'validation_error',
        /subscription/,
      ],
      [
        'malformed subscriptionId',
        'POST',
        () => `/events/${eventId}/replay`,
        () => ({ subscriptionId: 'abc' }),
        422,
        'validation_error',
        /^subscriptionId: must be a subscription id/,
      ],
      ['array body', 'POST', () => `/events/${eventId}/replay`, () => [], 422, 'validation_error', /^body: /],
      [
        'unknown subscriptionId',
        'POST',
        () => `/events/${eventId}/replay`,
        () => ({ subscriptionId: 'sub_00000000000000000000000000' }),
        404,
        'not_found',
        /subscription .* does not exist/,
      ],
      [
        'a subscription that does not subscribe to the event type',
        'POST',
        () => `/events/${eventId}/replay`,
        () => ({ subscriptionId: unsubscribed }),
        422,
        'validation_error',
        /does not subscribe to events of type invoice\.paid/,
      ],
      [
        'disabled subscriptionId',
        'POST',
        () => `/events/${eventId}/replay`,
        () => ({ subscriptionId: disabled }),
        409,
        'conflict',
        /disabled/,
      ],
      [
        'since: no body',
        'POST',
        () => `/subscriptions/${active}/replay`,
        () => undefined,
        400,
        'invalid_json',
        /JSON/,
      ],
      [
        'since: missing',
        'POST',
        () => `/subscriptions/${active}/replay`,
        () => ({}),
        422,
        'validation_error',
        /^since: /,
      ],
      [
        'since: not a date-time',
        'POST',
        () => `/subscriptions/${active}/replay`,
        () => ({ since: 'yesterday' }),
        422,
        'validation_error',
        /^since: must be an ISO 8601 date-time/,
      ],
      [
        'since: a date without a time',
        'POST',
        () => `/subscriptions/${active}/replay`,
        () => ({ since: '2026-01-01' }),
        422,
        'validation_error',
        /^since: must be an ISO 8601 date-time/,
      ],
      [
        'since: a number',
        'POST',
        () => `/subscriptions/${active}/replay`,
        () => ({ since: 1767225600000 }),
        422,
        'validation_error',
        /^since: /,
      ],
      [
        'since: in the future',
        'POST',
        () => `/subscriptions/${active}/replay`,
        () => ({ since: new Date(Date.now() + 3_600_000).toISOString() }),
        422,
        'validation_error',
        /^since: must not be in the future/,
      ],
      [
        'since: unknown field',
        'POST',
        () => `/subscriptions/${active}/replay`,
        () => ({ since: past, subscriptionId: active }),
        422,
        'validation_error',
        /subscriptionId/,
      ],
      [
        'since: unknown subscription',
        'POST',
        () => '/subscriptions/sub_00000000000000000000000000/replay',
        () => ({ since: past }),
        404,
        'not_found',
        /does not exist/,
      ],
      [
        'since: disabled subscription',
        'POST',
        () => `/subscriptions/${disabled}/replay`,
        () => ({ since: past }),
        409,
        'conflict',
        /disabled/,
      ],
      [
        'GET on a replay route',
        'GET',
        () => `/events/${eventId}/replay`,
        () => undefined,
        405,
        'method_not_allowed',
        /POST/,
      ],
    ];

    it.each(
      cases.map(([name, method, path, body, status, code, message]) => ({
        name,
        method,
        path,
        body,
        status,
        code,
        message,
      })),
    )('$name → $status $code', async ({ method, path, body, status, code, message }) => {
      const response = await call(tenantA, method, path(), body());
      expect(response.statusCode).toBe(status);
      expect(response.headers['content-type']).toBe('application/json');
      expect(json(response).error.code).toBe(code);
      expect(json(response).error.message).toMatch(message);
      expect(await drainFanout()).toEqual([]);
    });

    it('refuses a body that is not JSON by content type', async () => {
      const response = await service.api({
        method: 'POST',
        path: `/events/${eventId}/replay`,
        headers: { authorization: `Bearer ${tenantA.apiKey}`, 'content-type': 'text/plain' },
        body: '{}',
      });
      expect(response.statusCode).toBe(415);
      expect(json(response).error.code).toBe('unsupported_media_type');
      expect(await drainFanout()).toEqual([]);
    });
  });
});
