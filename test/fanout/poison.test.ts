import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { MAX_EVENT_DATA_BYTES } from '../../lambdas/contract/bus-events.js';
import { SQS_MAX_MESSAGE_BYTES } from '../../lambdas/contract/sqs-size.js';
import { DEAD_LETTER_ERROR_ATTRIBUTE, DEAD_LETTER_REASON_ATTRIBUTE } from '../../lambdas/fanout/handler.js';
import { documentClient } from '../../lambdas/platform/aws-clients.js';
import { newId } from '../../lambdas/platform/ids.js';
import { logger } from '../../lambdas/platform/logger.js';
import { EventStore } from '../../lambdas/storage/events.js';
import { createTenant } from '../../lambdas/storage/tenants.js';
import { fanoutFunction } from '../../lambdas/wiring.js';
import { pollOnce } from '../../local/emulators/event-source.js';
import { moveMessages } from '../../local/emulators/message-move.js';
import { queueDepth } from '../../local/emulators/queue-metrics.js';
import { busEventBody } from '../support/events.js';
import { startTestService } from '../support/service.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

/**
 * A message on the fan-out queue that can never succeed goes to the fan-out DLQ at its first receive, so the
 * alarm fires within minutes instead of after five receives half an hour apart; a transient failure is
 * still retried by SQS. Everything runs on fauxqs through the event source mapping's stand-in.
 */
