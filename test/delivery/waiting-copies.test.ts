import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attemptNumber,
  deliveryMessage,
  parseDeliveryMessage,
  waitingCopy,
} from '../../lambdas/contract/delivery-message.js';
import { DELIVERY_DEAD_LETTER_REASON_ATTRIBUTE } from '../../lambdas/delivery/handler.js';
import { PoisonMessageError } from '../../lambdas/platform/errors.js';
import { newId } from '../../lambdas/platform/ids.js';
import { SubscriptionStore } from '../../lambdas/storage/subscriptions.js';
import { queueDepth } from '../../local/emulators/queue-metrics.js';
import { waitFor } from '../../local/wait.js';
import { startReceiver } from '../support/receiver.js';
import { bearer, startTestService } from '../support/service.js';
import { createSubscription } from '../support/subscriptions.js';

describe('Contract: a waiting copy of a delivery message', () => {
  const original = deliveryMessage('ten_1', 'sub_1', 'evt_1');

  const queuedAt = new Date('2026-12-01T10:00:00.000Z');

  it('carries the attempts made before it and when the first copy was queued', () => {
    const copy = waitingCopy(original, 3, queuedAt);
    expect(copy).toEqual({ ...original, attemptsBefore: 3, queuedAt: '2026-12-01T10:00:00.000Z' });
    expect(attemptNumber(copy, 1)).toBe(4);
    expect(attemptNumber(original, 1)).toBe(1);
    expect(parseDeliveryMessage(JSON.stringify(copy))).toEqual(copy);
    // A copy of a copy replaces the count; none is written before the first attempt.
    expect(waitingCopy(copy, 5, queuedAt)).toMatchObject({ attemptsBefore: 5 });
    expect(waitingCopy(copy, 0, queuedAt)).not.toHaveProperty('attemptsBefore');
  });

  it('refuses a count that is not a positive whole number, and a queued time that is not one', () => {
    for (const attemptsBefore of [0, -1, 1.5, '2']) {
      expect(() => parseDeliveryMessage(JSON.stringify({ ...original, attemptsBefore }))).toThrow(
        PoisonMessageError,
      );
    }
    for (const bad of ['yesterday', 1_764_000_000_000, '']) {
      expect(() => parseDeliveryMessage(JSON.stringify({ ...original, queuedAt: bad }))).toThrow(
        PoisonMessageError,
      );
    }
  });
});

describe('Function: deliver, copies that run out', () => {
  // Three attempts, no backoff, so a delivery's schedule has no time to wait in.
  let service: Awaited<ReturnType<typeof startTestService>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let apiKey: string;
  let tenantId: string;

  beforeAll(async () => {
    service = await startTestService({ retryScheduleSeconds: [0, 0, 0] });
    receiver = await startReceiver({ status: 500 });
    ({ apiKey, tenantId } = await service.createTenant('copies'));
  });
  afterAll(async () => {
    await receiver.close();
    await service.close();
  });

  const sendCopy = async (subscriptionId: string, attemptsMade: number, queuedAt: Date) => {
    const event = { type: 'order.created', timestamp: new Date().toISOString(), data: { n: 1 } };
    const message = deliveryMessage(tenantId, subscriptionId, newId('evt'), false, event);
    await service.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: service.resources.queues.delivery.url,
        MessageBody: JSON.stringify(waitingCopy(message, attemptsMade, queuedAt)),
      }),
    );
  };
  const untilDeadLettered = async (count: number) => {
    const { deadLetterUrl } = service.resources.queues.delivery;
    await waitFor(
      async () => {
        await service.pollDelivery();
        const depth = await queueDepth(service.clients.sqs, deadLetterUrl);
        return depth.visible + depth.inFlight === count ? true : undefined;
      },
      { what: `${count} message(s) in the delivery DLQ` },
    );
    expect(await queueDepth(service.clients.sqs, service.resources.queues.delivery.url)).toEqual({
      visible: 0,
      inFlight: 0,
    });
  };
  /** The DLQ's messages: each the original message, with why deliver sent it there. */
  const deadLetters = async () => {
    const { Messages = [] } = await service.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: service.resources.queues.delivery.deadLetterUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    return Messages.map((message) => ({
      body: JSON.parse(message.Body ?? '') as Record<string, unknown>,
      reason: message.MessageAttributes?.[DELIVERY_DEAD_LETTER_REASON_ATTRIBUTE]?.StringValue,
    }));
  };
  const attemptsOf = async (subscriptionId: string) =>
    (
      JSON.parse(
        (
          await service.api({
            method: 'GET',
            path: `/subscriptions/${subscriptionId}/attempts`,
            headers: bearer(apiKey),
          })
        ).body,
      ) as { items: { attempt: number; result: string }[] }
    ).items;

  it('makes only the attempts left to it, then goes to the DLQ as the original message, without another request', async () => {
    const { id } = await createSubscription(service.api, apiKey, { url: receiver.url });
    await sendCopy(id, 2, new Date());
    await untilDeadLettered(1);
    // Attempt 3 of 3 was its only request.
    expect(receiver.received).toHaveLength(1);
    expect(await attemptsOf(id)).toEqual([expect.objectContaining({ attempt: 3, result: 'failed' })]);
    // Without what the copy carried, so that a redrive gives it a whole schedule again.
    const [dead] = await deadLetters();
    expect(dead?.reason).toBe('attempts_exhausted');
    expect(dead?.body).toMatchObject({ subscriptionId: id });
    expect(dead?.body).not.toHaveProperty('attemptsBefore');
    expect(dead?.body).not.toHaveProperty('queuedAt');
  });

  it('goes to the DLQ as the original message after its last attempt, even when it waited before its first', async () => {
    const { id } = await createSubscription(service.api, apiKey, { url: receiver.url });
    const before = receiver.received.length;
    await sendCopy(id, 0, new Date());
    await untilDeadLettered(2);
    expect(receiver.received).toHaveLength(before + 3);
    const mine = (await deadLetters()).filter((dead) => dead.body.subscriptionId === id);
    expect(mine).toEqual([expect.objectContaining({ reason: 'attempts_exhausted' })]);
    expect(mine[0]?.body).not.toHaveProperty('queuedAt');
  });

  it('goes to the DLQ without a request when its schedule’s time runs out behind an open circuit', async () => {
    const { id } = await createSubscription(service.api, apiKey, { url: receiver.url });
    const store = new SubscriptionStore(service.clients.db, service.resources.tables.subscriptions);
    const now = new Date();
    expect(await store.health.openCircuit(tenantId, id, now, new Date(now.getTime() + 600_000), 1)).toBe(
      true,
    );
    const before = receiver.received.length;
    await sendCopy(id, 1, new Date(now.getTime() - 60_000));
    await untilDeadLettered(3);
    expect(receiver.received).toHaveLength(before);
    expect(await attemptsOf(id)).toEqual([]);
    const reasons = (await deadLetters()).map((dead) => [dead.body.subscriptionId, dead.reason]);
    expect(reasons).toContainEqual([id, 'out_of_time']);
  });
});
