import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { logger } from '../../lambdas/platform/logger.js';
import { waitFor } from '../../local/wait.js';
import { publishEvent } from '../support/events.js';
import { startReceiver } from '../support/receiver.js';
import { bearer, startTestService } from '../support/service.js';
import { subscribeReceiver } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

/**
 * The circuit breaker against a real receiver: three failures in a row open the circuit for three seconds, the
 * deliveries behind them wait without a request, and the first probe that succeeds closes it and lets the
 * backlog through. Delays are SQS's own (whole seconds), so the test waits on them, bounded.
 */
describe('Function: deliver, the circuit breaker', () => {
  // Nine attempts at once, so a failure is retried at the next receive and only the circuit holds a delivery
  // back; the tenth step gives the schedule ten minutes, time enough to wait behind the circuit.
  const schedule = [...Array.from({ length: 9 }, () => 0), 600];
  let service: Service;
  let apiKey: string;
  let tenantId: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let subscriptionId: string;
  let updates: { table: string; update: string }[];
  const waitingSends: { group: string | undefined; delay: number | undefined }[] = [];

  beforeAll(async () => {
    service = await startTestService({
      retryScheduleSeconds: schedule,
      random: () => 0,
      circuitPolicy: { failureThreshold: 3, firstOpenSeconds: 3 },
    });
    ({ apiKey, tenantId } = await service.createTenant('circuit'));
    receiver = await startReceiver({ status: 503 });
    updates = [];
    service.clients.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { QueueUrl?: string; MessageGroupId?: string; DelaySeconds?: number };
        if (
          context.commandName === 'SendMessageCommand' &&
          input.QueueUrl === service.resources.queues.delivery.url
        )
          waitingSends.push({ group: input.MessageGroupId, delay: input.DelaySeconds });
        return next(args);
      },
      { step: 'initialize' },
    );
    service.clients.db.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { TableName?: string; UpdateExpression?: string };
        if (
          context.commandName === 'UpdateItemCommand' &&
          input.TableName === service.resources.tables.subscriptions
        )
          updates.push({ table: input.TableName, update: input.UpdateExpression ?? '' });
        return next(args);
      },
      { step: 'initialize' },
    );
    const created = await subscribeReceiver(service.api, apiKey, receiver);
    subscriptionId = created.id;
    expect(created.circuit).toEqual({ state: 'closed' });
  });
  afterAll(async () => {
    await receiver.close();
    await service.close();
  });

  const publish = async (count: number) => {
    for (let n = 0; n < count; n++) await publishEvent(service.api, apiKey, { data: { n } });
    while ((await service.pollFanout()).received > 0);
  };
  const subscription = async () =>
    JSON.parse(
      (
        await service.api({
          method: 'GET',
          path: `/subscriptions/${subscriptionId}`,
          headers: bearer(apiKey),
        })
      ).body,
    ) as { circuit: { state: string; consecutiveFailures?: number; openUntil?: string } };
  const circuitEvents = () =>
    service.operationalEvents
      .map((event) => event['detail-type'] as string)
      .filter((type) => type.startsWith('webhook.subscription.circuit_'));
  const attemptsRecorded = async () =>
    (
      JSON.parse(
        (
          await service.api({
            method: 'GET',
            path: `/subscriptions/${subscriptionId}/attempts?limit=100`,
            headers: bearer(apiKey),
          })
        ).body,
      ) as { items: { attempt: number }[] }
    ).items;
  /** Every message on the delivery queue: visible, in flight or delayed (a waiting copy). */
  const messagesOnQueue = async () => {
    const { Attributes = {} } = await service.clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: service.resources.queues.delivery.url,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    );
    return Object.values(Attributes).reduce((sum, value) => sum + Number(value), 0);
  };

  it('opens after three failures in a row: deliveries then wait without a request or an attempt', async () => {
    await publish(5);
    // Polled one at a time, so that the circuit is open before the fourth delivery is handled.
    await waitFor(
      async () => {
        await service.pollDelivery();
        return circuitEvents().includes('webhook.subscription.circuit_opened') ? true : undefined;
      },
      { what: 'the circuit to open' },
    );
    const requestsWhenOpened = receiver.received.length;
    expect(requestsWhenOpened).toBeGreaterThanOrEqual(3);
    const open = await subscription();
    expect(open.circuit).toMatchObject({ state: 'open', consecutiveFailures: requestsWhenOpened });
    expect(Date.parse(open.circuit.openUntil ?? '')).toBeGreaterThan(Date.now() - 1_000);

    // Whatever is received while it is open waits: a new delayed copy, no request, no attempt record.
    const onQueueBefore = await messagesOnQueue();
    const logged = vi.spyOn(logger, 'info');
    // All five failed, none delivered: visible again at once (no backoff here), well within the open time.
    expect(await service.pollDelivery()).toMatchObject({ received: 5, failed: 0 });
    expect(receiver.received).toHaveLength(requestsWhenOpened);
    // Each says why it waits.
    const waits = logged.mock.calls.filter(([message]) => message === 'webhook waiting');
    logged.mockRestore();
    expect(waits.map(([, fields]) => (fields as { reason?: string }).reason)).toEqual(
      Array(5).fill('circuit_open'),
    );
    // Each waits as a copy in its tenant's message group (fairness holds for waiting copies too), delayed.
    expect(waitingSends).toHaveLength(5);
    for (const send of waitingSends) {
      expect(send.group).toBe(tenantId);
      expect(send.delay).toBeGreaterThanOrEqual(1);
    }
    // Every message is still there (visible, in flight or delayed): waiting loses none.
    expect(await messagesOnQueue()).toBe(onQueueBefore);
    expect((await attemptsRecorded()).length).toBe(requestsWhenOpened);
  });

  it('lets one probe through once the open time is over; its success closes the circuit and the backlog flows', async () => {
    receiver.respondWith(204);
    const delivered = await waitFor(
      async () => {
        await service.pollDelivery(1);
        const ok = receiver.received.filter((delivery) => delivery.status === 204);
        const events = new Set(ok.map((delivery) => delivery.headers['webhook-id']));
        return events.size === 5 ? ok : undefined;
      },
      { timeoutMs: 20_000, what: 'all five events delivered' },
    );
    expect(delivered.every((delivery) => delivery.verified !== undefined)).toBe(true);
    expect(circuitEvents()).toEqual([
      'webhook.subscription.circuit_opened',
      'webhook.subscription.circuit_closed',
    ]);
    expect((await subscription()).circuit).toEqual({ state: 'closed' });
    expect(await messagesOnQueue()).toBe(0);
    // Attempt numbers count requests only: no receive spent waiting was counted as an attempt.
    const numbers = (await attemptsRecorded()).map((record) => record.attempt);
    expect(Math.max(...numbers)).toBeLessThanOrEqual(receiver.received.length);
  });

  it('writes nothing about a healthy endpoint: no update of the subscription per delivery', async () => {
    updates.length = 0;
    const before = receiver.received.length;
    await publish(4);
    await waitFor(
      async () => {
        await service.pollDelivery();
        return receiver.received.length === before + 4 ? true : undefined;
      },
      { what: 'four deliveries' },
    );
    expect(updates).toEqual([]);
  });
});
