import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../local/wait.js';
import { publishEvent } from '../support/events.js';
import { startReceiver } from '../support/receiver.js';
import { startTestService } from '../support/service.js';
import { subscribeReceiver } from '../support/subscriptions.js';

describe('Pipeline: register, publish, fan out, deliver', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    service = await startTestService();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.close();
    await service.close();
  });

  it('delivers a published event, signed, to a subscribed receiver', async () => {
    const tenant = await service.createTenant('acme');
    await subscribeReceiver(service.api, tenant.apiKey, receiver, { eventTypes: ['order.*'] });

    const id = await publishEvent(service.api, tenant.apiKey, {
      type: 'order.created',
      data: { orderId: 42 },
    });

    expect(await service.pollFanout()).toMatchObject({ received: 1, succeeded: 1 });
    expect(await service.pollDelivery()).toMatchObject({ received: 1, succeeded: 1 });

    const delivery = await waitFor(() => receiver.received[0], { what: 'the delivery' });
    expect(delivery.verificationError).toBeUndefined();
    expect(delivery.headers['webhook-id']).toBe(id);
    expect(delivery.verified).toMatchObject({ type: 'order.created', data: { orderId: 42 } });
  });
});
