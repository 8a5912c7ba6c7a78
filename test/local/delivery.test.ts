import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptRecord } from '../../lambdas/storage/attempts.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import { waitFor } from '../../local/wait.js';
import { deliveriesOf, type LocalReceiver, localClient } from '../support/local.js';
import { startReceiver } from '../support/receiver.js';

interface Subscription {
  id: string;
  secret?: string;
  status: string;
  disabledReason?: string;
}

/**
 * Issue #4 end to end: local mode through HTTP only, with a compressed schedule (two attempts, one second
 * apart), as a user trying the service would see retries, the attempt log, 410, rotation, replay and redrive.
 */
describe('Local mode: delivery semantics through HTTP', () => {
  const logged: string[] = [];
  let runtime: LocalRuntime;
  let api: ReturnType<typeof localClient>;

  const attemptsOf = async (path: string) => {
    const listed = await api.call<{ items: AttemptRecord[] }>('GET', `${path}/attempts`);
    expect(listed.status).toBe(200);
    return listed.body.items;
  };
  const status = async () =>
    (await (await fetch(`${runtime.url}/_local/status`)).json()) as {
      queues: Record<string, { visible: number; inFlight: number }>;
      operationalEvents: { 'detail-type': string; detail: { subscriptionId: string; reason?: string } }[];
    };
  const arrived = (receiver: LocalReceiver, id: string, count = 1) =>
    waitFor(() => (deliveriesOf(receiver, id).length >= count ? deliveriesOf(receiver, id) : undefined), {
      what: `${count} deliveries of ${id}`,
    });
  const deadLettered = (count: number) =>
    waitFor(async () => ((await status()).queues['delivery-dlq']?.visible === count ? true : undefined), {
      what: `${count} message(s) in the delivery DLQ`,
    });

  beforeAll(async () => {
    runtime = await startLocalRuntime({
      port: 0,
      retryScheduleSeconds: [0, 1],
      alarmIntervalMs: 100,
      log: (line) => logged.push(line),
    });
    api = localClient(runtime, runtime.tenants[0]?.apiKey ?? '');
  });
  afterAll(() => runtime.stop());

  it('logs every attempt, newest first, by subscription and by event', async () => {
    const receiver = await startReceiver({ status: 503 });
    const subscription = await api.subscribe(receiver, ['invoice.*']);
    const id = await api.publish({ type: 'invoice.paid', data: { invoice: 1 } });
    await arrived(receiver, id);
    receiver.respondWith(200);
    await arrived(receiver, id, 2);

    const attempts = await waitFor(
      async () => {
        const items = await attemptsOf(`/subscriptions/${subscription.id}`);
        return items.length === 2 ? items : undefined;
      },
      { what: 'both attempts in the log' },
    );
    expect(attempts.map((attempt) => [attempt.attempt, attempt.result, attempt.statusCode])).toEqual([
      [2, 'delivered', 200],
      [1, 'failed', 503],
    ]);
    expect(attempts.every((attempt) => attempt.eventId === id && attempt.latencyMs >= 0)).toBe(true);
    expect(await attemptsOf(`/events/${id}`)).toEqual(attempts);
    await receiver.close();
  });

  it('disables a subscription whose endpoint answers 410 Gone after one attempt, and PATCH re-enables it', async () => {
    const receiver = await startReceiver({ status: 410 });
    const subscription = await api.subscribe(receiver, ['parcel.*']);
    const first = await api.publish({ type: 'parcel.sent', data: { parcel: 1 } });
    await arrived(receiver, first);

    const disabled = await waitFor(
      async () => {
        const current = await api.call<Subscription>('GET', `/subscriptions/${subscription.id}`);
        return current.body.status === 'disabled' ? current.body : undefined;
      },
      { what: 'the subscription to be disabled' },
    );
    expect(disabled.disabledReason).toBe('endpoint_gone');
    const events = (await status()).operationalEvents.filter(
      (event) => event.detail.subscriptionId === subscription.id,
    );
    expect(events.map((event) => [event['detail-type'], event.detail.reason])).toContainEqual([
      'webhook.subscription.disabled',
      'endpoint_gone',
    ]);
    expect(logged).toContainEqual(expect.stringMatching(/\[operations\] webhook\.subscription\.disabled/));
    // Not retried: one attempt, and nothing left on the delivery queue or its DLQ.
    expect((await status()).queues['delivery-dlq']).toEqual({ visible: 0, inFlight: 0 });
    expect(deliveriesOf(receiver, first)).toHaveLength(1);

    receiver.respondWith(204);
    const enabled = await api.call<Subscription>('PATCH', `/subscriptions/${subscription.id}`, {
      status: 'active',
    });
    expect(enabled.body).toMatchObject({ status: 'active' });
    expect(enabled.body.disabledReason).toBeUndefined();
    const second = await api.publish({ type: 'parcel.sent', data: { parcel: 2 } });
    const [delivery] = await arrived(receiver, second);
    expect(delivery?.verificationError).toBeUndefined();
    await receiver.close();
  });

  it('signs with the old and the new secret after a rotation', async () => {
    const receiver = await startReceiver();
    const subscription = await api.subscribe(receiver, ['key.*']);
    const rotated = await api.call<Subscription>('POST', `/subscriptions/${subscription.id}/secret/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(subscription.secret);

    const id = await api.publish({ type: 'key.rotated', data: { n: 1 } });
    const [delivery] = await arrived(receiver, id);
    const headers = delivery?.headers as Record<string, string>;
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
    for (const secret of [subscription.secret ?? '', rotated.body.secret ?? '']) {
      expect(new Webhook(secret).verify(delivery?.body ?? '', headers)).toMatchObject({
        type: 'key.rotated',
      });
    }
    await receiver.close();
  });

  it('replays a stored event, and every event since a time that did not succeed for a subscription', async () => {
    const receiver = await startReceiver();
    const subscription = await api.subscribe(receiver, ['stock.*']);
    const since = new Date().toISOString();
    const delivered = await api.publish({ type: 'stock.low', data: { sku: 'a' } });
    await arrived(receiver, delivered);

    // Replaying one event delivers it again, with the same webhook-id for receivers to deduplicate.
    const replay = await api.call('POST', `/events/${delivered}/replay`, { subscriptionId: subscription.id });
    expect(replay.status).toBe(202);
    await arrived(receiver, delivered, 2);

    // Two events fail every attempt and end in the DLQ ...
    receiver.respondWith(500);
    const failed = [
      await api.publish({ type: 'stock.out', data: { sku: 'b' } }),
      await api.publish({ type: 'stock.out', data: { sku: 'c' } }),
    ];
    await deadLettered(2);
    // ... and once the receiver is back, replay since T re-sends exactly those two.
    receiver.respondWith(204);
    const recovery = await api.call('POST', `/subscriptions/${subscription.id}/replay`, { since });
    expect(recovery.status).toBe(202);
    for (const id of failed) {
      const deliveries = await arrived(receiver, id, 3);
      expect(deliveries.map((delivery) => delivery.status)).toEqual([500, 500, 204]);
      expect(deliveries[2]?.verificationError).toBeUndefined();
    }
    await waitFor(async () => ((await status()).queues.fanout?.visible === 0 ? true : undefined), {
      what: 'the replay to finish',
    });
    expect(deliveriesOf(receiver, delivered)).toHaveLength(2);

    // The dead letters themselves go back to the delivery queue with a redrive, and are delivered again.
    const redrive = await fetch(`${runtime.url}/_local/redrive`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ queue: 'delivery' }),
    });
    expect(await redrive.json()).toEqual({ moved: 2 });
    for (const id of failed) await arrived(receiver, id, 4);
    await deadLettered(0);
    await receiver.close();
  });
});
