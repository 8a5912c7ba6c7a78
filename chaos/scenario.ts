import { randomUUID } from 'node:crypto';
import type { CircuitPolicy } from '../lambdas/contract/circuit-policy.js';
import { logger } from '../lambdas/platform/logger.js';
import { pollContinuously } from '../local/emulators/event-source.js';
import { queueDepth } from '../local/emulators/queue-metrics.js';
import { createLocalService, type LocalService, type QueueFunctionName } from '../local/service.js';
import { waitFor } from '../local/wait.js';
import {
  type AttemptView,
  type ChaosMath,
  type Check,
  judge,
  odds,
  type Queued,
  type SubscriptionView,
} from './checks.js';
import { createFaults, type FaultCounts, type FaultRates, seededRandom } from './faults.js';
import {
  attemptLog,
  flakyPairCount,
  getJson,
  observe,
  type ReceiverSummary,
  summarize,
} from './observation.js';
import type { ChaosReceiver } from './receivers.js';
import {
  MIN_SUBSCRIPTIONS,
  publishAll,
  setVisibilityTimeouts,
  startReceivers,
  subscribeAll,
} from './setup.js';
import {
  countCompletions,
  countFailedBatches,
  countReceives,
  recordQueued,
  recordWaitingCopies,
} from './tallies.js';

/**
 * The chaos scenario: local mode under load, with misbehaving receivers and our own faults (chaos/faults.ts),
 * then a check of every promise. One tenant, `subscriptions` subscriptions to every `chaos.*` event (two to
 * receivers that always fail, one to a receiver that answers 410 Gone, the rest to flaky receivers), and
 * `events` events published through the API. The service runs with several pollers per queue, as the event
 * source mapping runs concurrent batches. `npm run chaos` runs it at full size, test/e2e/chaos.test.ts small.
 * runChaos is the order of the steps: the setup (chaos/setup.ts), the counting while it runs
 * (chaos/tallies.ts), the wait for the queues to drain, and what is read afterwards for the checks
 * (chaos/observation.ts).
 */
export interface ChaosSettings {
  seed: number;
  events: number;
  /** All of them; two are always failing and one is gone, so at least four. */
  subscriptions: number;
  /** Share of requests a flaky receiver fails. */
  receiverFailureRate: number;
  /** Share of a flaky receiver's successful answers that are slow. */
  slowAnswerRate: number;
  faults: FaultRates;
  /** Subscriptions per fan-out page: small, so that every event also travels as continuation jobs. */
  fanoutPageSize: number;
  retryScheduleSeconds: readonly number[];
  /**
   * The schedule is compressed to seconds, the circuit's open time is not, so a delivery waiting for an open
   * circuit runs out of time and is dead-lettered. The threshold keeps a flaky receiver's circuit closed:
   * failing 30% at random it would seldom fail 5 times in a row, but a success whose batch read the
   * subscription before the run of failures began resets nothing, and a stall times out every attempt in
   * flight at once, so runs of 16 happen in a 200-event run. The always-failing receivers open theirs within
   * a few seconds all the same.
   */
  circuitPolicy: CircuitPolicy;
  attemptTimeoutMs: number;
  throttledRetryMinSeconds: number;
  /** Both queues' visibility timeout: how long a crashed batch stays hidden before SQS redelivers it. */
  visibilityTimeoutSeconds: number;
  fanoutPollers: number;
  deliveryPollers: number;
  publishers: number;
  /** Bound on the wait for the pipeline to drain. */
  timeoutSeconds: number;
}

export interface ChaosResult {
  settings: ChaosSettings;
  passed: boolean;
  checks: Check[];
  faults: FaultCounts;
  receivers: ReceiverSummary[];
  math: ChaosMath;
  /**
   * Invocations that failed as a whole other than by an injected crash: every record of the batch failed
   * (throttles that reached the handler, entries SendMessageBatch kept failing), which the handler reports
   * by throwing. SQS redelivers the batch as after a crash.
   */
  failedBatches: Record<QueueFunctionName, number>;
  /** Publish calls answered other than 202 and retried with the same event id. */
  publishRetries: number;
  /** What the pollers logged other than failed invocations (a failed receive, say); none expected. */
  pollerErrors: string[];
  /** From the first publish until the queues were empty. */
  drainSeconds: number;
  seconds: number;
}

