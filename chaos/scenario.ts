import { randomUUID } from 'node:crypto';
import {
  type SendMessageBatchCommandInput,
  type SendMessageBatchCommandOutput,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import type { QueueHandler } from '../lambdas/contract/handlers.js';
import { logger } from '../lambdas/platform/logger.js';
import { startAlarms } from '../local/emulators/alarms.js';
import { bearer } from '../local/emulators/api-gateway.js';
import { pollContinuously } from '../local/emulators/event-source.js';
import { namedQueues, peekAll, queueDepth } from '../local/emulators/queue-metrics.js';
import { createLocalService, type LocalService, type QueueFunctionName } from '../local/service.js';
import { waitFor } from '../local/wait.js';
import {
  type AttemptView,
  type ChaosMath,
  type Check,
  judge,
  type Observed,
  odds,
  pairKey,
  pairKeyOf,
  pairOf,
  type Queued,
  type SubscriptionView,
} from './checks.js';
import { createFaults, type FaultCounts, type FaultRates, InjectedCrash, seededRandom } from './faults.js';
import { type ChaosReceiver, type ReceiverProfile, startChaosReceiver } from './receivers.js';

/**
 * The chaos scenario: local mode under load, with misbehaving receivers and our own faults (chaos/faults.ts),
 * then a check of every promise. One tenant, `subscriptions` subscriptions to every `chaos.*` event (two to
 * receivers that always fail, one to a receiver that answers 410 Gone, the rest to flaky receivers), and
 * `events` events published through the API. The service runs with several pollers per queue, as the event
 * source mapping runs concurrent batches. `npm run chaos` runs it at full size, test/e2e/chaos.test.ts small.
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

interface ReceiverSummary {
  name: string;
  kind: ReceiverProfile['kind'];
  requests: number;
  answers: ChaosReceiver['tally']['answers'];
  badSignatures: number;
  /** Events accepted (2xx) at least once, and 2xx answers beyond the first per event. */
  delivered: number;
  duplicates: number;
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
 * The issue's load (1,000 events × 20 subscriptions, receivers failing 30%) and fault rates, and settings
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
  attemptTimeoutMs: 1_000,
  throttledRetryMinSeconds: 1,
  visibilityTimeoutSeconds: 6,
  fanoutPollers: 5,
  deliveryPollers: 32,
  publishers: 8,
  timeoutSeconds: 900,
};