describe('Function: fan-out, poison messages', () => {
  let service: Service;
  let tenantId: string;

  beforeAll(async () => {
    service = await startTestService();
    ({ tenantId } = await service.createTenant('poison'));
  });
  afterAll(() => service.close());

  const queues = () => service.resources.queues.fanout;
  const busEvent = (
    fields: Record<string, unknown> = {},
    data: Record<string, unknown> = { n: 1 },
    event: { tenantId?: string; id?: string } = {},
  ) =>
    busEventBody(
      service.busName,
      event.tenantId ?? tenantId,
      { id: event.id ?? 'evt_poison', type: 'order.created', data },
      fields,
    );
  const send = (body: string) =>
    service.clients.sqs.send(new SendMessageCommand({ QueueUrl: queues().url, MessageBody: body }));
  const receiveDeadLetters = async () => {
    const { Messages = [] } = await service.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queues().deadLetterUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    return Messages;
  };

  it.each([
    ['a body that is not JSON', () => 'not json', 'not_json'],
    ['a body that is not an event', () => '[1,2]', 'not_an_event'],
    ['a source that names no tenant', () => busEvent({ source: 'fanout.tenant.acme' }), 'no_tenant'],
    ['a tenant that does not exist', () => busEvent({}, {}, { tenantId: newId('ten') }), 'unknown_tenant'],
    ['an invalid detail-type', () => busEvent({ 'detail-type': 'order created' }), 'invalid_event_type'],
    ['a detail that is not an object', () => busEvent({ detail: [1] }), 'invalid_detail'],
    [
      'a detail over the size limit',
      () => busEvent({}, { blob: 'x'.repeat(MAX_EVENT_DATA_BYTES) }),
      'too_large',
    ],
    ['an invalid event id', () => busEvent({ resources: ['fanout:event-id/has space'] }), 'invalid_event_id'],
    [
      'a malformed replay job',
      () => JSON.stringify({ kind: 'fanout.job', job: 'event', tenantId }),
      'malformed_job',
    ],
  ])(
    'sends %s to the DLQ after one receive, body unchanged, with its reason',
    async (_name, body, reason) => {
      const errors = vi.spyOn(logger, 'error');
      const original = body();
      await send(original);

      expect(await service.pollFanout()).toMatchObject({ received: 1, succeeded: 1, failed: 0 });
      expect(await queueDepth(service.clients.sqs, queues().url)).toEqual({ visible: 0, inFlight: 0 });
      const [deadLetter, ...others] = await receiveDeadLetters();
      expect(others).toEqual([]);
      expect(deadLetter?.Body).toBe(original);
      expect(deadLetter?.MessageAttributes?.[DEAD_LETTER_REASON_ATTRIBUTE]?.StringValue).toBe(reason);
      expect(deadLetter?.MessageAttributes?.[DEAD_LETTER_ERROR_ATTRIBUTE]?.StringValue).toEqual(
        expect.any(String),
      );
      // The operator learns which message, what is wrong and what to do.
      expect(errors).toHaveBeenCalledWith(
        'fan-out message sent to the DLQ: it can never succeed',
        expect.objectContaining({ reason, problem: expect.any(String), action: expect.any(String) }),
      );
      errors.mockRestore();

      // Redrive puts it back as it was (where it would fail again: the fix is the publisher's).
      await moveMessages(service.clients.sqs, {
        sourceUrl: queues().deadLetterUrl,
        destinationUrl: queues().url,
      });
      const { Messages = [] } = await service.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queues().url, MaxNumberOfMessages: 10 }),
      );
      expect(Messages.map((message) => message.Body)).toEqual([original]);
      await service.clients.sqs.send(
        new DeleteMessageCommand({
          QueueUrl: queues().url,
          ReceiptHandle: Messages[0]?.ReceiptHandle,
        }),
      );
    },
  );

  const reasonOf = (message: Message) =>
    message.MessageAttributes?.[DEAD_LETTER_REASON_ATTRIBUTE]?.StringValue;
  const takeDeadLetters = async () => {
    const messages = await receiveDeadLetters();
    for (const { ReceiptHandle } of messages) {
      await service.clients.sqs.send(
        new DeleteMessageCommand({ QueueUrl: queues().deadLetterUrl, ReceiptHandle }),
      );
    }
    return messages;
  };
  const pollWith = (handler: ReturnType<typeof fanoutFunction>) =>
    pollOnce(service.clients.sqs, handler, {
      functionName: 'fanout',
      queueUrl: queues().url,
      queueArn: queues().arn,
      batchSize: 10,
    });
  const localDynamo = () =>
    new DynamoDBClient({
      endpoint: inject('dynamoEndpoint'),
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  /** A fan-out instance of its own (so its own tenant cache) that records each DynamoDB call it makes. */
  const instrumentedFanout = () => {
    const dynamo = localDynamo();
    const calls: { command: string; table: string; consistent: boolean }[] = [];
    dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { TableName?: string; ConsistentRead?: boolean };
        const table = Object.entries(service.resources.tables).find(([, name]) => name === input.TableName);
        calls.push({
          command: context.commandName ?? '',
          table: table?.[0] ?? '?',
          consistent: input.ConsistentRead ?? false,
        });
        return next(args);
      },
      { step: 'initialize' },
    );
    const handler = fanoutFunction(service.config, { db: documentClient(dynamo), sqs: service.clients.sqs });
    return {
      calls,
      tenantReads: () => calls.filter((call) => call.table === 'tenants'),
      poll: () => pollWith(handler),
      close: () => dynamo.destroy(),
    };
  };
  const events = () => new EventStore(service.clients.db, service.config.eventsTable);

  it('dead-letters an event for a tenant that does not exist, read again consistently first, and stores nothing', async () => {
    const errors = vi.spyOn(logger, 'error');
    const fanout = instrumentedFanout();
    const unknown = newId('ten');
    await send(busEvent({}, {}, { tenantId: unknown, id: 'evt_unknown' }));

    expect(await fanout.poll()).toMatchObject({ received: 1, succeeded: 1, failed: 0 });
    expect((await takeDeadLetters()).map(reasonOf)).toEqual(['unknown_tenant']);
    // Two reads of the tenant, the second consistent, and nothing else: no claim, no stored event.
    expect(fanout.calls).toEqual([
      { command: 'GetItemCommand', table: 'tenants', consistent: false },
      { command: 'GetItemCommand', table: 'tenants', consistent: true },
    ]);
    expect(await events().get(unknown, 'evt_unknown')).toBeUndefined();
    expect(errors).toHaveBeenCalledWith(
      'fan-out message sent to the DLQ: it can never succeed',
      expect.objectContaining({
        source: `fanout.tenant.${unknown}`,
        id: expect.any(String),
        reason: 'unknown_tenant',
        problem: `tenant ${unknown} does not exist`,
        action: expect.stringMatching(/npm run create-tenant.*--destination <FanoutQueueArn>/),
      }),
    );
    errors.mockRestore();
    fanout.close();
  });

  it('does not remember an unknown tenant: once created, its next event is fanned out by the same instance', async () => {
    const fanout = instrumentedFanout();
    // createTenant draws the id itself: an event naming it is fanned out just before the tenant is written.
    const creating = localDynamo();
    creating.middlewareStack.add(
      (next, context) => async (args) => {
        const item = (args.input as { Item?: Record<string, unknown> }).Item;
        if (context.commandName === 'PutItemCommand' && item?.name === 'late') {
          await send(busEvent({}, {}, { tenantId: String(item.tenantId), id: 'evt_early' }));
          expect(await fanout.poll()).toMatchObject({ received: 1, succeeded: 1, failed: 0 });
        }
        return next(args);
      },
      { step: 'initialize' },
    );
    const late = await createTenant(documentClient(creating), service.config.tenantsTable, { name: 'late' });
    creating.destroy();
    expect((await takeDeadLetters()).map(reasonOf)).toEqual(['unknown_tenant']);

    await send(busEvent({}, {}, { tenantId: late.tenantId, id: 'evt_first' }));
    expect(await fanout.poll()).toMatchObject({ received: 1, succeeded: 1, failed: 0 });
    expect(await events().get(late.tenantId, 'evt_first')).toMatchObject({ id: 'evt_first' });
    expect(await takeDeadLetters()).toEqual([]);
    fanout.close();
  });

  it('fans out a known tenant’s events, reading the tenant once per instance', async () => {
    const fanout = instrumentedFanout();
    // A batch of three, whose records are handled at once, then one more event.
    for (const batch of [['evt_known_1', 'evt_known_2', 'evt_known_3'], ['evt_known_4']]) {
      for (const id of batch) await send(busEvent({}, {}, { id }));
      expect(await fanout.poll()).toMatchObject({
        received: batch.length,
        succeeded: batch.length,
        failed: 0,
      });
      for (const id of batch) expect(await events().get(tenantId, id)).toMatchObject({ id, tenantId });
    }
    // One eventually consistent read for all four: the batch shared it, the last event found it remembered.
    expect(fanout.tenantReads()).toEqual([
      { command: 'GetItemCommand', table: 'tenants', consistent: false },
    ]);
    expect(await takeDeadLetters()).toEqual([]);
    fanout.close();
  });

  it.each([
    // FanoutReason "too_large" is 12 + 6 + 9 = 27 bytes as SQS counts it; FanoutError is longer.
    ['with only its reason when both attributes do not fit', 27, [DEAD_LETTER_REASON_ATTRIBUTE]],
    ['with no attributes when not even the reason fits', 26, []],
  ])('sends a body near the SQS size limit to the DLQ %s', async (_name, room, attributes) => {
    const target = SQS_MAX_MESSAGE_BYTES - room;
    const original = busEvent({}, { blob: 'x'.repeat(target - busEvent({}, { blob: '' }).length) });
    expect(original.length).toBe(target);
    await send(original);

    expect(await service.pollFanout()).toMatchObject({ received: 1, succeeded: 1, failed: 0 });
    const [deadLetter, ...others] = await receiveDeadLetters();
    expect(others).toEqual([]);
    expect(deadLetter?.Body).toBe(original);
    expect(Object.keys(deadLetter?.MessageAttributes ?? {})).toEqual(attributes);
    await service.clients.sqs.send(
      new DeleteMessageCommand({
        QueueUrl: queues().deadLetterUrl,
        ReceiptHandle: deadLetter?.ReceiptHandle,
      }),
    );
  });

  it('leaves transient failures to SQS: a failed DLQ send, a DynamoDB error', async () => {
    // A real SQS client whose SendMessage calls fail, as a throttled call would.
    const flakySqs = new SQSClient({
      endpoint: inject('sqsEndpoint'),
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    flakySqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'SendMessageCommand') throw new Error('injected SQS failure');
        return next(args);
      },
      { step: 'initialize' },
    );
    const handler = fanoutFunction(
      { ...service.config, eventsTable: 'no-such-table' },
      { db: service.clients.db, sqs: flakySqs },
    );
    await send('not json');
    await send(busEvent());

    // Neither is deleted: both come back after the visibility timeout for another receive.
    expect(await pollWith(handler)).toMatchObject({ received: 2, succeeded: 0, failed: 2 });
    expect(await queueDepth(service.clients.sqs, queues().url)).toEqual({ visible: 0, inFlight: 2 });
    expect(await receiveDeadLetters()).toEqual([]);
    flakySqs.destroy();
  });
});
