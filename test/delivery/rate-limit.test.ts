import { setTimeout as sleep } from 'node:timers/promises';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_DELAY_SECONDS } from '../../lambdas/contract/delivery-message.js';
import { admitAttempt } from '../../lambdas/delivery/admission.js';
import { type RateGate, rateGate } from '../../lambdas/delivery/rate-limit.js';
import { logger } from '../../lambdas/platform/logger.js';
import { attemptCounterKey } from '../../lambdas/storage/keys.js';
import { RateCounters } from '../../lambdas/storage/rate-counters.js';
import type { StoredSubscription } from '../../lambdas/storage/subscription-model.js';
import { SubscriptionStore } from '../../lambdas/storage/subscriptions.js';
import { queueDepth } from '../../local/emulators/queue-metrics.js';
import { publishEvent } from '../support/events.js';
import { startReceiver } from '../support/receiver.js';
import { bearer, startTestService } from '../support/service.js';
import { subscribeReceiver } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

/** Most arrivals within any `windowMs` (a sliding window starting at each arrival), by the receiver's clock. */
function mostInAnyWindow(arrivals: readonly number[], windowMs: number): number {
  const sorted = [...arrivals].sort((a, b) => a - b);
  let most = 0;
  let end = 0;
  for (let start = 0; start < sorted.length; start++) {
    while (end < sorted.length && (sorted[end] as number) < (sorted[start] as number) + windowMs) end++;
    most = Math.max(most, end - start);
  }
  return most;
}

/**
 * A subscription's rate limit against a real receiver and several deliver invocations at once: a burst waits
 * its turn without attempts and arrives whole, never faster than the limit allows in any ten seconds; a
 * subscription without a limit pays nothing for it.
 */
