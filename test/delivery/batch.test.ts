import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { INLINE_EVENT_MAX_BYTES } from '../../lambdas/contract/delivery-message.js';
import { logger } from '../../lambdas/platform/logger.js';
import { AttemptLog } from '../../lambdas/storage/attempts.js';
import { waitFor } from '../../local/wait.js';
import { publishEvent } from '../support/events.js';
import { startReceiver } from '../support/receiver.js';
import { bearer, startTestService } from '../support/service.js';
import { createSubscription, subscribeReceiver } from '../support/subscriptions.js';

/**
 * A batch of deliveries shares its reads and writes (delivery/session.ts): the calls each poll makes are
 * counted by middleware on the service's own DynamoDB client, and every delivery is still checked at a real
 * receiver that verifies its signature.
 */
describe('Function: deliver, one batch at a time', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  let apiKey: string;
  let calls: { command: string; table: string }[] = [];
  /** Commands the next matching calls fail with, as a throttled or failing DynamoDB would. */
  const failNext = new Map<string, number>();

  beforeAll(async () => {
    // Records wait for the end of the batch here, so the calls per batch are exact; the grouping itself is
    // tested below.
    service = await startTestService({ attemptLog: 'all', attemptRecordGroupingMs: 60_000 });
    ({ apiKey } = await service.createTenant('batches'));
    service.clients.db.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { TableName?: string; RequestItems?: Record<string, unknown> };
        const table = input.TableName ?? Object.keys(input.RequestItems ?? {}).join(',');
        calls.push({ command: context.commandName ?? '', table });
        const failures = failNext.get(context.commandName ?? '') ?? 0;
        if (failures > 0) {
          failNext.set(context.commandName ?? '', failures - 1);
          throw Object.assign(new Error('injected failure'), { name: 'InternalServerError' });
        }
        return next(args);
      },
      { step: 'initialize', name: 'countCalls' },
    );
  });
  afterAll(() => service?.close());

  const tables = () => service.resources.tables;
  const countOf = (command: string, table: string) =>
    calls.filter((call) => call.command === command && call.table.includes(table)).length;

  /** `count` subscriptions to `type`, each with its own verifying receiver. */
  async function subscribers(type: string, count: number) {
    return Promise.all(
      Array.from({ length: count }, async () => {
        const receiver = await startReceiver();
        const { id } = await subscribeReceiver(service.api, apiKey, receiver, { eventTypes: [type] });
        return { id, receiver };
      }),
    );
  }

  async function publishAndFanOut(type: string, data: Record<string, unknown>) {
    const id = await publishEvent(service.api, apiKey, { type, data });
    expect(await service.pollFanout()).toMatchObject({ received: 1, succeeded: 1 });
    return id;
  }

  /** Polls the delivery queue until `expected` messages were handled; returns how many polls that took. */
  async function deliverAll(expected: number) {
    let handled = 0;
    let polls = 0;
    for (let round = 0; handled < expected && round < 50; round++) {
      const result = await service.pollDelivery();
      if (result.received === 0) continue;
      expect(result).toMatchObject({ failed: 0 });
      handled += result.received;
      polls++;
    }
    expect(handled).toBe(expected);
    return polls;
  }

  const attemptsOf = async (subscriptionId: string) =>
    JSON.parse(
      (
        await service.api({
          method: 'GET',
          path: `/subscriptions/${subscriptionId}/attempts`,
          headers: bearer(apiKey),
        })
      ).body,
    ).items as { eventId: string; result: string }[];

  it('reads the batch’s subscriptions in one call, a small event from the message, and records attempts in one call', async () => {
    const subs = await subscribers('batch.small', 10);
    const eventId = await publishAndFanOut('batch.small', { order: 7 });
    calls = [];
    const polls = await deliverAll(10);

    expect(countOf('BatchGetItemCommand', tables().subscriptions)).toBe(polls);
    expect(countOf('GetItemCommand', tables().subscriptions)).toBe(0);
    expect(countOf('GetItemCommand', tables().events)).toBe(0);
    expect(countOf('BatchWriteItemCommand', tables().attempts)).toBe(polls);
    expect(countOf('PutItemCommand', tables().attempts)).toBe(0);
    for (const { id, receiver } of subs) {
      expect(receiver.received).toHaveLength(1);
      expect(receiver.received[0]?.verified).toMatchObject({ type: 'batch.small', data: { order: 7 } });
      expect(await attemptsOf(id)).toEqual([expect.objectContaining({ eventId, result: 'delivered' })]);
    }
    await Promise.all(subs.map(({ receiver }) => receiver.close()));
  });

  it('reads an event too large to ride in its messages once per batch, however many messages name it', async () => {
    const subs = await subscribers('batch.large', 4);
    const data = { blob: 'x'.repeat(INLINE_EVENT_MAX_BYTES) };
    await publishAndFanOut('batch.large', data);
    calls = [];
    const polls = await deliverAll(4);

    expect(countOf('GetItemCommand', tables().events)).toBe(polls);
    for (const { receiver } of subs) {
      expect(receiver.received).toHaveLength(1);
      expect(receiver.received[0]?.verified).toMatchObject({ data });
    }
    await Promise.all(subs.map(({ receiver }) => receiver.close()));
  });

  it('reads subscriptions one by one when the batch read fails, and still delivers every message', async () => {
    const subs = await subscribers('batch.fallback', 3);
    await publishAndFanOut('batch.fallback', { n: 1 });
    // Thrown above the SDK's retries, so the batch read itself fails.
    failNext.set('BatchGetItemCommand', 10);
    calls = [];
    await deliverAll(3);
    failNext.clear();

    expect(countOf('GetItemCommand', tables().subscriptions)).toBe(3);
    for (const { receiver } of subs) expect(receiver.received.map((d) => d.verified)).toHaveLength(1);
    for (const { receiver } of subs) expect(receiver.received[0]?.verificationError).toBeUndefined();
    await Promise.all(subs.map(({ receiver }) => receiver.close()));
  });

  it('fails a malformed message on its own and delivers the rest of its batch', async () => {
    const [sub] = await subscribers('batch.poison', 1);
    await publishAndFanOut('batch.poison', { n: 1 });
    await service.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: service.resources.queues.delivery.url, MessageBody: '{"v":2}' }),
    );
    let received = 0;
    let failed = 0;
    for (let round = 0; received < 2 && round < 50; round++) {
      const result = await service.pollDelivery();
      received += result.received;
      failed += result.failed;
    }
    expect({ received, failed }).toEqual({ received: 2, failed: 1 });
    expect(sub?.receiver.received).toHaveLength(1);
    await sub?.receiver.close();
  });

  it('logs, and does not retry, deliveries whose attempt records could not be written', async () => {
    const error = vi.spyOn(logger, 'error');
    const subs = await subscribers('batch.unrecorded', 2);
    const eventId = await publishAndFanOut('batch.unrecorded', { n: 1 });
    failNext.set('BatchWriteItemCommand', 10);
    await deliverAll(2);
    failNext.clear();

    // Delivered once each, the messages deleted: a lost record must not send the webhook again.
    expect(await service.pollDelivery()).toMatchObject({ received: 0 });
    for (const { id, receiver } of subs) {
      expect(receiver.received).toHaveLength(1);
      expect(await attemptsOf(id)).toEqual([]);
    }
    const unrecorded = error.mock.calls.filter(([message]) => message === 'attempt not recorded');
    expect(
      unrecorded.map(([, fields]) => (fields as { subscriptionId: string }).subscriptionId).sort(),
    ).toEqual(subs.map(({ id }) => id).sort());
    expect(unrecorded.every(([, fields]) => (fields as { eventId: string }).eventId === eventId)).toBe(true);
    error.mockRestore();
    await Promise.all(subs.map(({ receiver }) => receiver.close()));
  });
});

