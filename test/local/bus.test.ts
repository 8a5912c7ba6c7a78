import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import { waitFor } from '../../local/wait.js';
import { deliveriesOf, type LocalReceiver, localClient, nonEmpty, putOnLocalBus } from '../support/local.js';
import { startReceiver } from '../support/receiver.js';

describe('Local mode: events on the local bus, and what the pipeline carries', () => {
  let runtime: LocalRuntime;
  let api: ReturnType<typeof localClient>;
  let receiver: LocalReceiver;

  beforeAll(async () => {
    // Alarms sampled often, so the fan-out DLQ alarm shows at once.
    runtime = await startLocalRuntime({ port: 0, alarmIntervalMs: 100, log: () => {} });
    api = localClient(runtime, runtime.tenants[0]?.apiKey ?? '');
    receiver = await startReceiver();
    await api.subscribe(receiver, ['order.*']);
  });
  afterAll(async () => {
    await receiver.close();
    await runtime.stop();
  });

  it('delivers an event put on the local bus with the EventBridge SDK client', async () => {
    const result = await putOnLocalBus(runtime, [
      {
        Source: `fanout.tenant.${runtime.tenants[0]?.tenantId}`,
        DetailType: 'order.shipped',
        Detail: JSON.stringify({ orderId: 7 }),
        Resources: ['fanout:event-id/shipment-7'],
      },
    ]);
    expect(result.FailedEntryCount).toBe(0);

    const [delivery] = await waitFor(() => nonEmpty(deliveriesOf(receiver, 'shipment-7')), {
      what: 'the delivery',
    });
    expect(delivery?.verificationError).toBeUndefined();
    expect(delivery?.verified).toMatchObject({ type: 'order.shipped', data: { orderId: 7 } });
  });

  it('publishes, stores and delivers characters outside the BMP intact, as on AWS, and still refuses U+FFFF', async () => {
    // An emoji, a CJK extension B character and a mathematical letter: surrogate pairs in UTF-16.
    const text = '\u{1F600} \u{20000} \u{1D400}';
    const id = await api.publish({ type: 'order.noted', data: { text } });

    const [delivery] = await waitFor(() => nonEmpty(deliveriesOf(receiver, id)), { what: 'the delivery' });
    expect(delivery?.verificationError).toBeUndefined();
    const stored = await api.call<{ timestamp: string; data: unknown }>('GET', `/events/${id}`);
    expect(stored.body.data).toEqual({ text });
    // Byte for byte: the characters travel raw, not escaped, and the signature covers exactly these bytes.
    const expected = JSON.stringify({
      type: 'order.noted',
      timestamp: stored.body.timestamp,
      data: { text },
    });
    expect(Buffer.from(delivery?.body ?? '')).toEqual(Buffer.from(expected));

    const refused = await api.call<{ error: { code: string } }>('POST', '/events', {
      type: 'order.noted',
      data: { text: 'a\uFFFFb' },
    });
    expect(refused).toMatchObject({ status: 422, body: { error: { code: 'validation_error' } } });
  });

  it('sends an event put on the bus that can never be fanned out to the fan-out DLQ at once, and alarms', async () => {
    // Routed by the rule's prefix, but no tenant id: fan-out can never store it.
    const result = await putOnLocalBus(runtime, [
      { Source: 'fanout.tenant.acme', DetailType: 'order.lost', Detail: '{}' },
    ]);
    expect(result.FailedEntryCount).toBe(0);

    const status = await waitFor(
      async () => {
        const current = await api.status();
        return current.alarms['fanout-dlq'] === 'ALARM' ? current : undefined;
      },
      { what: 'the fan-out DLQ alarm' },
    );
    expect(status.queues['fanout-dlq']).toEqual({ visible: 1, inFlight: 0 });
    expect(status.queues.fanout).toEqual({ visible: 0, inFlight: 0 });
  });
});
