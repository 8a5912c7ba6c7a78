import { SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { bearer } from '../local/emulators/api-gateway.js';
import type { LocalService } from '../local/service.js';
import { seededRandom } from './faults.js';
import { type ChaosReceiver, type ReceiverProfile, startChaosReceiver } from './receivers.js';
import type { ChaosSettings } from './scenario.js';

// The chaos scenario's setup: its receivers and their subscriptions, the queues' visibility timeout, and
// the load it publishes.

const ALWAYS_FAILING = 2;
const GONE = 1;
/** The receivers that always fail, the gone one, and at least one flaky receiver. */
export const MIN_SUBSCRIPTIONS = ALWAYS_FAILING + GONE + 1;
const EVENT_TYPE = 'chaos.tick';
const PUBLISH_ATTEMPTS = 6;

/** Flaky receivers first, then the two that always fail, then the one that is gone. */
export async function startReceivers(settings: ChaosSettings): Promise<ChaosReceiver[]> {
  const failureModes = ['error', 'hang', 'reset'] as const;
  // Slow answers stay well inside the per-attempt timeout; a hang is cut off well after it.
  const common = {
    failureModes,
    slowMs: [settings.attemptTimeoutMs / 10, settings.attemptTimeoutMs / 3] as const,
    hangLimitMs: settings.attemptTimeoutMs * 5,
  };
  const profiles: { name: string; profile: ReceiverProfile }[] = [
    ...Array.from({ length: settings.subscriptions - ALWAYS_FAILING - GONE }, (_, index) => ({
      name: `flaky-${index + 1}`,
      profile: {
        kind: 'flaky' as const,
        failureRate: settings.receiverFailureRate,
        slowRate: settings.slowAnswerRate,
        ...common,
      },
    })),
    // One answers 500 every time, the other fails every request in each of the flaky ways.
    {
      name: 'failing-500',
      profile: { kind: 'failing', failureRate: 1, slowRate: 0, ...common, failureModes: ['error'] },
    },
    { name: 'failing-mixed', profile: { kind: 'failing', failureRate: 1, slowRate: 0, ...common } },
    { name: 'gone-410', profile: { kind: 'gone', failureRate: 0, slowRate: 0, ...common } },
  ];
  return await Promise.all(
    profiles.map(({ name, profile }) =>
      startChaosReceiver(name, profile, seededRandom(settings.seed, `receiver:${name}`)),
    ),
  );
}

export async function subscribeAll(service: LocalService, receivers: readonly ChaosReceiver[]) {
  const { apiKey } = await service.createTenant('chaos');
  const subscriptionIds: string[] = [];
  for (const receiver of receivers) {
    const created = await service.api({
      method: 'POST',
      path: '/subscriptions',
      headers: bearer(apiKey),
      body: JSON.stringify({ url: receiver.url, eventTypes: ['chaos.*'], description: receiver.name }),
    });
    if (created.statusCode !== 201) {
      throw new Error(`subscribing ${receiver.name} answered ${created.statusCode}: ${created.body}`);
    }
    const { id, secret } = JSON.parse(created.body) as { id: string; secret: string };
    receiver.useSecret(secret);
    subscriptionIds.push(id);
  }
  return { apiKey, subscriptionIds };
}

/**
 * Lambda's guidance is a visibility timeout of six times the function timeout; the run's functions are
 * bounded by its short attempt timeout, so a crashed batch comes back after seconds instead of minutes.
 */
export async function setVisibilityTimeouts(service: LocalService, seconds: number) {
  for (const queue of [service.resources.queues.fanout, service.resources.queues.delivery]) {
    await service.clients.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: queue.url,
        Attributes: { VisibilityTimeout: String(seconds) },
      }),
    );
  }
}

/**
 * Publishes every event through the API from several callers at once. A call answered other than 202 is
 * retried with the same event id, as a client should (publishing is idempotent by id).
 */
export async function publishAll(service: LocalService, apiKey: string, settings: ChaosSettings) {
  const eventIds: string[] = [];
  let retries = 0;
  let next = 0;
  const publisher = async () => {
    for (let n = next++; n < settings.events; n = next++) {
      const id = `evt_chaos_${settings.seed}_${n}`;
      const body = JSON.stringify({ id, type: EVENT_TYPE, data: { n, seed: settings.seed } });
      for (let attempt = 1; ; attempt++) {
        const response = await service.api({
          method: 'POST',
          path: '/events',
          headers: bearer(apiKey),
          body,
        });
        if (response.statusCode === 202) break;
        if (attempt === PUBLISH_ATTEMPTS) {
          throw new Error(`publishing ${id} answered ${response.statusCode} ${PUBLISH_ATTEMPTS} times`);
        }
        retries++;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
      eventIds.push(id);
    }
  };
  await Promise.all(Array.from({ length: settings.publishers }, publisher));
  return { eventIds, retries };
}
