import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deliveryMessage, INLINE_EVENT_MAX_BYTES } from '../../lambdas/contract/delivery-message.js';
import type { AttemptLogMode } from '../../lambdas/contract/tables.js';
import { logger } from '../../lambdas/platform/logger.js';
import { ATTEMPT_ID_PATTERN, AttemptLog, RESPONSE_BODY_LIMIT_BYTES } from '../../lambdas/storage/attempts.js';
import { waitFor } from '../../local/wait.js';
import { publishEvent } from '../support/events.js';
import { bearer, startTestService } from '../support/service.js';
import { createSubscription } from '../support/subscriptions.js';

type Reply = (request: IncomingMessage, response: ServerResponse) => void;

/** A receiver that answers each request with `reply(n)`, n counting requests to the same path from 1. */
async function startEndpoint(reply: (n: number) => Reply) {
  const counts = new Map<string, number>();
  const server = createServer((request, response) => {
    const n = (counts.get(request.url ?? '') ?? 0) + 1;
    counts.set(request.url ?? '', n);
    request.resume();
    reply(n)(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path: string) => `http://127.0.0.1:${port}/${path}`,
    requests: (path: string) => counts.get(`/${path}`) ?? 0,
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const answer =
  (status: number, body = ''): Reply =>
  (_request, response) =>
    response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);

/** A fresh service with the given attempt-log mode, and what the tests need to drive and read it. */
async function attemptLogService(attemptLog: AttemptLogMode, options: { now?: () => Date } = {}) {
  // Three attempts one second apart, no jitter.
  const service = await startTestService({
    retryScheduleSeconds: [0, 1, 1],
    random: () => 0.5,
    attemptTimeoutMs: 2_000,
    attemptLog,
    ...options,
  });
  const { apiKey, tenantId } = await service.createTenant(`attempts-${attemptLog}`);
  const attempts = new AttemptLog(service.clients.db, service.resources.tables.attempts);
  return {
    service,
    tenantId,
    /** Each test subscribes to its own event type, so its events reach only its subscriptions. */
    async subscribe(url: string, eventType: string) {
      return (await createSubscription(service.api, apiKey, { url, eventTypes: [eventType] })).id;
    },
    async publish(type: string, data: Record<string, unknown> = { n: 1 }) {
      const id = await publishEvent(service.api, apiKey, { type, data });
      await service.pollFanout();
      return id;
    },
    disable: (id: string) =>
      service.api({
        method: 'PATCH',
        path: `/subscriptions/${id}`,
        headers: bearer(apiKey),
        body: '{"status":"disabled"}',
      }),
    async attemptsOf(subscriptionId: string) {
      return (await attempts.listBySubscription(tenantId, subscriptionId, { limit: 50 })).items;
    },
    attemptsOfEvent: async (eventId: string) =>
      (await attempts.listByEvent(tenantId, eventId, { limit: 50 })).items,
    /** Polls until a delivery succeeds: the retry comes back after its one-second step. */
    untilDelivered: () =>
      waitFor(
        async () => {
          const result = await service.pollDelivery(1);
          return result.succeeded > 0 ? result : undefined;
        },
        { what: 'a retried delivery to succeed' },
      ),
  };
}

describe('Function: deliver, attempt log "all"', () => {
  let clockOffsetMs = 0;
  let ctx: Awaited<ReturnType<typeof attemptLogService>>;
  let bodyCancelled = false;
  let endpoint: Awaited<ReturnType<typeof startEndpoint>>;

  beforeAll(async () => {
    ctx = await attemptLogService('all', { now: () => new Date(Date.now() + clockOffsetMs) });
    endpoint = await startEndpoint((n) => (request, response) => {
      switch (request.url) {
        case '/flaky':
          return n === 1
            ? answer(500, 'x'.repeat(3_000))(request, response)
            : answer(200, 'ok')(request, response);
        case '/euros':
          return answer(200, '€'.repeat(400))(request, response);
        case '/endless': {
          // A body that never ends: only a reader that stops and lets go finishes the attempt in time.
          response.on('close', () => {
            bodyCancelled = true;
          });
          response.writeHead(200);
          const pump = () => {
            while (!response.destroyed && response.write('y'.repeat(16_384)));
            if (!response.destroyed) response.once('drain', pump);
          };
          return pump();
        }
        default:
          return answer(204)(request, response);
      }
    });
  });
  afterAll(async () => {
    await endpoint.close();
    await ctx.service.close();
  });

  it('records every attempt: ids, times, status, latency, the first 1 KB of the body, when the next is due', async () => {
    const subscriptionId = await ctx.subscribe(endpoint.url('flaky'), 'test.flaky');
    const eventId = await ctx.publish('test.flaky');
    expect(await ctx.service.pollDelivery()).toMatchObject({ received: 1, failed: 1 });
    await ctx.untilDelivered();

    const [second, first, ...none] = await ctx.attemptsOf(subscriptionId);
    expect(none).toEqual([]);
    expect(first).toEqual({
      id: expect.stringMatching(ATTEMPT_ID_PATTERN),
      eventId,
      subscriptionId,
      attempt: 1,
      attemptedAt: expect.any(String),
      result: 'failed',
      statusCode: 500,
      latencyMs: expect.any(Number),
      responseBody: 'x'.repeat(RESPONSE_BODY_LIMIT_BYTES),
      nextAttemptAt: expect.any(String),
    });
    // The one-second step, counted from the attempt.
    expect(Date.parse(first?.nextAttemptAt ?? '') - Date.parse(first?.attemptedAt ?? '')).toBe(1_000);
    expect(second).toEqual({
      id: expect.stringMatching(ATTEMPT_ID_PATTERN),
      eventId,
      subscriptionId,
      attempt: 2,
      attemptedAt: expect.any(String),
      result: 'delivered',
      statusCode: 200,
      latencyMs: expect.any(Number),
      responseBody: 'ok',
    });
    expect(Date.parse(second?.attemptedAt ?? '')).toBeGreaterThan(Date.parse(first?.attemptedAt ?? ''));
    expect(await ctx.attemptsOfEvent(eventId)).toEqual([second, first]);
  });

  it('keeps whole characters when the 1 KB limit falls inside one', async () => {
    const subscriptionId = await ctx.subscribe(endpoint.url('euros'), 'test.euros');
    await ctx.publish('test.euros');
    await ctx.service.pollDelivery();
    // "€" is 3 bytes in UTF-8: 341 of them fit in 1024 bytes, and the cut one is dropped, not mangled.
    const [attempt] = await ctx.attemptsOf(subscriptionId);
    expect(attempt?.responseBody).toBe('€'.repeat(341));
  });

  it('reads no more than 1 KB of an endless body, then lets go of it', async () => {
    const subscriptionId = await ctx.subscribe(endpoint.url('endless'), 'test.endless');
    await ctx.publish('test.endless');
    expect(await ctx.service.pollDelivery()).toMatchObject({ received: 1, succeeded: 1 });
    const [attempt] = await ctx.attemptsOf(subscriptionId);
    // Reading the whole body would have run into the 2 s attempt timeout and lost the snippet.
    expect(attempt).toMatchObject({
      result: 'delivered',
      responseBody: 'y'.repeat(RESPONSE_BODY_LIMIT_BYTES),
    });
    await waitFor(() => (bodyCancelled ? true : undefined), {
      what: 'the receiver to see the body abandoned',
    });
  });

  it('marks deliveries that a replay asked for', async () => {
    const subscriptionId = await ctx.subscribe(endpoint.url('replayed'), 'test.replayed');
    const eventId = await ctx.publish('test.replayed');
    await ctx.service.pollDelivery();
    await ctx.service.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: ctx.service.resources.queues.delivery.url,
        MessageBody: JSON.stringify(deliveryMessage(ctx.tenantId, subscriptionId, eventId, true)),
      }),
    );
    await ctx.service.pollDelivery();
    const [replayed, original] = await ctx.attemptsOf(subscriptionId);
    expect(replayed).toMatchObject({ eventId, result: 'delivered', replay: true });
    expect(original).toMatchObject({ eventId, result: 'delivered' });
    expect(original).not.toHaveProperty('replay');
  });

  it('records no attempt for a skipped delivery', async () => {
    const subscriptionId = await ctx.subscribe(endpoint.url('skipped'), 'test.skipped');
    await ctx.publish('test.skipped');
    await ctx.disable(subscriptionId);
    expect(await ctx.service.pollDelivery()).toMatchObject({ received: 1, succeeded: 1 });
    expect(endpoint.requests('skipped')).toBe(0);
    expect(await ctx.attemptsOf(subscriptionId)).toEqual([]);
  });

  it('skips and logs a delivery whose stored event has expired or never existed', async () => {
    const warn = vi.spyOn(logger, 'warn');
    const subscriptionId = await ctx.subscribe(endpoint.url('expired'), 'test.expired');
    // Too large to ride in its messages, so they refer to the stored event (claim-check), and a missing event
    // cannot be delivered.
    const eventId = await ctx.publish('test.expired', { blob: 'x'.repeat(INLINE_EVENT_MAX_BYTES) });
    await ctx.service.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: ctx.service.resources.queues.delivery.url,
        MessageBody: JSON.stringify(deliveryMessage(ctx.tenantId, subscriptionId, 'evt_never_stored')),
      }),
    );
    // Past the 30 days the events table keeps an event.
    clockOffsetMs = 31 * 86_400_000;
    try {
      expect(await ctx.service.pollDelivery()).toMatchObject({ received: 2, succeeded: 2, failed: 0 });
    } finally {
      clockOffsetMs = 0;
    }
    expect(endpoint.requests('expired')).toBe(0);
    expect(await ctx.attemptsOf(subscriptionId)).toEqual([]);
    const skipped = warn.mock.calls.filter(([message]) => message === 'webhook skipped');
    expect(skipped.map(([, fields]) => fields)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ eventId, subscriptionId, reason: 'event_expired' }),
        expect.objectContaining({ eventId: 'evt_never_stored', subscriptionId, reason: 'event_expired' }),
      ]),
    );
    warn.mockRestore();
  });
});