/**
 * The load (1,000 events × 20 subscriptions, receivers failing 30%) and fault rates, and settings
 * that make the run take minutes rather than days: the schedule's attempts are a second apart, and there are
 * enough of them that a flaky pair essentially never runs out (see ChaosMath and the report).
 */
export const CHAOS_DEFAULTS: ChaosSettings = {
  seed: 1,
  events: 1_000,
  subscriptions: 20,
  receiverFailureRate: 0.3,
  slowAnswerRate: 0.1,
  faults: {
    crash: { fanout: 0.03, deliver: 0.05 },
    sendBatchFailure: 0.1,
    dynamoThrottle: 0.02,
    dynamoThrottleSurfaced: 0.1,
  },
  fanoutPageSize: 8,
  retryScheduleSeconds: [0, ...Array.from({ length: 15 }, () => 1)],
  circuitPolicy: { failureThreshold: 40, firstOpenSeconds: 30 },
  attemptTimeoutMs: 1_000,
  throttledRetryMinSeconds: 1,
  visibilityTimeoutSeconds: 6,
  fanoutPollers: 5,
  deliveryPollers: 32,
  publishers: 8,
  timeoutSeconds: 900,
};

const DRAIN_SAMPLE_MS = 250;
const PROGRESS_EVERY_MS = 5_000;

export interface ChaosEngines {
  dynamoEndpoint: string;
  sqsEndpoint: string;
}

