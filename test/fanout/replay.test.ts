import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryMessage } from '../../lambdas/contract/delivery-message.js';
import { type FanoutJobInput, sendFanoutJob } from '../../lambdas/fanout/jobs.js';
import { AttemptLog, type AttemptRecord, newAttemptId } from '../../lambdas/storage/attempts.js';
import { EventStore } from '../../lambdas/storage/events.js';
import { fanoutFunction } from '../../lambdas/wiring.js';
import { peekAll } from '../../local/emulators/queue-metrics.js';
import { publishEvent, storedEvent } from '../support/events.js';
import { bearer, startTestService } from '../support/service.js';
import { sqsRecord } from '../support/sqs-records.js';
import { createSubscription } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
type Tenant = Awaited<ReturnType<Service['createTenant']>>;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('Function: fan-out jobs (replay)', () => {
  let service: Service;
  let events: EventStore;
  let attempts: AttemptLog;

  beforeAll(async () => {
    // Two subscriptions (or events) a page, so every replay here takes several pages.
    service = await startTestService({ fanoutPageSize: 2 });
    events = new EventStore(service.clients.db, service.config.eventsTable, 30);
    attempts = new AttemptLog(service.clients.db, service.config.attemptsTable, {
      mode: 'all',
      retentionDays: 30,
    });
  });
  afterAll(() => service.close());

  const subscribe = async (tenant: Tenant, eventTypes: string[]) =>
    (await createSubscription(service.api, tenant.apiKey, { url: 'https://hooks.example.com/x', eventTypes }))
      .id;
  const patch = async (tenant: Tenant, id: string, changes: Record<string, unknown>) => {
    const response = await service.api({
      method: 'PATCH',
      path: `/subscriptions/${id}`,
      headers: bearer(tenant.apiKey),
      body: JSON.stringify(changes),
    });
    expect(response.statusCode).toBe(200);
  };
  const publish = (tenant: Tenant, type: string) =>
    publishEvent(service.api, tenant.apiKey, { type, data: { n: 1 } });
  /** Stores an event as fan-out would, with a chosen timestamp, without fanning it out. */
  const store = async (tenant: Tenant, id: string, type: string, timestamp: Date, now = new Date()) => {
    const claimed = await events.claim(
      storedEvent({
        tenantId: tenant.tenantId,
        id,
        busEventId: `bus-${id}`,
        type,
        timestamp: timestamp.toISOString(),
      }),
      now,
    );
    expect(claimed).toBe(true);
    return id;
  };
  const attempted = (
    tenant: Tenant,
    eventId: string,
    subscriptionId: string,
    results: AttemptRecord['result'][],
  ) =>
    attempts.recordAll(
      results.map((result, index) => ({
        tenantId: tenant.tenantId,
        record: {
          id: newAttemptId(),
          eventId,
          subscriptionId,
          attempt: index + 1,
          attemptedAt: new Date().toISOString(),
          result,
          ...(result === 'delivered' ? { statusCode: 200 } : { statusCode: 500 }),
          latencyMs: 5,
        },
      })),
    );
  const sendJob = (job: FanoutJobInput) =>
    sendFanoutJob(service.clients.sqs, service.config.fanoutQueueUrl, job);
  /** Runs the fan-out queue dry, as its event source mapping would; returns how many records it processed. */
  const runFanout = async () => {
    let records = 0;
    for (;;) {
      const result = await service.pollFanout();
      if (result.received === 0) return records;
      expect(result.failed, String(result.handlerError)).toBe(0);
      records += result.received;
    }
  };
  const deliveries = async () =>
    (await peekAll(service.clients.sqs, service.resources.queues.delivery.url)).map(
      (message) => JSON.parse(message.body) as DeliveryMessage,
    );
  /** A replay delivery; replays of one stored event carry it inline, replays since a time refer to it. */
  const replayed = (
    tenant: Tenant,
    eventId: string,
    subscriptionId: string,
    inline?: { type: string; data: Record<string, unknown> },
  ): DeliveryMessage => ({
    v: 2,
    tenantId: tenant.tenantId,
    subscriptionId,
    eventId,
    replay: true,
    ...(inline ? { event: { ...inline, timestamp: expect.any(String) } } : {}),
  });
  const bySubscription = (a: DeliveryMessage, b: DeliveryMessage) =>
    a.subscriptionId.localeCompare(b.subscriptionId) || a.eventId.localeCompare(b.eventId);

  it('replays a stored event to every subscription it matches today, page by page, flagged as replay', async () => {
    const tenant = await service.createTenant('replay-all');
    const everything = await subscribe(tenant, ['*']);
    const orders = await subscribe(tenant, ['order.*']);
    const exact = await subscribe(tenant, ['order.created']);
    const disabled = await subscribe(tenant, ['order.created']);
    await patch(tenant, disabled, { status: 'disabled' });
    await subscribe(tenant, ['user.*']);
    const other = await service.createTenant('replay-all-other');
    await subscribe(other, ['*']);

    const eventId = await publish(tenant, 'order.created');
    // Three subscribers at two a page: the publish and one continuation.
    expect(await runFanout()).toBe(2);
    const original = await deliveries();
    expect(original.map((message) => message.subscriptionId).sort()).toEqual(
      [everything, orders, exact].sort(),
    );
    for (const message of original) expect(message.replay).toBeUndefined();

    const late = await subscribe(tenant, ['order.*']);
    await sendJob({
      job: 'event',
      tenantId: tenant.tenantId,
      eventId,
      eventType: 'order.created',
      replay: true,
    });
    // Four at two a page, and a third page that finds the last route key exhausted (the second page's query
    // stopped at its limit, so DynamoDB could not yet tell).
    expect(await runFanout()).toBe(3);
    expect((await deliveries()).sort(bySubscription)).toEqual(
      [everything, orders, exact, late]
        .map((id) => replayed(tenant, eventId, id, { type: 'order.created', data: { n: 1 } }))
        .sort(bySubscription),
    );
  });

  it('replays a stored event to one subscription', async () => {
    const tenant = await service.createTenant('replay-one');
    const chosen = await subscribe(tenant, ['order.*']);
    await subscribe(tenant, ['order.*']);
    const eventId = await store(tenant, 'evt_one', 'order.created', new Date());

    await sendJob({ job: 'event-subscription', tenantId: tenant.tenantId, eventId, subscriptionId: chosen });
    expect(await runFanout()).toBe(1);
    expect(await deliveries()).toEqual([
      replayed(tenant, eventId, chosen, { type: 'order.created', data: {} }),
    ]);
  });

  it('completes replays of an event that is no longer stored without sending anything', async () => {
    const tenant = await service.createTenant('replay-gone');
    const subscriber = await subscribe(tenant, ['*']);
    // Stored 31 days ago with a 30-day retention: expired, though DynamoDB may not have deleted it yet.
    const expired = await store(tenant, 'evt_expired', 'a', new Date(), new Date(Date.now() - 31 * DAY));
    expect(await events.get(tenant.tenantId, expired)).toBeUndefined();

    for (const eventId of [expired, 'evt_never_stored']) {
      await sendJob({ job: 'event', tenantId: tenant.tenantId, eventId, eventType: 'a', replay: true });
      await sendJob({
        job: 'event-subscription',
        tenantId: tenant.tenantId,
        eventId,
        subscriptionId: subscriber,
      });
    }
    expect(await runFanout()).toBe(4);
    expect(await deliveries()).toEqual([]);
  });

  it('replays since a time every matching event not delivered to the subscription, and nothing else', async () => {
    const tenant = await service.createTenant('replay-since');
    const subscriber = await subscribe(tenant, ['order.*']);
    const neighbour = await subscribe(tenant, ['*']);
    const since = new Date(Date.now() - DAY);
    const at = (minutes: number) => new Date(since.getTime() + minutes * 60_000);
    // Both existed before the events below: a replay never reaches back past a subscription's creation.
    for (const id of [subscriber, neighbour]) {
      await service.clients.db.send(
        new UpdateCommand({
          TableName: service.config.subscriptionsTable,
          Key: { pk: tenant.tenantId, sk: `sub#${id}` },
          UpdateExpression: 'SET createdAt = :createdAt',
          ExpressionAttributeValues: { ':createdAt': new Date(since.getTime() - DAY).toISOString() },
        }),
      );
    }

    await store(tenant, 'evt_before', 'order.a', at(-60));
    const delivered = await store(tenant, 'evt_delivered', 'order.a', at(1));
    await attempted(tenant, delivered, subscriber, ['delivered']);
    const failed = await store(tenant, 'evt_failed', 'order.b', at(2));
    await attempted(tenant, failed, subscriber, ['failed', 'failed']);
    const neverAttempted = await store(tenant, 'evt_never', 'order.c', at(3));
    const otherType = await store(tenant, 'evt_user', 'user.x', at(4));
    const recovered = await store(tenant, 'evt_recovered', 'order.d', at(5));
    await attempted(tenant, recovered, subscriber, ['failed', 'delivered']);
    const deliveredElsewhere = await store(tenant, 'evt_elsewhere', 'order.e', at(6));
    await attempted(tenant, deliveredElsewhere, neighbour, ['delivered']);
    // Published after the replay was asked for: its own fan-out delivers it.
    await store(tenant, 'evt_later', 'order.f', new Date(Date.now() + HOUR));
    const otherTenant = await service.createTenant('replay-since-other');
    await store(otherTenant, 'evt_other_tenant', 'order.a', at(1));

    await sendJob({
      job: 'subscription-since',
      tenantId: tenant.tenantId,
      subscriptionId: subscriber,
      since: since.toISOString(),
    });
    // Seven events since the time at two a page: the last page holds only the later event, and ends it.
    expect(await runFanout()).toBe(4);
    expect((await deliveries()).sort(bySubscription)).toEqual(
      [failed, neverAttempted, deliveredElsewhere]
        .map((id) => replayed(tenant, id, subscriber))
        .sort(bySubscription),
    );

    // The subscription's event types as they are now decide what matches.
    await patch(tenant, subscriber, { eventTypes: ['user.*'] });
    await sendJob({
      job: 'subscription-since',
      tenantId: tenant.tenantId,
      subscriptionId: subscriber,
      since: since.toISOString(),
    });
    await runFanout();
    expect(await deliveries()).toEqual([replayed(tenant, otherType, subscriber)]);

    // A subscription created after those events gets none of them, whatever `since` says.
    const newcomer = await subscribe(tenant, ['*']);
    await sendJob({
      job: 'subscription-since',
      tenantId: tenant.tenantId,
      subscriptionId: newcomer,
      since: since.toISOString(),
    });
    await runFanout();
    expect(await deliveries()).toEqual([]);
  });

  it('sends nothing for a replay since a time to a disabled or deleted subscription', async () => {
    const tenant = await service.createTenant('replay-since-off');
    const disabled = await subscribe(tenant, ['*']);
    const deleted = await subscribe(tenant, ['*']);
    await store(tenant, 'evt_a', 'a', new Date(Date.now() - HOUR));
    await patch(tenant, disabled, { status: 'disabled' });
    const removed = await service.api({
      method: 'DELETE',
      path: `/subscriptions/${deleted}`,
      headers: bearer(tenant.apiKey),
    });
    expect(removed.statusCode).toBe(204);

    const since = new Date(Date.now() - DAY).toISOString();
    for (const subscriptionId of [disabled, deleted]) {
      await sendJob({ job: 'subscription-since', tenantId: tenant.tenantId, subscriptionId, since });
    }
    expect(await runFanout()).toBe(2);
    expect(await deliveries()).toEqual([]);
  });

  it('sends a malformed job to the DLQ at once, with its reason, and processes the rest', async () => {
    const handler = fanoutFunction(service.config, service.clients);
    const tenant = await service.createTenant('poison-jobs');
    const subscriber = await subscribe(tenant, ['*']);
    const eventId = await store(tenant, 'evt_poison_neighbour', 'a', new Date());
    const record = (messageId: string, body: unknown) =>
      sqsRecord(JSON.stringify(body), { messageId, queueArn: service.resources.queues.fanout.arn });
    const good = {
      kind: 'fanout.job',
      job: 'event-subscription',
      tenantId: tenant.tenantId,
      eventId,
      subscriptionId: subscriber,
    };
    const poison = [
      { kind: 'fanout.job', job: 'reindex', tenantId: tenant.tenantId },
      { kind: 'fanout.job', job: 'event', tenantId: tenant.tenantId, eventId, replay: true },
      {
        kind: 'fanout.job',
        job: 'subscription-since',
        tenantId: tenant.tenantId,
        subscriptionId: subscriber,
        since: 'yesterday',
      },
    ];
    expect(
      await handler({
        Records: [record('m-good', good), ...poison.map((body, i) => record(`m-${i}`, body))],
      }),
    ).toEqual({ batchItemFailures: [] });
    expect(await deliveries()).toEqual([replayed(tenant, eventId, subscriber, { type: 'a', data: {} })]);
    const deadLetters = await peekAll(service.clients.sqs, service.resources.queues.fanout.deadLetterUrl);
    expect(
      deadLetters.map((message) => JSON.parse(message.body)).sort((a, b) => a.job.localeCompare(b.job)),
    ).toEqual([...poison].sort((a, b) => a.job.localeCompare(b.job)));
  });
});