describe('Function: deliver, a subscription’s rate limit', () => {
  let service: Service;
  let apiKey: string;
  const dynamoCalls: { command: string; table: string | undefined; key: string }[] = [];

  beforeAll(async () => {
    service = await startTestService();
    ({ apiKey } = await service.createTenant('rate-limited'));
    service.clients.db.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { TableName?: string; Key?: { pk?: unknown } };
        dynamoCalls.push({
          command: context.commandName ?? '',
          table: input.TableName,
          key: String(input.Key?.pk ?? ''),
        });
        return next(args);
      },
      { step: 'initialize' },
    );
  });
  afterAll(() => service.close());

  const publish = async (type: string, count: number) => {
    await Promise.all(
      Array.from({ length: count }, (_, n) => publishEvent(service.api, apiKey, { type, data: { n } })),
    );
    while ((await service.pollFanout()).received > 0);
  };
  /** `pollers` deliver invocations at once, each polling again as soon as it is done, until `done()`. */
  const deliverConcurrently = async (pollers: number, done: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    await Promise.all(
      Array.from({ length: pollers }, async () => {
        while (!done() && Date.now() < deadline) {
          if ((await service.pollDelivery()).received === 0) await sleep(20);
        }
      }),
    );
  };
  const eventIds = (receiver: Awaited<ReturnType<typeof startReceiver>>) =>
    new Set(receiver.received.map((delivery) => delivery.headers['webhook-id']));

  describe('the gate', () => {
    const AT = new Date(Date.UTC(2031, 0, 1, 0, 0, 0, 500));
    const gateDeps = (table = service.resources.tables.attempts) => ({
      attemptCounters: new RateCounters(service.clients.db, table),
      now: () => AT,
      random: () => 0.5,
    });
    const limited = (id: string, rateLimit: number) =>
      ({ tenantId: 'ten_gate', id, rateLimit }) as StoredSubscription;

    it('admits the first `rateLimit` of a second and sends the others to their turn, `rateLimit` a second', async () => {
      const deps = gateDeps();
      const gates: RateGate[] = [];
      for (let n = 0; n < 12; n++) gates.push(await rateGate(deps, limited('sub_turns', 3)));
      expect(gates.slice(0, 3)).toEqual([{ go: true }, { go: true }, { go: true }]);
      expect(gates.slice(3).every((gate) => !gate.go && gate.reason === 'rate_limited')).toBe(true);
      // With half a second of jitter, two come back in the next second, then three in each.
      expect(gates.slice(3).map((gate) => (gate.go ? 0 : gate.waitSeconds))).toEqual([
        1, 1, 2, 2, 2, 3, 3, 3, 4,
      ]);
      // Each second has its own counter, which DynamoDB's TTL removes a minute later.
      const second = Math.floor(AT.getTime() / 1000);
      const { Item } = await service.clients.db.send(
        new GetCommand({
          TableName: service.resources.tables.attempts,
          Key: attemptCounterKey('ten_gate', 'sub_turns', second),
        }),
      );
      expect(Item).toMatchObject({ count: 12, expiresAt: second + 60 });
      const next = { ...deps, now: () => new Date(AT.getTime() + 1_000) };
      expect(await rateGate(next, limited('sub_turns', 3))).toEqual({ go: true });
    });

    it('takes no slot while the circuit is open: that delivery would make no request', async () => {
      const deps = {
        ...gateDeps(),
        subscriptions: new SubscriptionStore(service.clients.db, service.resources.tables.subscriptions),
        attemptTimeoutMs: 1_000,
      };
      const open = {
        ...limited('sub_open', 1),
        circuitOpenUntil: new Date(AT.getTime() + 60_000).toISOString(),
      };
      const before = dynamoCalls.length;
      expect(await admitAttempt(deps, open, AT)).toMatchObject({ go: false, reason: 'circuit_open' });
      expect(dynamoCalls.slice(before)).toEqual([]);
      // Closed, the same subscription takes its one slot, and the next delivery is refused one.
      const closed = limited('sub_open', 1);
      expect(await admitAttempt(deps, closed, AT)).toEqual({ go: true });
      expect(await admitAttempt(deps, closed, AT)).toMatchObject({ go: false, reason: 'rate_limited' });
    });

    it('spreads those too far behind over the last half of SQS’s longest delay', async () => {
      const second = Math.floor(AT.getTime() / 1000);
      await service.clients.db.send(
        new PutCommand({
          TableName: service.resources.tables.attempts,
          Item: { ...attemptCounterKey('ten_gate', 'sub_far', second), count: 5_000 },
        }),
      );
      expect(await rateGate(gateDeps(), limited('sub_far', 1))).toEqual({
        go: false,
        reason: 'rate_limited',
        waitSeconds: (MAX_DELAY_SECONDS * 3) / 4,
      });
    });

    it('waits, and logs an error, when the counter cannot be written (fails closed)', async () => {
      const errors = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
      try {
        const gate = await rateGate(gateDeps('no-such-table'), limited('sub_closed', 5));
        expect(gate).toEqual({ go: false, reason: 'rate_limited', waitSeconds: 2 });
        expect(errors).toHaveBeenCalledWith(
          'rate limit counter unavailable; delivery waits',
          expect.objectContaining({ subscriptionId: 'sub_closed' }),
        );
      } finally {
        errors.mockRestore();
      }
    });
  });

  it('makes no DynamoDB call for a subscription without a limit', async () => {
    const receiver = await startReceiver();
    try {
      const created = await subscribeReceiver(service.api, apiKey, receiver, { eventTypes: ['free.*'] });
      expect(created.rateLimit).toBeNull();
      await publish('free.sent', 10);
      dynamoCalls.length = 0;
      await deliverConcurrently(3, () => receiver.received.length >= 10, 10_000);
      expect(eventIds(receiver).size).toBe(10);
      // What a healthy delivery always makes: the batch's subscription reads and its attempt records.
      expect(dynamoCalls.filter((call) => call.command === 'UpdateItemCommand')).toEqual([]);
      expect(dynamoCalls.filter((call) => call.key.startsWith('rate#'))).toEqual([]);
      expect(new Set(dynamoCalls.map((call) => call.command))).toEqual(
        new Set(['BatchGetItemCommand', 'BatchWriteItemCommand']),
      );
    } finally {
      await receiver.close();
    }
  });

  it('holds a burst to 10 × the limit (+10%) in any 10 s across concurrent deliverers, and delivers all of it', async () => {
    const LIMIT = 2;
    const EVENTS = 30;
    const receiver = await startReceiver();
    try {
      const { id } = await subscribeReceiver(service.api, apiKey, receiver, {
        eventTypes: ['limited.*'],
        rateLimit: LIMIT,
      });
      await publish('limited.sent', EVENTS);
      dynamoCalls.length = 0;
      await deliverConcurrently(4, () => eventIds(receiver).size >= EVENTS, 30_000);
      const takes = dynamoCalls.filter((call) => call.key.startsWith('rate#'));

      // All of it, once each, and nothing left behind or dead-lettered.
      expect(eventIds(receiver).size).toBe(EVENTS);
      expect(receiver.received).toHaveLength(EVENTS);
      const { url, deadLetterUrl } = service.resources.queues.delivery;
      expect(await queueDepth(service.clients.sqs, url)).toEqual({ visible: 0, inFlight: 0 });
      expect(await queueDepth(service.clients.sqs, deadLetterUrl)).toEqual({ visible: 0, inFlight: 0 });
      // At the receiver's own clock, never more than 10 × 2 + 10% in any ten seconds.
      const arrivals = receiver.received.map((delivery) => delivery.receivedAt);
      expect(mostInAnyWindow(arrivals, 10_000)).toBeLessThanOrEqual(LIMIT * 10 * 1.1);
      // The burst was held back: at the limit it needs (30 - 2) / 2 seconds after its first second.
      expect(Math.max(...arrivals) - Math.min(...arrivals)).toBeGreaterThanOrEqual(
        ((EVENTS - LIMIT) / LIMIT - 1) * 1000,
      );
      // Waiting cost no attempt: each event's only attempt is its first.
      const attempts = JSON.parse(
        (
          await service.api({
            method: 'GET',
            path: `/subscriptions/${id}/attempts?limit=100`,
            headers: bearer(apiKey),
          })
        ).body,
      ) as { items: { attempt: number; result: string }[] };
      expect(attempts.items).toHaveLength(EVENTS);
      expect(attempts.items.every((item) => item.attempt === 1 && item.result === 'delivered')).toBe(true);
      // Each attempt took its slot with one write of a counter, refused deliveries too.
      expect(takes.length).toBeGreaterThan(EVENTS);
      expect(new Set(takes.map((take) => `${take.command} ${take.table}`))).toEqual(
        new Set([`UpdateItemCommand ${service.resources.tables.attempts}`]),
      );
    } finally {
      await receiver.close();
    }
  }, 40_000);
});
