import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningSecret } from '../../lambdas/storage/subscription-secrets.js';
import { SubscriptionStore } from '../../lambdas/storage/subscriptions.js';
import { publishEvent } from '../support/events.js';
import { startReceiver } from '../support/receiver.js';
import { startTestService } from '../support/service.js';
import { createSubscription } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

describe('Function: deliver, secret rotation', () => {
  // The deliver clock runs `clockOffsetMs` ahead of real time, to step past the 24 h grace period.
  let clockOffsetMs = 0;
  let service: Service;
  let apiKey: string;
  let tenantId: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let subscriptionId: string;
  let oldSecret: string;
  let newSecret: string;

  beforeAll(async () => {
    service = await startTestService({ now: () => new Date(Date.now() + clockOffsetMs) });
    ({ apiKey, tenantId } = await service.createTenant('rotation'));
    receiver = await startReceiver();
    ({ id: subscriptionId, secret: oldSecret } = await createSubscription(service.api, apiKey, {
      url: receiver.url,
    }));
    // Rotated through the store: the API route on top of it is tested with the API.
    const store = new SubscriptionStore(service.clients.db, service.resources.tables.subscriptions);
    newSecret = (await store.rotateSecret(tenantId, subscriptionId)).secret;
  });
  afterAll(async () => {
    await receiver.close();
    await service.close();
  });

  const deliverOne = async () => {
    await publishEvent(service.api, apiKey, { type: 'key.rotated', data: {} });
    await service.pollFanout();
    expect(await service.pollDelivery()).toMatchObject({ received: 1, succeeded: 1 });
    const delivery = receiver.received.at(-1);
    if (!delivery) throw new Error('nothing delivered');
    return { body: delivery.body, headers: delivery.headers as Record<string, string> };
  };

  it('signs with both the new and the old secret during the grace period', async () => {
    const { body, headers } = await deliverOne();
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
    // A receiver holding either secret verifies the delivery, as standardwebhooks accepts any listed signature.
    for (const secret of [newSecret, oldSecret]) {
      expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    }
    expect(() => new Webhook(generateSigningSecret()).verify(body, headers)).toThrow(
      WebhookVerificationError,
    );
  });

  it('signs with the new secret only once the grace period is over', async () => {
    clockOffsetMs = 25 * 3_600_000;
    const { body, headers } = await deliverOne().finally(() => {
      clockOffsetMs = 0;
    });
    // The deliver clock also stamps webhook-timestamp, so this delivery is dated 25 h ahead and a receiver's
    // 5-minute tolerance would reject it whatever the signature. The signatures are therefore checked by
    // recomputing the HMAC of "{id}.{timestamp}.{body}" with each secret.
    const id = headers['webhook-id'] ?? '';
    const at = new Date(Number(headers['webhook-timestamp']) * 1000);
    expect(at.getTime()).toBeGreaterThan(Date.now() + 24 * 3_600_000);
    const signature = (secret: string) => new Webhook(secret).sign(id, at, body);
    expect(headers['webhook-signature']).toBe(signature(newSecret));
    expect(headers['webhook-signature']).not.toContain(signature(oldSecret));
  });
});
