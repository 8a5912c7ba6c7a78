import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MAX_EVENT_DATA_BYTES } from '../../lambdas/contract/bus-events.js';
import type { DeliveryMessage } from '../../lambdas/contract/delivery-message.js';
import { EventStore } from '../../lambdas/storage/events.js';
import { fanoutFunction } from '../../lambdas/wiring.js';
import { peekAll } from '../../local/emulators/queue-metrics.js';
import { busEventBody, publishEvent } from '../support/events.js';
import { bearer, startTestService } from '../support/service.js';
import { sqsRecord } from '../support/sqs-records.js';
import { createSubscription } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

describe('Function: fan-out', () => {
  let service: Service;
  let events: EventStore;

  beforeAll(async () => {
    service = await startTestService();
    events = new EventStore(service.clients.db, service.config.eventsTable);
  });
  afterAll(() => service.close());

  const subscribe = async (apiKey: string, eventTypes: string[]) =>
    (await createSubscription(service.api, apiKey, { url: 'https://hooks.example.com/x', eventTypes })).id;
  const publish = (apiKey: string, type: string) =>
    publishEvent(service.api, apiKey, { type, data: { n: 1 } });
  const deliveries = async () =>
    (await peekAll(service.clients.sqs, service.resources.queues.delivery.url)).map(
      (message) => JSON.parse(message.body) as DeliveryMessage,
    );
  const sqsEvent = (body: string): SQSEvent => ({
    Records: [sqsRecord(body, { queueArn: service.resources.queues.fanout.arn })],
  });

  it("sends one delivery per matching active subscription of the event's tenant", async () => {
    const a = await service.createTenant('a');
    const b = await service.createTenant('b');
    const exact = await subscribe(a.apiKey, ['order.created']);
    const prefix = await subscribe(a.apiKey, ['order.*']);
    const everything = await subscribe(a.apiKey, ['*']);
    const overlapping = await subscribe(a.apiKey, ['order.created', 'order.*', '*']);
    await subscribe(a.apiKey, ['user.*']);
    await subscribe(a.apiKey, ['order.created.v2']);
    const disabled = await subscribe(a.apiKey, ['order.created']);
    await service.api({
      method: 'PATCH',
      path: `/subscriptions/${disabled}`,
      headers: bearer(a.apiKey),
      body: JSON.stringify({ status: 'disabled' }),
    });
    await subscribe(b.apiKey, ['*']);

    const eventId = await publish(a.apiKey, 'order.created');
    expect(await service.pollFanout()).toMatchObject({ received: 1, succeeded: 1 });

    const sent = await deliveries();
    expect(sent.map((message) => message.subscriptionId).sort()).toEqual(
      [exact, prefix, everything, overlapping].sort(),
    );
    for (const message of sent) {
      expect(message).toEqual({
        v: 2,
        tenantId: a.tenantId,
        subscriptionId: message.subscriptionId,
        eventId,
        event: { type: 'order.created', timestamp: expect.any(String), data: { n: 1 } },
      });
    }
    // Claim-check: the messages carry references, and the event is stored once.
    expect(await events.get(a.tenantId, eventId)).toMatchObject({
      id: eventId,
      type: 'order.created',
      data: { n: 1 },
    });
  });

  it('matches a prefix filter only below its prefix, and sends nothing when nothing matches', async () => {
    const tenant = await service.createTenant('prefixes');
    const prefix = await subscribe(tenant.apiKey, ['order.*']);
    const everything = await subscribe(tenant.apiKey, ['*']);

    await publish(tenant.apiKey, 'order');
    await service.pollFanout();
    expect((await deliveries()).map((message) => message.subscriptionId)).toEqual([everything]);

    await publish(tenant.apiKey, 'order.refund.issued');
    await service.pollFanout();
    expect((await deliveries()).map((message) => message.subscriptionId).sort()).toEqual(
      [prefix, everything].sort(),
    );

    const lonely = await service.createTenant('no-subscribers');
    await subscribe(lonely.apiKey, ['user.created']);
    await publish(lonely.apiKey, 'user.deleted');
    expect(await service.pollFanout()).toMatchObject({ received: 1, succeeded: 1 });
    expect(await deliveries()).toEqual([]);
  });

  it('finishes an interrupted fan-out on redelivery with the same delivery ids, and only once', async () => {
    const tenant = await service.createTenant('crashy');
    const subscribers = [];
    for (let i = 0; i < 15; i++) subscribers.push(await subscribe(tenant.apiKey, ['*']));
    const busEvent = busEventBody(service.busName, tenant.tenantId, {
      id: 'evt_crash',
      type: 'a.b',
      data: {},
    });
    // A real SQS client whose second SendMessageBatch call fails, as a throttled or crashed call would.
    const flakySqs = new SQSClient({
      endpoint: inject('sqsEndpoint'),
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    let batchCalls = 0;
    flakySqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'SendMessageBatchCommand' && ++batchCalls === 2)
          throw new Error('injected failure');
        return next(args);
      },
      { step: 'initialize' },
    );
    const handler = fanoutFunction(service.config, { db: service.clients.db, sqs: flakySqs });

    // A batch in which every record failed fails the invocation, so SQS redelivers all of it.
    await expect(handler(sqsEvent(busEvent))).rejects.toThrow(/All records failed/);
    const firstTry = await deliveries();
    expect(firstTry).toHaveLength(10);

    expect(await handler(sqsEvent(busEvent))).toEqual({ batchItemFailures: [] });
    const retry = await deliveries();
    expect(retry).toHaveLength(15);
    expect(new Set(retry.map((message) => message.subscriptionId))).toEqual(new Set(subscribers));
    for (const message of [...firstTry, ...retry]) expect(message.eventId).toBe('evt_crash');
    const stored = await events.get(tenant.tenantId, 'evt_crash');
    expect(stored).toMatchObject({ id: 'evt_crash', type: 'a.b', data: {} });

    // A further copy of the same bus event, after the fan-out completed, sends nothing.
    expect(await handler(sqsEvent(busEvent))).toEqual({ batchItemFailures: [] });
    expect(await deliveries()).toEqual([]);
    flakySqs.destroy();
  });

  it('stores and fans out a bus event of the largest payload, and treats a larger one as poison', async () => {
    const handler = fanoutFunction(service.config, service.clients);
    const tenant = await service.createTenant('sizes');
    const subscriber = await subscribe(tenant.apiKey, ['*']);
    // {"blob":"…"} is 11 bytes around the string.
    const payload = (bytes: number) => ({ blob: 'x'.repeat(bytes - 11) });
    const busEvent = (id: string, data: Record<string, unknown>) =>
      busEventBody(service.busName, tenant.tenantId, { id, type: 'big', data });

    expect(await handler(sqsEvent(busEvent('evt_largest', payload(MAX_EVENT_DATA_BYTES))))).toEqual({
      batchItemFailures: [],
    });
    expect((await events.get(tenant.tenantId, 'evt_largest'))?.data).toEqual(payload(MAX_EVENT_DATA_BYTES));
    expect(await deliveries()).toEqual([
      { v: 2, tenantId: tenant.tenantId, subscriptionId: subscriber, eventId: 'evt_largest' },
    ]);

    // A DynamoDB item holds at most 400 KB, so a larger payload could never be stored: straight to the DLQ.
    const tooLarge = busEvent('evt_too_large', payload(MAX_EVENT_DATA_BYTES + 1));
    expect(await handler(sqsEvent(tooLarge))).toEqual({ batchItemFailures: [] });
    expect(await events.get(tenant.tenantId, 'evt_too_large')).toBeUndefined();
    expect(await deliveries()).toEqual([]);
    expect(await peekAll(service.clients.sqs, service.resources.queues.fanout.deadLetterUrl)).toEqual([
      { body: tooLarge, receiveCount: 1 },
    ]);
  });

  it('dead-letters a message that can never be processed and fans out the rest of its batch', async () => {
    const handler = fanoutFunction(service.config, service.clients);
    const tenant = await service.createTenant('mixed');
    await subscribe(tenant.apiKey, ['*']);
    const good = busEventBody(service.busName, tenant.tenantId, { id: 'evt_good', type: 'a', data: {} });
    const mixed = sqsEvent('not json');
    const goodRecord = { ...mixed.Records[0], messageId: 'm-2', body: good } as SQSEvent['Records'][number];
    expect(await handler({ Records: [...mixed.Records, goodRecord] })).toEqual({ batchItemFailures: [] });
    expect((await deliveries()).map((message) => message.eventId)).toEqual(['evt_good']);
    expect(await peekAll(service.clients.sqs, service.resources.queues.fanout.deadLetterUrl)).toEqual([
      { body: 'not json', receiveCount: 1 },
    ]);
  });
});