describe('Function: deliver, attempt records of a batch', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;

  beforeAll(async () => {
    service = await startTestService({ attemptLog: 'all' });
  });
  afterAll(() => service?.close());

  it('records a finished attempt without waiting for the slowest delivery of its batch', async () => {
    const { apiKey, tenantId } = await service.createTenant('stragglers');
    // A receiver that holds every request until released.
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = createServer((request, response) => {
      request.resume();
      void released.then(() => response.writeHead(204).end());
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const fast = await startReceiver();
    const subscribe = async (url: string) =>
      (await createSubscription(service.api, apiKey, { url, eventTypes: ['straggler.*'] })).id;
    const fastId = await subscribe(fast.url);
    const slowId = await subscribe(`http://127.0.0.1:${(slow.address() as AddressInfo).port}/`);
    await publishEvent(service.api, apiKey, { type: 'straggler.event', data: {} });
    expect(await service.pollFanout()).toMatchObject({ received: 1 });

    const attempts = new AttemptLog(service.clients.db, service.resources.tables.attempts);
    const recorded = (id: string) => attempts.listBySubscription(tenantId, id, { limit: 10 });
    const poll = service.pollDelivery();
    // While the slow delivery is still waiting for its answer, the fast one's attempt is already stored.
    await waitFor(async () => ((await recorded(fastId)).items.length === 1 ? true : undefined), {
      what: "the fast delivery's attempt",
    });
    expect((await recorded(slowId)).items).toEqual([]);
    release();
    expect(await poll).toMatchObject({ received: 2, succeeded: 2 });
    expect((await recorded(slowId)).items).toEqual([expect.objectContaining({ result: 'delivered' })]);
    await fast.close();
    slow.closeAllConnections();
    await new Promise((resolve) => slow.close(resolve));
  });
});
