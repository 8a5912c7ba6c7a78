import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_EVENT_DATA_BYTES,
  MAX_EVENT_ENTRY_BYTES,
  PUT_EVENTS_MAX_BYTES,
  putEventsEntryBytes,
  toPutEventsEntry,
} from '../../lambdas/contract/bus-events.js';
import type { DeliveryMessage } from '../../lambdas/contract/delivery-message.js';
import { DEAD_LETTER_REASON_ATTRIBUTE } from '../../lambdas/fanout/handler.js';
import { EventStore } from '../../lambdas/storage/events.js';
import { peekAll } from '../../local/emulators/queue-metrics.js';
import { postEvent, publishEvent } from '../support/events.js';
import { startTestService } from '../support/service.js';
import { createSubscription } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

describe('Function: ingest (POST /events)', () => {
  let service: Service;
  let tenant: Awaited<ReturnType<Service['createTenant']>>;
  let subscriptionId: string;
  let events: EventStore;

  beforeAll(async () => {
    service = await startTestService();
    events = new EventStore(service.clients.db, service.config.eventsTable);
    tenant = await service.createTenant('publisher');
    ({ id: subscriptionId } = await createSubscription(service.api, tenant.apiKey));
  });
  afterAll(() => service.close());

  const publish = (body: unknown) => postEvent(service.api, tenant.apiKey, body);
  const fanOutAll = async () => {
    while ((await service.pollFanout()).received > 0);
  };
  const deliveries = async () =>
    (await peekAll(service.clients.sqs, service.resources.queues.delivery.url)).map(
      (message) => JSON.parse(message.body) as DeliveryMessage,
    );
  const fanoutQueueDepth = async () =>
    (await peekAll(service.clients.sqs, service.resources.queues.fanout.url, 1)).length;

  it('accepts an event with 202 and a generated id', async () => {
    const response = await publish({ type: 'invoice.paid', data: { amount: 10 } });
    expect(response.statusCode).toBe(202);
    const { id } = JSON.parse(response.body);
    expect(id).toMatch(/^evt_[0-9A-Z]{26}$/);
    await fanOutAll();
    expect(await deliveries()).toEqual([
      {
        v: 2,
        tenantId: tenant.tenantId,
        subscriptionId,
        eventId: id,
        event: { type: 'invoice.paid', timestamp: expect.any(String), data: { amount: 10 } },
      },
    ]);
    expect(await events.get(tenant.tenantId, id)).toMatchObject({
      id,
      type: 'invoice.paid',
      data: { amount: 10 },
    });
  });

  it('treats the id as an idempotency key: a second publish is accepted and delivered no second time', async () => {
    const first = await publish({ id: 'order-1234', type: 'order.created', data: { v: 1 } });
    const second = await publish({ id: 'order-1234', type: 'order.created', data: { v: 1 } });
    expect([first.statusCode, second.statusCode]).toEqual([202, 202]);
    expect(JSON.parse(second.body)).toEqual({ id: 'order-1234' });
    await fanOutAll();
    const sent = await deliveries();
    expect(sent.map((message) => message.eventId)).toEqual(['order-1234']);
  });

  it('scopes idempotency keys to the tenant', async () => {
    const other = await service.createTenant('other');
    const otherSubscription = await createSubscription(service.api, other.apiKey, {
      url: 'https://other.example.com',
    });
    await publish({ id: 'shared-id', type: 'a', data: {} });
    await publishEvent(service.api, other.apiKey, { id: 'shared-id', type: 'a', data: {} });
    await fanOutAll();
    const sent = await deliveries();
    expect(sent.map((message) => message.subscriptionId).sort()).toEqual(
      [subscriptionId, otherSubscription.id].sort(),
    );
  });

  it('fans out events that services put straight on the bus, with the tenant in Source', async () => {
    const result = await service.clients.eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: service.busName,
            Source: `fanout.tenant.${tenant.tenantId}`,
            DetailType: 'user.signed_up',
            Detail: '{"user":7}',
          },
          {
            EventBusName: service.busName,
            Source: `fanout.tenant.${tenant.tenantId}`,
            DetailType: 'user.signed_up',
            Detail: '{"user":8}',
            Resources: ['fanout:event-id/user-8-signup'],
            Time: new Date('2026-03-01T12:34:56Z'),
          },
        ],
      }),
    );
    expect(result.FailedEntryCount).toBe(0);
    await fanOutAll();
    const sent = await deliveries();
    const stored = await Promise.all(sent.map((message) => events.get(message.tenantId, message.eventId)));
    const byUser = Object.fromEntries(stored.map((event) => [String(event?.data.user), event]));
    expect(byUser['7']?.id).toBe(result.Entries?.[0]?.EventId);
    expect(byUser['8']?.id).toBe('user-8-signup');
    expect(byUser['8']?.timestamp).toBe('2026-03-01T12:34:56.000Z');
  });

  it('accepts an event whose bus entry is MAX_EVENT_ENTRY_BYTES and refuses one byte more with 413', async () => {
    // {"blob":"…"} is 11 bytes around the string; the entry adds the tenant source, the type and the id.
    const data = (bytes: number) => ({ blob: 'x'.repeat(bytes - 11) });
    const id = 'big-event';
    const overhead =
      putEventsEntryBytes(toPutEventsEntry(service.busName, tenant.tenantId, { id, type: 'big', data: {} })) -
      2;
    const largest = data(MAX_EVENT_ENTRY_BYTES - overhead);
    const accepted = await publish({ id, type: 'big', data: largest });
    expect(accepted.statusCode).toBe(202);
    await fanOutAll();
    // Too large to ride in the message: it refers to the stored event (claim-check).
    expect(await deliveries()).toEqual([{ v: 2, tenantId: tenant.tenantId, subscriptionId, eventId: id }]);
    expect((await events.get(tenant.tenantId, id))?.data).toEqual(largest);

    const refused = await publish({
      id: 'big-evenu',
      type: 'big',
      data: data(MAX_EVENT_ENTRY_BYTES - overhead + 1),
    });
    expect(refused.statusCode).toBe(413);
    expect(JSON.parse(refused.body).error).toMatchObject({
      code: 'payload_too_large',
      message: expect.stringMatching(/^the event is 1 byte over the limit/),
    });
    expect(await fanoutQueueDepth()).toBe(0);
  });

  it('refuses with 413, naming the excess, data under 256 KB whose bus entry is over it', async () => {
    // EventBridge counts source, type and id too: data 10 bytes under the limit with a 100-byte id is over.
    const id = `near-limit-${'i'.repeat(89)}`;
    const type = 'invoice.paid';
    const data = { blob: 'x'.repeat(MAX_EVENT_ENTRY_BYTES - 10 - 11) };
    const entryBytes = putEventsEntryBytes(
      toPutEventsEntry(service.busName, tenant.tenantId, { id, type, data }),
    );
    const refused = await publish({ id, type, data });
    expect(refused.statusCode).toBe(413);
    expect(JSON.parse(refused.body).error).toEqual({
      code: 'payload_too_large',
      message: `the event is ${entryBytes - MAX_EVENT_ENTRY_BYTES} bytes over the limit: as a bus entry (data as JSON, type, id and tenant) it has ${entryBytes} bytes, and at most ${MAX_EVENT_ENTRY_BYTES} are allowed`,
    });
    expect(await fanoutQueueDepth()).toBe(0);
  });

  it('has the local bus take what EventBridge takes (1 MB a request), and fan-out dead-letter data over 256 KB', async () => {
    const entry = (detailBytes: number, id: string) => ({
      EventBusName: service.busName,
      Source: `fanout.tenant.${tenant.tenantId}`,
      DetailType: 'big',
      Detail: JSON.stringify({ blob: 'x'.repeat(detailBytes - 11) }),
      Resources: [`fanout:event-id/${id}`],
      Time: new Date(),
    });
    const put = (...entries: ReturnType<typeof entry>[]) =>
      service.clients.eventBridge.send(new PutEventsCommand({ Entries: entries }));
    // 1,048,576 is EventBridge's limit, written out rather than taken from the code under test.
    expect(PUT_EVENTS_MAX_BYTES).toBe(1_048_576);
    const overhead = putEventsEntryBytes(entry(11, 'bus-big')) - 11;
    // One byte over EventBridge's limit (Time counts 14 bytes): the whole request is refused.
    await expect(put(entry(PUT_EVENTS_MAX_BYTES - overhead + 1, 'bus-huge'))).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'Total size of the entries in the request is over the limit.',
    });
    // Entries count together: two that fit alone do not fit one request.
    const half = Math.floor(PUT_EVENTS_MAX_BYTES / 2);
    await expect(put(entry(half, 'bus-half-1'), entry(half, 'bus-half-2'))).rejects.toMatchObject({
      name: 'ValidationException',
    });
    expect(await fanoutQueueDepth()).toBe(0);

    // Over the service's limit and under EventBridge's: the bus takes it, as on AWS, and fan-out, which
    // cannot store it, sends it to its DLQ.
    const accepted = await put(entry(MAX_EVENT_DATA_BYTES + 1, 'bus-big'));
    expect(accepted.FailedEntryCount).toBe(0);
    await fanOutAll();
    expect(await deliveries()).toEqual([]);
    const { Messages = [] } = await service.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: service.resources.queues.fanout.deadLetterUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      }),
    );
    expect(
      Messages.map((message) => ({
        resources: JSON.parse(message.Body ?? '').resources,
        reason: message.MessageAttributes?.[DEAD_LETTER_REASON_ATTRIBUTE]?.StringValue,
      })),
    ).toEqual([{ resources: ['fanout:event-id/bus-big'], reason: 'too_large' }]);
  });

  it('does not route bus events whose source is not a tenant', async () => {
    const result = await service.clients.eventBridge.send(
      new PutEventsCommand({
        Entries: [{ EventBusName: service.busName, Source: 'billing.app', DetailType: 'x', Detail: '{}' }],
      }),
    );
    expect(result.FailedEntryCount).toBe(0);
    expect(await fanoutQueueDepth()).toBe(0);
  });

  it.each([
    ['missing type', { data: {} }, 422, /^type: /],
    ['bad type', { type: 'order created', data: {} }, 422, /^type: must be dot-separated/],
    ['wildcard type', { type: 'order.*', data: {} }, 422, /^type: /],
    ['data not an object', { type: 'a', data: [1, 2] }, 422, /^data: must be a JSON object/],
    ['missing data', { type: 'a' }, 422, /^data: /],
    ['a character SQS refuses', { type: 'a', data: { note: 'a\uFFFFb' } }, 422, /^data: must not contain/],
    ['a key SQS refuses', { type: 'a', data: { 'x\uFFFE': 1 } }, 422, /^data: must not contain/],
    ['bad id', { type: 'a', data: {}, id: 'has space' }, 422, /^id: /],
    ['a tenant in the body', { type: 'a', data: {}, tenantId: 'ten_x' }, 422, /tenantId/],
    ['malformed JSON', '{"type":', 400, /not valid JSON/],
    [
      'an oversized payload',
      { type: 'a', data: { blob: 'x'.repeat(257 * 1024) } },
      413,
      /bytes over the limit/,
    ],
  ])('rejects %s and publishes nothing', async (_name, body, status, message) => {
    const response = await publish(body);
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body).error.message).toMatch(message);
    expect(await fanoutQueueDepth()).toBe(0);
  });
});
