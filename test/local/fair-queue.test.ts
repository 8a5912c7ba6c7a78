import { randomUUID } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { FairQueue, type GroupedMessage } from '../../local/emulators/fair-queue.js';

/**
 * The local SQS engine dequeues a standard queue as an SQS fair queue does, by the rules of "How Amazon SQS
 * fair queues work" (local/emulators/fair-queue.ts): a tenant (MessageGroupId) with more than 10% of the
 * queue's in-flight messages and at least 30 of its own is noisy, and while it is, receives return the other
 * tenants' messages first.
 */
describe('Local SQS engine: fair queues, as SQS documents them', () => {
  const sqs = new SQSClient({
    endpoint: inject('sqsEndpoint'),
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  let queueUrl: string;

  beforeEach(async () => {
    // Received messages stay in flight for the whole test unless it deletes them.
    const created = await sqs.send(
      new CreateQueueCommand({ QueueName: `fair-${randomUUID()}`, Attributes: { VisibilityTimeout: '300' } }),
    );
    queueUrl = created.QueueUrl as string;
  });
  afterEach(() => sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl })));
  afterAll(() => sqs.destroy());

  /** Sends `count` messages "<label>-<n>" with `group` as MessageGroupId (none when undefined), in batches. */
  const send = async (group: string | undefined, from: number, count: number, label = group ?? 'none') => {
    for (let start = from; start < from + count; start += 10) {
      const size = Math.min(10, from + count - start);
      const { Failed = [] } = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Array.from({ length: size }, (_, index) => ({
            Id: String(index),
            MessageBody: `${label}-${start + index}`,
            ...(group === undefined ? {} : { MessageGroupId: group }),
          })),
        }),
      );
      expect(Failed).toEqual([]);
    }
  };
  const handles = new Map<string, string>();
  /** One receive of up to `max` messages: their bodies, in the order returned. */
  const receive = async (max = 10) => {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: max,
        MessageSystemAttributeNames: ['MessageGroupId'],
      }),
    );
    return Messages.map((message) => {
      handles.set(message.Body ?? '', message.ReceiptHandle ?? '');
      const group = message.Attributes?.MessageGroupId;
      expect(message.Body?.startsWith(`${group ?? 'none'}-`)).toBe(true);
      return message.Body ?? '';
    });
  };
  /** Receives until `count` messages are in flight from these receives; their bodies in order. */
  const receiveAll = async (count: number) => {
    const bodies: string[] = [];
    while (bodies.length < count) bodies.push(...(await receive(Math.min(10, count - bodies.length))));
    return bodies;
  };
  const remove = async (bodies: string[]) => {
    for (let start = 0; start < bodies.length; start += 10) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: bodies
            .slice(start, start + 10)
            .map((body, index) => ({ Id: String(index), ReceiptHandle: handles.get(body) })),
        }),
      );
    }
  };
  const bodies = (label: string, from: number, count: number) =>
    Array.from({ length: count }, (_, index) => `${label}-${from + index}`);

  it('returns the message group as a system attribute, and a quiet queue in the order sent', async () => {
    await send('ten_a', 0, 3);
    await send(undefined, 0, 2);
    await send('ten_b', 0, 3);
    expect(await receive()).toEqual([
      ...bodies('ten_a', 0, 3),
      ...bodies('none', 0, 2),
      ...bodies('ten_b', 0, 3),
    ]);
  });

  it('serves the other tenants first once a tenant has 30 messages in flight, and fills the rest with its', async () => {
    await send('ten_a', 0, 200);
    await send('ten_b', 0, 5);
    expect(await receiveAll(30)).toEqual(bodies('ten_a', 0, 30));
    expect(await receive()).toEqual([...bodies('ten_b', 0, 5), ...bodies('ten_a', 30, 5)]);
    // No quiet tenant waits any more: the noisy one's messages come as usual.
    expect(await receive()).toEqual(bodies('ten_a', 35, 10));
  });

  it('keeps the order sent while the tenant has fewer than 30 in flight', async () => {
    await send('ten_a', 0, 200);
    await send('ten_b', 0, 5);
    expect(await receiveAll(29)).toEqual(bodies('ten_a', 0, 29));
    expect(await receive()).toEqual(bodies('ten_a', 29, 10));
    expect(await receive()).toEqual([...bodies('ten_b', 0, 5), ...bodies('ten_a', 39, 5)]);
  });

  it('needs more than 10% of the queue in flight, and counts each message without a group as its own tenant', async () => {
    // 300 in flight without a group: 300 tenants of one message each, none of them noisy.
    await send(undefined, 0, 300);
    expect(await receiveAll(300)).toHaveLength(300);
    await send('ten_a', 0, 60);
    await send('ten_b', 0, 5);
    expect(await receiveAll(30)).toEqual(bodies('ten_a', 0, 30));
    // 30 of 330 in flight is not over 10%.
    expect(await receive()).toEqual(bodies('ten_a', 30, 10));
    // 40 of 340 is.
    expect(await receive()).toEqual([...bodies('ten_b', 0, 5), ...bodies('ten_a', 40, 5)]);
  });

  it('serves messages without a group before a noisy tenant', async () => {
    await send('ten_a', 0, 100);
    await send(undefined, 0, 5);
    expect(await receiveAll(30)).toEqual(bodies('ten_a', 0, 30));
    expect(await receive()).toEqual([...bodies('none', 0, 5), ...bodies('ten_a', 30, 5)]);
  });

  it('serves the noisy tenant with the fewest in flight first', async () => {
    await send('ten_a', 0, 100);
    await send('ten_c', 0, 100);
    expect(await receiveAll(30)).toEqual(bodies('ten_a', 0, 30));
    // ten_a is noisy, ten_c quiet until it has 30 in flight too.
    expect(await receiveAll(30)).toEqual(bodies('ten_c', 0, 30));
    // Both noisy with 30 in flight each: a receive shares between them.
    const even = await receive();
    expect(even.filter((body) => body.startsWith('ten_a-'))).toEqual(bodies('ten_a', 30, 5));
    expect(even.filter((body) => body.startsWith('ten_c-'))).toEqual(bodies('ten_c', 30, 5));
    // ten_c with 20 in flight to ten_a's 35: ten_c's messages.
    await remove(bodies('ten_c', 0, 15));
    expect(await receive()).toEqual(bodies('ten_c', 35, 10));
  });

  it('keeps a tenant noisy below the thresholds until its backlog drains, then serves it as any other', async () => {
    await send('ten_a', 0, 50);
    expect(await receiveAll(30)).toEqual(bodies('ten_a', 0, 30));
    expect(await receive()).toEqual(bodies('ten_a', 30, 10));
    await remove(bodies('ten_a', 0, 35));
    await send('ten_b', 0, 5);
    // 5 in flight, but still noisy: its backlog has not drained.
    expect(await receive()).toEqual([...bodies('ten_b', 0, 5), ...bodies('ten_a', 40, 5)]);
    expect(await receive()).toEqual(bodies('ten_a', 45, 5));
    // Drained, with 15 in flight: quiet again, so its new messages come in the order sent.
    await send('ten_a', 50, 10);
    await send('ten_b', 5, 5);
    expect(await receive()).toEqual(bodies('ten_a', 50, 10));
    expect(await receive()).toEqual(bodies('ten_b', 5, 5));
  });
});

describe('Fair queue order: a noisy tenant that sent nothing for 5 minutes', () => {
  const MINUTE = 60_000;
  const messages = (group: string, count: number): GroupedMessage[] =>
    Array.from({ length: count }, () => ({ messageGroupId: group }));

  it('is quiet again, its backlog served in the order sent', () => {
    const fair = new FairQueue();
    fair.sent('ten_a', 0);
    fair.sent('ten_b', 0);
    const inFlight = messages('ten_a', 30).map((message) => ({ message }));
    const waiting = () => [...messages('ten_a', 20), { messageGroupId: 'ten_b' }];

    const early = waiting();
    fair.reorder(early, inFlight, inFlight.length, 10, 5 * MINUTE - 1);
    expect(early[0]?.messageGroupId).toBe('ten_b');

    const late = waiting();
    fair.reorder(late, inFlight, inFlight.length, 10, 5 * MINUTE);
    expect(late.map((message) => message.messageGroupId)).toEqual(waiting().map((m) => m.messageGroupId));
  });
});
