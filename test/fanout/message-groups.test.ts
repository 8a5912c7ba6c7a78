import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryMessage } from '../../lambdas/contract/delivery-message.js';
import { sendFanoutJob } from '../../lambdas/fanout/jobs.js';
import { publishEvent } from '../support/events.js';
import { startTestService } from '../support/service.js';
import { createSubscription } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
type Tenant = Awaited<ReturnType<Service['createTenant']>>;

/**
 * Every delivery message carries its tenant as MessageGroupId, which makes the standard delivery queue an SQS
 * fair queue: one tenant's burst does not delay the other tenants' deliveries.
 */
describe('Function: fan-out sends each delivery with its tenant as message group', () => {
  let service: Service;

  beforeAll(async () => {
    // Two subscriptions a page, so continuations send deliveries too.
    service = await startTestService({ fanoutPageSize: 2 });
  });
  afterAll(() => service.close());

  const subscribe = async (tenant: Tenant) => (await createSubscription(service.api, tenant.apiKey)).id;
  const publish = (tenant: Tenant) => publishEvent(service.api, tenant.apiKey);
  const runFanout = async () => {
    for (;;) {
      const result = await service.pollFanout();
      if (result.received === 0) return;
      expect(result.failed, String(result.handlerError)).toBe(0);
    }
  };
  /** Every delivery message on the queue: the tenant its body names and the group it was sent with. */
  const deliveries = async () => {
    const found: { tenantId: string; subscriptionId: string; group: string | undefined }[] = [];
    for (;;) {
      const { Messages = [] } = await service.clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: service.resources.queues.delivery.url,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 30,
          MessageSystemAttributeNames: ['MessageGroupId'],
        }),
      );
      if (Messages.length === 0) return found;
      for (const message of Messages) {
        const { tenantId, subscriptionId } = JSON.parse(message.Body ?? '') as DeliveryMessage;
        found.push({ tenantId, subscriptionId, group: message.Attributes?.MessageGroupId });
      }
    }
  };
  const inTenantGroup = (tenant: Tenant, subscriptionId: string) => ({
    tenantId: tenant.tenantId,
    subscriptionId,
    group: tenant.tenantId,
  });
  const bySubscription = (a: { subscriptionId: string }, b: { subscriptionId: string }) =>
    a.subscriptionId.localeCompare(b.subscriptionId);

  it('in a fan-out and its continuations, and in replays of one event and since a time', async () => {
    const a = await service.createTenant('groups-a');
    const b = await service.createTenant('groups-b');
    const ofA = [await subscribe(a), await subscribe(a), await subscribe(a)];
    const ofB = await subscribe(b);
    const eventId = await publish(a);
    await publish(b);
    await runFanout();
    expect((await deliveries()).sort(bySubscription)).toEqual(
      [...ofA.map((id) => inTenantGroup(a, id)), inTenantGroup(b, ofB)].sort(bySubscription),
    );

    const [chosen = ''] = ofA;
    const job = { tenantId: a.tenantId, subscriptionId: chosen };
    await sendFanoutJob(service.clients.sqs, service.config.fanoutQueueUrl, {
      job: 'event-subscription',
      eventId,
      ...job,
    });
    const since = new Date(Date.now() - 3_600_000).toISOString();
    await sendFanoutJob(service.clients.sqs, service.config.fanoutQueueUrl, {
      job: 'subscription-since',
      since,
      ...job,
    });
    await runFanout();
    expect(await deliveries()).toEqual([inTenantGroup(a, chosen), inTenantGroup(a, chosen)]);
  });
});