const ALWAYS_FAILING = 2;
const GONE = 1;
const EVENT_TYPE = 'chaos.tick';
const PUBLISH_ATTEMPTS = 6;
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
  if (settings.subscriptions < ALWAYS_FAILING + GONE + 1) {
    throw new Error(`subscriptions must be at least ${ALWAYS_FAILING + GONE + 1}`);
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
  const service = await createLocalService({
    ...engines,
    namePrefix: `chaos-${settings.seed}-${randomUUID().slice(0, 8)}`,
    allowPrivateUrls: true,
    retryScheduleSeconds: settings.retryScheduleSeconds,
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
    },
    wrapQueueHandler: (name, handler) => {
      const faulty = countFailedBatches(name, faults.wrapQueueHandler(name, handler), failedBatches);
      return name === 'deliver' ? countCompletions(faulty, completions) : faulty;
    },
  });
  const receivers: ChaosReceiver[] = [];
  try {
    faults.instrument(service.clients);
    recordQueued(service, queued);
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

    const checks = judge({
      settings,
      drained,
      drainSeconds,
      eventIds: published.eventIds,
      receivers,
      subscriptionIds,
      subscriptions,
      goneAttempts,
      completions,
      queued,
      operationalEvents,
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

/** Flaky receivers first, then the two that always fail, then the one that is gone. */
async function startReceivers(settings: ChaosSettings): Promise<ChaosReceiver[]> {
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

async function subscribeAll(service: LocalService, receivers: readonly ChaosReceiver[]) {
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
async function setVisibilityTimeouts(service: LocalService, seconds: number) {
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
async function publishAll(service: LocalService, apiKey: string, settings: ChaosSettings) {
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

/**
 * The (subscription, event) pairs fan-out put on the delivery queue, and when each event's last one was put:
 * the entries SendMessageBatch accepted, as the caller saw the answer (outside the fault middleware).
 */
function recordQueued(service: LocalService, queued: Queued) {
  const deliveryUrl = service.resources.queues.delivery.url;
  service.clients.sqs.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const input = args.input as SendMessageBatchCommandInput;
      if (context.commandName !== 'SendMessageBatchCommand' || input.QueueUrl !== deliveryUrl) return result;
      const accepted = new Set(
        ((result.output as SendMessageBatchCommandOutput).Successful ?? []).map((entry) => entry.Id),
      );
      for (const entry of input.Entries ?? []) {
        const pair = accepted.has(entry.Id) ? pairOf(entry.MessageBody ?? '') : undefined;
        if (!pair) continue;
        queued.pairs.add(pairKey(pair.subscriptionId, pair.eventId));
        queued.lastAt.set(pair.eventId, performance.now());
      }
      return result;
    },
    { step: 'initialize', priority: 'high', name: 'chaosQueuedDeliveries' },
  );
}

function countFailedBatches(
  name: QueueFunctionName,
  handler: QueueHandler,
  failedBatches: Record<QueueFunctionName, number>,
): QueueHandler {
  return async (event, context) => {
    try {
      return await handler(event, context);
    } catch (error) {
      if (!(error instanceof InjectedCrash)) failedBatches[name]++;
      throw error;
    }
  };
}

/**
 * Deliveries the deliver handler finished without a failure, per (subscription, event): the event source
 * mapping deletes those messages. For the gone subscription these are the messages it dropped (the 410 and
 * the skips once disabled); a crashed invocation finishes nothing.
 */
function countCompletions(handler: QueueHandler, completions: Map<string, number>): QueueHandler {
  return async (event, context) => {
    const response = await handler(event, context);
    const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
    for (const record of event.Records) {
      if (failed.has(record.messageId)) continue;
      const key = pairKeyOf(record.body);
      if (key) completions.set(key, (completions.get(key) ?? 0) + 1);
    }
    return response;
  };
}

/** The alarms as CloudWatch would judge them now, then every dead letter read. Faults are off by now. */
async function observe(service: LocalService): Promise<Observed> {
  const { sqs } = service.clients;
  const deadLetterQueues = namedQueues(service.resources).filter((queue) => queue.deadLetter);
  // Evaluated before the DLQs are read, since reading hides their messages from the metric.
  const alarms = await startAlarms({
    sqs,
    queues: deadLetterQueues,
    alarm: service.definition.alarm,
    intervalMs: 3_600_000,
    log: () => undefined,
  });
  const states = alarms.states();
  await alarms.stop();
  const { fanout, delivery } = service.resources.queues;
  const deliveryDeadLetterDepth = (await queueDepth(sqs, delivery.deadLetterUrl)).visible;
  const fanoutDeadLetterDepth = (await queueDepth(sqs, fanout.deadLetterUrl)).visible;
  const deliveryDeadLetters = (await peekAll(sqs, delivery.deadLetterUrl, 600)).map(
    (message) => pairKeyOf(message.body) ?? '?',
  );
  const fanoutDeadLetters = (await peekAll(sqs, fanout.deadLetterUrl, 600)).length;
  return {
    alarms: states,
    deliveryDeadLetters,
    deliveryDeadLetterDepth,
    fanoutDeadLetters,
    fanoutDeadLetterDepth,
  };
}

async function getJson<T>(service: LocalService, apiKey: string, path: string): Promise<T> {
  const response = await service.api({ method: 'GET', path, headers: bearer(apiKey) });
  if (response.statusCode !== 200) throw new Error(`GET ${path} answered ${response.statusCode}`);
  return JSON.parse(response.body) as T;
}

async function attemptLog(service: LocalService, apiKey: string, subscriptionId: string) {
  const attempts: AttemptView[] = [];
  let cursor: string | undefined;
  do {
    const page = await getJson<{ items: AttemptView[]; nextCursor?: string }>(
      service,
      apiKey,
      `/subscriptions/${subscriptionId}/attempts?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
    );
    attempts.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return attempts;
}

function summarize(receiver: ChaosReceiver): ReceiverSummary {
  const { tally } = receiver;
  let duplicates = 0;
  for (const times of tally.accepted.values()) duplicates += times - 1;
  return {
    name: receiver.name,
    kind: receiver.profile.kind,
    requests: tally.requests,
    answers: { ...tally.answers },
    badSignatures: tally.badSignatures,
    delivered: tally.accepted.size,
    duplicates,
  };
}

function flakyPairCount(receivers: readonly ChaosReceiver[], events: number): number {
  return receivers.filter((receiver) => receiver.profile.kind === 'flaky').length * events;
}