describe('Function: deliver, attempt log "failures"', () => {
  let ctx: Awaited<ReturnType<typeof attemptLogService>>;
  let endpoint: Awaited<ReturnType<typeof startEndpoint>>;

  beforeAll(async () => {
    ctx = await attemptLogService('failures');
    endpoint = await startEndpoint(
      (n) => (request, response) =>
        request.url === '/flaky' && n === 1
          ? answer(500, 'busy')(request, response)
          : answer(200, 'ok')(request, response),
    );
  });
  afterAll(async () => {
    await endpoint.close();
    await ctx.service.close();
  });

  it('records failures and the success that ends them, not first-time successes', async () => {
    const healthy = await ctx.subscribe(endpoint.url('healthy'), 'test.both');
    const flaky = await ctx.subscribe(endpoint.url('flaky'), 'test.both');
    await ctx.publish('test.both');
    expect(await ctx.service.pollDelivery()).toMatchObject({ received: 2, succeeded: 1, failed: 1 });
    await ctx.untilDelivered();

    expect(endpoint.requests('healthy')).toBe(1);
    expect(await ctx.attemptsOf(healthy)).toEqual([]);
    expect(await ctx.attemptsOf(flaky)).toEqual([
      expect.objectContaining({ attempt: 2, result: 'delivered', responseBody: 'ok' }),
      expect.objectContaining({ attempt: 1, result: 'failed', statusCode: 500, responseBody: 'busy' }),
    ]);
  });
});

describe('Function: deliver, attempt log "off"', () => {
  let ctx: Awaited<ReturnType<typeof attemptLogService>>;
  let endpoint: Awaited<ReturnType<typeof startEndpoint>>;

  beforeAll(async () => {
    ctx = await attemptLogService('off');
    endpoint = await startEndpoint((n) => answer(n === 1 ? 500 : 204));
  });
  afterAll(async () => {
    await endpoint.close();
    await ctx.service.close();
  });

  it('records nothing, while deliveries and retries work as ever', async () => {
    const subscriptionId = await ctx.subscribe(endpoint.url('hook'), 'test.hook');
    await ctx.publish('test.hook');
    expect(await ctx.service.pollDelivery()).toMatchObject({ received: 1, failed: 1 });
    await ctx.untilDelivered();
    expect(endpoint.requests('hook')).toBe(2);
    expect(await ctx.attemptsOf(subscriptionId)).toEqual([]);
  });
});
