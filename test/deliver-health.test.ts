import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AttemptLog } from '../lambdas/core/attempts.js';
import { healthChange } from '../lambdas/core/subscription-health.js';
import { peekAll } from './support/queues.js';
import { startReceiver } from './support/receiver.js';
import { bearer, startTestService } from './support/service.js';
import { waitFor } from './support/wait.js';

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

  const subscribe = async (url: string, eventType: string) => {
    const response = await service.api({
      method: 'POST',
      path: '/subscriptions',
      headers: bearer(apiKey),
      body: JSON.stringify({ url, eventTypes: [eventType] }),
    });
    return JSON.parse(response.body) as { id: string; secret: string; url: string };
  };
  const publish = async (type: string) => {
    const response = await service.api({
      method: 'POST',
      path: '/events',
      headers: bearer(apiKey),
      body: JSON.stringify({ type, data: {} }),
    });
    await service.pollFanout();
    return JSON.parse(response.body).id as string;
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
        url: subscription.url,
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
        url: subscription.url,
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
});

describe('Endpoint health rule', () => {
  const now = new Date('2026-01-06T00:00:00.000Z');
  const fiveDays = 5 * 86_400;

  it('starts a failure run on the first failure and ends it on the first success', () => {
    expect(healthChange({}, { result: 'failed', statusCode: 500 }, now, fiveDays)).toEqual({
      kind: 'failing',
    });
    expect(healthChange({}, { result: 'failed' }, now, fiveDays)).toEqual({ kind: 'failing' });
    expect(healthChange({}, { result: 'delivered', statusCode: 200 }, now, fiveDays)).toEqual({
      kind: 'none',
    });
    expect(
      healthChange({ failingSince: '2026-01-05T00:00:00.000Z' }, { result: 'delivered' }, now, fiveDays),
    ).toEqual({ kind: 'recovered' });
  });

  it('disables after failing for the whole window, not before', () => {
    const failed = { result: 'failed' as const, statusCode: 503 };
    expect(healthChange({ failingSince: '2026-01-01T00:00:01.000Z' }, failed, now, fiveDays)).toEqual({
      kind: 'none',
    });
    expect(healthChange({ failingSince: '2026-01-01T00:00:00.000Z' }, failed, now, fiveDays)).toEqual({
      kind: 'disable',
      reason: 'failing_too_long',
    });
  });

  it('disables at once on 410 Gone, failing or not', () => {
    const gone = { result: 'failed' as const, statusCode: 410 };
    const disable = { kind: 'disable', reason: 'endpoint_gone' };
    expect(healthChange({}, gone, now, fiveDays)).toEqual(disable);
    expect(healthChange({ failingSince: '2026-01-05T00:00:00.000Z' }, gone, now, fiveDays)).toEqual(disable);
  });
});
