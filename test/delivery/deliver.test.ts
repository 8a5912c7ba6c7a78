import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeleteMessageCommand } from '@aws-sdk/client-sqs';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { USER_AGENT } from '../../lambdas/delivery/deliver.js';
import { peekAll } from '../../local/emulators/queue-metrics.js';
import { waitFor } from '../../local/wait.js';
import { publishEvent } from '../support/events.js';
import { startReceiver } from '../support/receiver.js';
import { bearer, startTestService } from '../support/service.js';
import { createSubscription } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

describe('Function: deliver', () => {
  // Three attempts, 1 s then 2 s apart, and no jitter, so the retry path runs in seconds and exactly.
  const schedule = [0, 1, 2];
  let service: Service;
  let apiKey: string;
  const visibilityChanges: number[] = [];
  // Receipt handles of messages sent back for a retry, so a test can discard its retries instead of letting
  // them come back during the next test.
  const retried: string[] = [];

  beforeAll(async () => {
    service = await startTestService({
      retryScheduleSeconds: schedule,
      random: () => 0.5,
      attemptTimeoutMs: 500,
    });
    apiKey = (await service.createTenant('deliveries')).apiKey;
    service.clients.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ChangeMessageVisibilityCommand') {
          const input = args.input as { VisibilityTimeout: number; ReceiptHandle: string };
          visibilityChanges.push(input.VisibilityTimeout);
          retried.push(input.ReceiptHandle);
        }
        return next(args);
      },
      { step: 'initialize' },
    );
  });
  afterAll(() => service.close());
  beforeEach(() => {
    visibilityChanges.length = 0;
    retried.length = 0;
  });

  const subscribe = (url: string, eventTypes = ['*']) =>
    createSubscription(service.api, apiKey, { url, eventTypes });
  const publish = async (type: string, data: Record<string, unknown>) => {
    const id = await publishEvent(service.api, apiKey, { type, data });
    await service.pollFanout();
    return id;
  };
  const unsubscribe = (id: string) =>
    service.api({ method: 'DELETE', path: `/subscriptions/${id}`, headers: bearer(apiKey) });
  const discardRetries = async () => {
    for (const receiptHandle of retried.splice(0)) {
      await service.clients.sqs.send(
        new DeleteMessageCommand({
          QueueUrl: service.resources.queues.delivery.url,
          ReceiptHandle: receiptHandle,
        }),
      );
    }
  };

  it('POSTs the event signed per Standard Webhooks, the same webhook-id to every subscriber', async () => {
    const first = await startReceiver();
    const second = await startReceiver();
    const subscriptions = [await subscribe(first.url), await subscribe(second.url)];
    first.useSecret(subscriptions[0]?.secret ?? '');
    second.useSecret(subscriptions[1]?.secret ?? '');

    const before = Math.floor(Date.now() / 1000);
    const id = await publish('payment.settled', { amount: 1250, currency: 'EUR' });
    expect(await service.pollDelivery()).toMatchObject({ received: 2, succeeded: 2, failed: 0 });

    for (const receiver of [first, second]) {
      const [delivery] = receiver.received;
      expect(receiver.received).toHaveLength(1);
      expect(delivery?.verificationError).toBeUndefined();
      expect(delivery?.headers['webhook-id']).toBe(id);
      expect(delivery?.headers['content-type']).toBe('application/json');
      expect(delivery?.headers['user-agent']).toBe(USER_AGENT);
      expect(Number(delivery?.headers['webhook-timestamp'])).toBeGreaterThanOrEqual(before);
      const body = JSON.parse(delivery?.body ?? '');
      expect(Object.keys(body)).toEqual(['type', 'timestamp', 'data']);
      expect(body).toMatchObject({ type: 'payment.settled', data: { amount: 1250, currency: 'EUR' } });
      expect(new Date(body.timestamp).toISOString()).toBe(body.timestamp);
    }
    // Each subscription has its own secret: another subscription's secret does not verify the delivery.
    const delivered = first.received[0];
    expect(() =>
      new Webhook(subscriptions[1]?.secret ?? '').verify(
        delivered?.body ?? '',
        delivered?.headers as Record<string, string>,
      ),
    ).toThrow(WebhookVerificationError);
    for (const subscription of subscriptions) await unsubscribe(subscription.id);
    await Promise.all([first.close(), second.close()]);
  });

  it('retries a failing receiver on the schedule, then leaves the message in the DLQ', async () => {
    const receiver = await startReceiver({ status: 500 });
    const subscription = await subscribe(receiver.url);
    receiver.useSecret(subscription.secret);
    const id = await publish('order.failed', { n: 1 });

    const dlqMessages = await waitFor(
      async () => {
        await service.pollDelivery(1);
        const inDlq = await peekAll(service.clients.sqs, service.resources.queues.delivery.deadLetterUrl, 1);
        return inDlq.length > 0 ? inDlq : undefined;
      },
      { timeoutMs: 20_000, what: 'the message to reach the DLQ' },
    );

    expect(receiver.received).toHaveLength(schedule.length);
    for (const attempt of receiver.received) {
      expect(attempt.verificationError).toBeUndefined();
      expect(attempt.headers['webhook-id']).toBe(id);
    }
    // Growing delays from the schedule, then 0 after the last attempt so SQS moves it to the DLQ at once.
    expect(visibilityChanges).toEqual([1, 2, 0]);
    expect(dlqMessages).toHaveLength(1);
    // The dead letter is the v2 message, the small event inline; the event store keeps it too, for replay.
    expect(JSON.parse(dlqMessages[0]?.body ?? '')).toEqual({
      v: 2,
      tenantId: expect.any(String),
      subscriptionId: subscription.id,
      eventId: id,
      event: { type: 'order.failed', timestamp: expect.any(String), data: { n: 1 } },
    });
    expect(await peekAll(service.clients.sqs, service.resources.queues.delivery.url, 1)).toEqual([]);
    await unsubscribe(subscription.id);
    await receiver.close();
  });

  it.each([
    ['a redirect, which it does not follow', 'redirect', 1],
    // A timeout waits at least the throttled minimum (60 s) however short the step.
    ['a receiver that does not answer in time', 'hang', 60],
    ['a closed port', 'closed', 1],
  ])('counts %s as a failed attempt', async (_name, behaviour, retryInSeconds) => {
    const redirectTarget = await startReceiver();
    const server = createServer((_request, response) => {
      if (behaviour === 'redirect') response.writeHead(302, { location: redirectTarget.url }).end();
      // 'hang' never answers; the attempt times out.
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    if (behaviour === 'closed') await new Promise((resolve) => server.close(resolve));
    const subscription = await subscribe(`http://127.0.0.1:${port}/hook`);

    await publish('order.odd', {});
    expect(await service.pollDelivery()).toMatchObject({ received: 1, failed: 1 });
    expect(visibilityChanges).toEqual([retryInSeconds]);
    expect(redirectTarget.received).toEqual([]);

    await discardRetries();
    await unsubscribe(subscription.id);
    server.closeAllConnections();
    server.close();
    await redirectTarget.close();
  });

  it('skips, without retrying, deliveries whose subscription was disabled or deleted after fan-out', async () => {
    const receiver = await startReceiver();
    const disabled = await subscribe(receiver.url);
    const deleted = await subscribe(receiver.url);
    const narrowed = await subscribe(receiver.url, ['order.*']);
    await publish('order.late', {});
    await service.api({
      method: 'PATCH',
      path: `/subscriptions/${disabled.id}`,
      headers: bearer(apiKey),
      body: '{"status":"disabled"}',
    });
    await unsubscribe(deleted.id);
    await service.api({
      method: 'PATCH',
      path: `/subscriptions/${narrowed.id}`,
      headers: bearer(apiKey),
      body: '{"eventTypes":["user.*"]}',
    });

    expect(await service.pollDelivery()).toMatchObject({ received: 3, succeeded: 3, failed: 0 });
    expect(receiver.received).toEqual([]);
    expect(await peekAll(service.clients.sqs, service.resources.queues.delivery.url, 1)).toEqual([]);
    await unsubscribe(disabled.id);
    await unsubscribe(narrowed.id);
    await receiver.close();
  });
});