export async function runChaos(
  engines: ChaosEngines,
  settings: ChaosSettings,
  progress: (line: string) => void = () => undefined,
): Promise<ChaosResult> {
  if (settings.subscriptions < MIN_SUBSCRIPTIONS) {
    throw new Error(`subscriptions must be at least ${MIN_SUBSCRIPTIONS}`);
  }
  const started = performance.now();
  // Every failed attempt logs a warning, and every throttle that reaches the attempt log an error: thousands
  // of lines about injected faults that say nothing the checks do not.
  logger.setLogLevel('CRITICAL');
  const faults = createFaults(settings.faults, settings.seed);
  const completions = new Map<string, number>();
  const queued: Queued = { pairs: new Set(), lastAt: new Map() };
  const failedBatches: Record<QueueFunctionName, number> = { fanout: 0, deliver: 0 };
  // Operational events put on the bus, per "<detail-type> <subscription id>".
  const operationalEvents = new Map<string, number>();
  const operationalEventTimes = new Map<string, number[]>();
  const receives = new Map<string, number>();
  const waits = new Map<string, number>();
  const service = await createLocalService({
    ...engines,
    namePrefix: `chaos-${settings.seed}-${randomUUID().slice(0, 8)}`,
    allowPrivateUrls: true,
    retryScheduleSeconds: settings.retryScheduleSeconds,
    circuitPolicy: settings.circuitPolicy,
    attemptTimeoutMs: settings.attemptTimeoutMs,
    throttledRetryMinSeconds: settings.throttledRetryMinSeconds,
    fanoutPageSize: settings.fanoutPageSize,
    random: seededRandom(settings.seed, 'jitter'),
    // As in Lambda, where each authorizer instance caches keys; the per-tenant limit would refuse the load.
    authCacheTtlMs: 30_000,
    tenantRequestsPerSecond: 1_000_000,
    onOperationalEvent: (event) => {
      const key = `${String(event['detail-type'])} ${String((event.detail as { subscriptionId?: unknown }).subscriptionId)}`;
      operationalEvents.set(key, (operationalEvents.get(key) ?? 0) + 1);
      operationalEventTimes.set(key, [...(operationalEventTimes.get(key) ?? []), performance.now()]);
    },
    wrapQueueHandler: (name, handler) => {
      const faulty = countFailedBatches(name, faults.wrapQueueHandler(name, handler), failedBatches);
      return name === 'deliver' ? countReceives(countCompletions(faulty, completions), receives) : faulty;
    },
  });
  const receivers: ChaosReceiver[] = [];
  try {
    faults.instrument(service.clients);
    recordQueued(service, queued);
    recordWaitingCopies(service, waits);
    await setVisibilityTimeouts(service, settings.visibilityTimeoutSeconds);
    receivers.push(...(await startReceivers(settings)));
    const { apiKey, subscriptionIds } = await subscribeAll(service, receivers);

    // Failed invocations are counted where they happen (failedBatches); anything else logged is an error.
    const pollerErrors: string[] = [];
    const log = (line: string) => {
      if (!line.includes('handler threw')) pollerErrors.push(line);
    };
    const pollers = [
      ...Array.from({ length: settings.fanoutPollers }, () =>
        pollContinuously('fan-out', service.pollFanout, log),
      ),
      ...Array.from({ length: settings.deliveryPollers }, () =>
        pollContinuously('delivery', service.pollDelivery, log),
      ),
    ];
    faults.enable(true);
    const loadStarted = performance.now();
    let published: Awaited<ReturnType<typeof publishAll>>;
    let drained: boolean;
    try {
      published = await publishAll(service, apiKey, settings);
      progress(`published ${published.eventIds.length} events, waiting for the pipeline to drain`);
      drained = await waitForDrain(
        service,
        settings.timeoutSeconds * 1000 - (performance.now() - loadStarted),
        {
          progress,
          receivers,
        },
      );
    } finally {
      faults.enable(false);
      await Promise.all(pollers.map((poller) => poller.stop()));
    }
    const drainSeconds = (performance.now() - loadStarted) / 1000;
    progress(drained ? `drained after ${drainSeconds.toFixed(1)} s, checking` : 'timed out, checking');

    const observed = await observe(service);
    const subscriptions = await Promise.all(
      subscriptionIds.map((id) => getJson<SubscriptionView>(service, apiKey, `/subscriptions/${id}`)),
    );
    const goneIndex = receivers.findIndex((receiver) => receiver.profile.kind === 'gone');
    const goneAttempts = await attemptLog(service, apiKey, subscriptionIds[goneIndex] ?? '');
    const failingAttempts = new Map<string, AttemptView[]>();
    for (const [index, receiver] of receivers.entries()) {
      const id = subscriptionIds[index];
      if (receiver.profile.kind === 'failing' && id) {
        failingAttempts.set(id, await attemptLog(service, apiKey, id));
      }
    }

    const checks = judge({
      settings,
      drained,
      drainSeconds,
      eventIds: published.eventIds,
      receivers,
      subscriptionIds,
      subscriptions,
      goneAttempts,
      failingAttempts,
      completions,
      queued,
      operationalEvents,
      operationalEventTimes,
      receives,
      waits,
      observed,
    });
    return {
      settings,
      passed: checks.every((check) => check.passed),
      checks,
      faults: faults.counts(),
      receivers: receivers.map(summarize),
      math: odds(settings, service.definition, flakyPairCount(receivers, published.eventIds.length)),
      failedBatches,
      publishRetries: published.retries,
      pollerErrors,
      drainSeconds,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await Promise.all(receivers.map((receiver) => receiver.close()));
    await service.close();
  }
}

/**
 * Waits until both queues are empty with nothing in flight (no batch being handled, no message waiting for
 * a retry or for a crashed batch's visibility timeout), seen twice in a row. Fan-out is sampled first: it
 * queues deliveries before its message is deleted, so an empty fan-out queue followed by an empty delivery
 * queue means the work is done. False when `timeoutMs` passes first.
 */
async function waitForDrain(
  service: LocalService,
  timeoutMs: number,
  watch: { progress: (line: string) => void; receivers: readonly ChaosReceiver[] },
): Promise<boolean> {
  const { fanout, delivery } = service.resources.queues;
  let idleSamples = 0;
  let lastProgress = performance.now();
  try {
    await waitFor(
      async () => {
        const fanoutDepth = await queueDepth(service.clients.sqs, fanout.url);
        const deliveryDepth = await queueDepth(service.clients.sqs, delivery.url);
        const idle = [fanoutDepth, deliveryDepth].every((depth) => depth.visible + depth.inFlight === 0);
        idleSamples = idle ? idleSamples + 1 : 0;
        if (performance.now() - lastProgress > PROGRESS_EVERY_MS) {
          lastProgress = performance.now();
          const accepted = watch.receivers.reduce((sum, receiver) => sum + receiver.tally.accepted.size, 0);
          watch.progress(
            `fan-out ${fanoutDepth.visible} queued / ${fanoutDepth.inFlight} in flight, delivery ${deliveryDepth.visible} / ${deliveryDepth.inFlight}, ${accepted} pairs delivered`,
          );
        }
        return idleSamples >= 2 ? true : undefined;
      },
      { timeoutMs: Math.max(0, timeoutMs), intervalMs: DRAIN_SAMPLE_MS, what: 'the queues to drain' },
    );
    return true;
  } catch {
    return false;
  }
}
