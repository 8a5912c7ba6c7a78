import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { applyHealthChange, healthChange } from '../../lambdas/delivery/health.js';
import type {
  OperationalEventDetail,
  OperationalEventType,
} from '../../lambdas/delivery/operational-events.js';
import { logger } from '../../lambdas/platform/logger.js';
import { AttemptLog } from '../../lambdas/storage/attempts.js';
import { SubscriptionStore } from '../../lambdas/storage/subscriptions.js';
import { peekAll } from '../../local/emulators/queue-metrics.js';
import { waitFor } from '../../local/wait.js';
import { publishEvent } from '../support/events.js';
import { startReceiver } from '../support/receiver.js';
import { bearer, startTestService } from '../support/service.js';
import { createSubscription } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

describe('Function: deliver, endpoint health', () => {
  // Four attempts a second apart; a subscription failing for a minute is disabled. The deliver clock runs
  // `clockOffsetMs` ahead of real time, so a test can let the window pass between two attempts without
  // waiting for it, while attempts a second apart stay well within it.
  const schedule = [0, 1, 1, 1];
  let clockOffsetMs = 0;
  let service: Service;
  let apiKey: string;
  let tenantId: string;
  let attempts: AttemptLog;

  beforeAll(async () => {
    service = await startTestService({
      retryScheduleSeconds: schedule,
      random: () => 0.5,
      autoDisableAfterSeconds: 60,
      now: () => new Date(Date.now() + clockOffsetMs),
    });
    ({ apiKey, tenantId } = await service.createTenant('health'));
    attempts = new AttemptLog(service.clients.db, service.resources.tables.attempts);
  });
  afterAll(() => service.close());
  afterEach(() => {
    clockOffsetMs = 0;
  });

  const subscribe = (url: string, eventType: string) =>
    createSubscription(service.api, apiKey, { url, eventTypes: [eventType] });
  const publish = async (type: string) => {
    const id = await publishEvent(service.api, apiKey, { type, data: {} });
    await service.pollFanout();
    return id;
  };
  const getSubscription = async (id: string) =>
    JSON.parse(
      (await service.api({ method: 'GET', path: `/subscriptions/${id}`, headers: bearer(apiKey) })).body,
    );
  const operationalEventsOf = (subscriptionId: string) =>
    service.operationalEvents
      .filter((event) => (event.detail as { subscriptionId: string }).subscriptionId === subscriptionId)
      .map((event) => ({ type: event['detail-type'], detail: event.detail as Record<string, unknown> }));
  /** Polls until `count` retried deliveries have been handled, whatever their result. */
  const untilHandled = async (count: number) => {
    let handled = 0;
    await waitFor(
      async () => {
        handled += (await service.pollDelivery(1)).received;
        return handled >= count ? true : undefined;
      },
      { what: `${count} retried deliveries` },
    );
  };

  it('reports a subscription failing once, however many attempts fail, then recovered on its first success', async () => {
    const receiver = await startReceiver({ status: 500 });
    const subscription = await subscribe(receiver.url, 'health.recovers');
    receiver.useSecret(subscription.secret);
    // Two deliveries in one batch fail together: only one of them records the start of the failure run.
    const eventIds = [await publish('health.recovers'), await publish('health.recovers')];
    expect(await service.pollDelivery()).toMatchObject({ received: 2, failed: 2 });

    const [failing, ...more] = operationalEventsOf(subscription.id);
    expect(more).toEqual([]);
    expect(failing).toEqual({
      type: 'webhook.subscription.failing',
      detail: {
        tenantId,
        subscriptionId: subscription.id,
        endpoint: new URL(receiver.url).origin,
        failingSince: expect.any(String),
        eventId: expect.toBeOneOf(eventIds),
        at: expect.any(String),
      },
    });
    const failingSince = failing?.detail.failingSince;
    expect(failing?.detail.at).toBe(failingSince);
    expect(await getSubscription(subscription.id)).toMatchObject({ status: 'active', failingSince });

    receiver.respondWith(204);
    await untilHandled(2);
    expect(receiver.received.filter((delivery) => delivery.status === 204)).toHaveLength(2);
    expect(operationalEventsOf(subscription.id)).toEqual([
      failing,
      {
        type: 'webhook.subscription.recovered',
        detail: expect.objectContaining({ subscriptionId: subscription.id, failingSince }),
      },
    ]);
    const recovered = await getSubscription(subscription.id);
    expect(recovered.status).toBe('active');
    expect(recovered).not.toHaveProperty('failingSince');
    await receiver.close();
  });

  it('reports a 410 disable and records its attempt even when removing the routes fails; the routes left behind only cost skipped deliveries', async () => {
    const receiver = await startReceiver({ status: 410 });
    const { id } = await subscribe(receiver.url, 'gone.routes');
    const error = vi.spyOn(logger, 'error');
    // The route clean-up's BatchWriteItem is throttled past the SDK's retries, as DynamoDB may do.
    service.clients.db.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { RequestItems?: Record<string, { DeleteRequest?: unknown }[]> };
        if (
          Object.values(input.RequestItems ?? {}).some((requests) => requests.some((r) => r.DeleteRequest))
        ) {
          throw new ProvisionedThroughputExceededException({ message: 'throttled', $metadata: {} });
        }
        return next(args);
      },
      { step: 'initialize', name: 'throttleRouteDeletes' },
    );
    let eventId: string;
    try {
      eventId = await publish('gone.routes');
      expect(await service.pollDelivery()).toMatchObject({ received: 1, succeeded: 1, failed: 0 });
    } finally {
      service.clients.db.middlewareStack.remove('throttleRouteDeletes');
    }
    expect(await getSubscription(id)).toMatchObject({ status: 'disabled', disabledReason: 'endpoint_gone' });
    expect(operationalEventsOf(id).map((event) => event.type)).toEqual(['webhook.subscription.disabled']);
    expect((await attempts.listBySubscription(tenantId, id, { limit: 10 })).items).toEqual([
      expect.objectContaining({ eventId, statusCode: 410, result: 'failed' }),
    ]);
    expect(error).toHaveBeenCalledWith(
      'routes left behind; deliveries through them will be skipped',
      expect.objectContaining({ subscriptionId: id, filters: ['gone.routes'] }),
    );
    error.mockRestore();

    // The stale route still queues the next event for it, and deliver skips it without a request.
    await publish('gone.routes');
    expect(await service.pollDelivery()).toMatchObject({ received: 1, succeeded: 1 });
    expect(receiver.received).toHaveLength(1);
    await receiver.close();
  });

  it('does not retry a 410 whose disable could not be written; the next 410 disables', async () => {
    const receiver = await startReceiver({ status: 410 });
    const { id } = await subscribe(receiver.url, 'gone.unwritten');
    const error = vi.spyOn(logger, 'error');
    // The subscription's rewrite is throttled past the SDK's retries, once.
    let throttled = false;
    service.clients.db.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { TableName?: string };
        if (
          !throttled &&
          context.commandName === 'PutItemCommand' &&
          input.TableName === service.resources.tables.subscriptions
        ) {
          throttled = true;
          throw new ProvisionedThroughputExceededException({ message: 'throttled', $metadata: {} });
        }
        return next(args);
      },
      { step: 'initialize', name: 'throttleDisable' },
    );
    try {
      const first = await publish('gone.unwritten');
      // Dropped, not retried, though the subscription is still active.
      expect(await service.pollDelivery()).toMatchObject({ received: 1, succeeded: 1, failed: 0 });
      expect(throttled).toBe(true);
      expect(await getSubscription(id)).toMatchObject({ status: 'active' });
      expect((await attempts.listBySubscription(tenantId, id, { limit: 10 })).items).toEqual([
        expect.objectContaining({ eventId: first, statusCode: 410 }),
      ]);
      expect(error).toHaveBeenCalledWith(
        'subscription health not updated',
        expect.objectContaining({ subscriptionId: id, change: 'disable' }),
      );
    } finally {
      service.clients.db.middlewareStack.remove('throttleDisable');
      error.mockRestore();
    }
    await publish('gone.unwritten');
    expect(await service.pollDelivery()).toMatchObject({ received: 1, succeeded: 1 });
    expect(await getSubscription(id)).toMatchObject({ status: 'disabled', disabledReason: 'endpoint_gone' });
    expect(receiver.received).toHaveLength(2);
    expect(operationalEventsOf(id).map((event) => event.type)).toEqual(['webhook.subscription.disabled']);
    await receiver.close();
  });

  it('disables a subscription failing for longer than autoDisableAfterSeconds and drops its message; PATCH active re-enables it', async () => {
    const receiver = await startReceiver({ status: 500 });
    const subscription = await subscribe(receiver.url, 'health.gives-up');
    receiver.useSecret(subscription.secret);
    const eventId = await publish('health.gives-up');

    // Attempt 1 starts the failure run; attempt 2, within the window, changes nothing.
    expect(await service.pollDelivery()).toMatchObject({ received: 1, failed: 1 });
    await untilHandled(1);
    expect(operationalEventsOf(subscription.id).map((event) => event.type)).toEqual([
      'webhook.subscription.failing',
    ]);
    const { failingSince } = await getSubscription(subscription.id);

    // Attempt 3 comes two minutes of failure later: past the window.
    clockOffsetMs = 120_000;
    await untilHandled(1);
    expect(await getSubscription(subscription.id)).toMatchObject({
      status: 'disabled',
      disabledReason: 'failing_too_long',
    });
    expect(operationalEventsOf(subscription.id).at(-1)).toEqual({
      type: 'webhook.subscription.disabled',
      detail: {
        tenantId,
        subscriptionId: subscription.id,
        endpoint: new URL(receiver.url).origin,
        reason: 'failing_too_long',
        failingSince,
        eventId,
        at: expect.any(String),
      },
    });
    // Its message was deleted, not retried and not dead-lettered; the last attempt says no next one is due.
    expect(receiver.received).toHaveLength(3);
    expect(await peekAll(service.clients.sqs, service.resources.queues.delivery.url, 1)).toEqual([]);
    expect(await peekAll(service.clients.sqs, service.resources.queues.delivery.deadLetterUrl, 1)).toEqual(
      [],
    );
    const [last] = (await attempts.listBySubscription(tenantId, subscription.id, { limit: 10 })).items;
    expect(last).toMatchObject({ attempt: 3, result: 'failed', statusCode: 500 });
    expect(last?.nextAttemptAt).toBeUndefined();

    // While disabled, new events do not reach it.
    await publish('health.gives-up');
    expect(await service.pollDelivery()).toMatchObject({ received: 0 });

    const patched = await service.api({
      method: 'PATCH',
      path: `/subscriptions/${subscription.id}`,
      headers: bearer(apiKey),
      body: '{"status":"active"}',
    });
    expect(patched.statusCode).toBe(200);
    const reenabled = JSON.parse(patched.body);
    expect(reenabled.status).toBe('active');
    expect(reenabled).not.toHaveProperty('disabledReason');
    expect(reenabled).not.toHaveProperty('failingSince');

    receiver.respondWith(204);
    const afterwards = await publish('health.gives-up');
    expect(await service.pollDelivery()).toMatchObject({ received: 1, succeeded: 1 });
    const delivered = receiver.received.at(-1);
    expect(delivered).toMatchObject({
      status: 204,
      headers: expect.objectContaining({ 'webhook-id': afterwards }),
    });
    expect(delivered?.verificationError).toBeUndefined();
    // Re-enabling ended the failure run, so this success is not a recovery.
    expect(operationalEventsOf(subscription.id).map((event) => event.type)).toEqual([
      'webhook.subscription.failing',
      'webhook.subscription.disabled',
    ]);
    await receiver.close();
  });

  describe('auto-disable against a concurrent recovery', () => {
    // Delivery decides on an eventually consistent read, so the failingSince it saw may be one that another
    // delivery has already ended. The disable is conditional on the failure run it was decided on.
    let store: SubscriptionStore;
    beforeAll(() => {
      store = new SubscriptionStore(service.clients.db, service.resources.tables.subscriptions);
    });
    const create = () =>
      store.create(tenantId, { url: 'https://hooks.example.com/T1/B2/s3cr3t', eventTypes: ['x'] });
    const stored = async (id: string) => {
      const subscription = await store.get(tenantId, id);
      if (!subscription) throw new Error(`subscription ${id} is gone`);
      return subscription;
    };

    it('does not disable for failing too long once the run it was decided on has ended', async () => {
      const { id } = await create();
      expect(
        await store.health.countFailure(tenantId, id, new Date('2026-01-01T00:00:00.000Z')),
      ).toMatchObject({
        startedRun: true,
      });
      const stale = '2026-01-01T00:00:00.000Z';
      expect((await stored(id)).failingSince).toBe(stale);
      expect(await store.health.markRecovered(tenantId, id)).toMatchObject({ failingSince: stale });

      // Recovered: no failingSince at all.
      expect(await store.disable(tenantId, id, 'failing_too_long', { failingSince: stale })).toBe(false);
      expect(await stored(id)).toMatchObject({ status: 'active' });
      expect(await stored(id)).not.toHaveProperty('failingSince');

      // A new run has started since: another failingSince.
      expect(
        await store.health.countFailure(tenantId, id, new Date('2026-01-03T00:00:00.000Z')),
      ).toMatchObject({
        startedRun: true,
      });
      expect(await store.disable(tenantId, id, 'failing_too_long', { failingSince: stale })).toBe(false);
      // Without the run it was decided on, a failing_too_long disable never happens.
      expect(await store.disable(tenantId, id, 'failing_too_long')).toBe(false);
      expect(await stored(id)).toMatchObject({ status: 'active', failingSince: '2026-01-03T00:00:00.000Z' });
      expect(await stored(id)).not.toHaveProperty('disabledReason');

      // The run it was decided on is the current one: disabled, once.
      const current = { failingSince: '2026-01-03T00:00:00.000Z' };
      expect(await store.disable(tenantId, id, 'failing_too_long', current)).toBe(true);
      expect(await store.disable(tenantId, id, 'failing_too_long', current)).toBe(false);
      expect(await stored(id)).toMatchObject({
        status: 'disabled',
        disabledReason: 'failing_too_long',
        failingSince: '2026-01-03T00:00:00.000Z',
      });
    });

    it('disables on 410 Gone whatever the failure run', async () => {
      const recovered = await create();
      await store.health.countFailure(tenantId, recovered.id, new Date('2026-01-01T00:00:00.000Z'));
      await store.health.markRecovered(tenantId, recovered.id);
      expect(
        await store.disable(tenantId, recovered.id, 'endpoint_gone', {
          failingSince: '2026-01-01T00:00:00.000Z',
        }),
      ).toBe(true);
      expect(await stored(recovered.id)).toMatchObject({
        status: 'disabled',
        disabledReason: 'endpoint_gone',
      });

      const neverFailed = await create();
      expect(await store.disable(tenantId, neverFailed.id, 'endpoint_gone')).toBe(true);
      expect(await stored(neverFailed.id)).toMatchObject({
        status: 'disabled',
        disabledReason: 'endpoint_gone',
      });
    });

    it('through the health rule: a failure decided on a stale read neither disables nor reports', async () => {
      const { id } = await create();
      await store.health.countFailure(tenantId, id, new Date('2026-01-01T00:00:00.000Z'));
      // What a delivery read before another delivery's success ended the run.
      const staleRead = await stored(id);
      await store.health.markRecovered(tenantId, id);

      const reported: { type: OperationalEventType; detail: OperationalEventDetail }[] = [];
      const deps = {
        subscriptions: store,
        operationalEvents: async (type: OperationalEventType, detail: OperationalEventDetail) => {
          reported.push({ type, detail });
        },
      };
      const now = new Date('2026-01-06T00:00:00.000Z');
      const change = healthChange(staleRead, { result: 'failed', statusCode: 500 }, now, 86_400);
      expect(change).toEqual({ kind: 'disable', reason: 'failing_too_long' });
      // Not disabled, so the delivery is retried rather than dropped.
      expect(await applyHealthChange(deps, staleRead, change, { eventId: 'evt_stale', now })).toBe(false);
      expect(reported).toEqual([]);
      expect(await stored(id)).toMatchObject({ status: 'active' });
      expect(await stored(id)).not.toHaveProperty('failingSince');

      // The same decision on a read that is current disables and reports it, with the endpoint's origin only.
      await store.health.countFailure(tenantId, id, new Date('2026-01-02T00:00:00.000Z'));
      const currentRead = await stored(id);
      expect(await applyHealthChange(deps, currentRead, change, { eventId: 'evt_current', now })).toBe(true);
      expect(reported).toEqual([
        {
          type: 'webhook.subscription.disabled',
          detail: {
            tenantId,
            subscriptionId: id,
            endpoint: 'https://hooks.example.com',
            reason: 'failing_too_long',
            failingSince: '2026-01-02T00:00:00.000Z',
            eventId: 'evt_current',
            at: '2026-01-06T00:00:00.000Z',
          },
        },
      ]);
      expect(await stored(id)).toMatchObject({ status: 'disabled', disabledReason: 'failing_too_long' });
    });
  });
});
