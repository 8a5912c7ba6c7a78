import { parseDeliveryMessage } from '../lambdas/contract/delivery-message.js';
import type { ServiceDefinition } from '../lib/definitions.js';
import type { AlarmState } from '../local/emulators/alarms.js';
import { isolationChecks } from './isolation.js';
import type { ChaosReceiver, ReceiverProfile } from './receivers.js';
import type { ChaosSettings } from './scenario.js';

/**
 * What the chaos run concludes from what it saw: each promise as a check with the figures behind its
 * verdict, and the odds that the settings give a false alarm. Deliveries are counted per (subscription,
 * event) pair, identified in queue messages by the service's own parser.
 */
export interface Check {
  name: string;
  passed: boolean;
  figures: string;
}

/** Why the settings make a false alarm essentially impossible: the odds the checks rest on. */
export interface ChaosMath {
  /** Upper bound on the chance one receive of a flaky pair's message fails. */
  flakyReceiveFailure: number;
  deliveryMaxReceives: number;
  flakyPairs: number;
  /** flakyPairs × flakyReceiveFailure ^ deliveryMaxReceives: expected flaky pairs dead-lettered. */
  expectedFlakyDeadLetters: number;
  fanoutReceiveFailure: number;
  fanoutMaxReceives: number;
  /** Each event is a first page plus continuation jobs. */
  fanoutMessages: number;
  expectedFanoutDeadLetters: number;
}

/** What the queues and the alarm showed once the pipeline was idle, with the faults off. */
export interface Observed {
  alarms: Record<string, AlarmState>;
  /** Pair keys of the delivery DLQ's messages, one per message; unreadable bodies as "?". */
  deliveryDeadLetters: string[];
  deliveryDeadLetterDepth: number;
  fanoutDeadLetters: number;
  fanoutDeadLetterDepth: number;
}

/** The pairs fan-out put on the delivery queue, and when each event's last one was put. */
export interface Queued {
  pairs: Set<string>;
  /** performance.now() of each event's last accepted entry. */
  lastAt: Map<string, number>;
}

export interface SubscriptionView {
  id: string;
  status: string;
  disabledReason?: string;
}

export interface AttemptView {
  eventId: string;
  attempt: number;
  result: string;
  statusCode?: number;
}

/** Generous upper bounds on the DynamoDB calls one delivery and one fan-out make (for the odds only). */
const DB_CALLS_PER_DELIVERY = 5;
const DB_CALLS_PER_FANOUT = 6;
/** Rounds in which fan-out re-sends the entries SendMessageBatch reported failed (lambdas/fanout/pages.ts). */
const FANOUT_SEND_ROUNDS = 4;

export interface Evidence {
  settings: ChaosSettings;
  drained: boolean;
  drainSeconds: number;
  eventIds: readonly string[];
  receivers: readonly ChaosReceiver[];
  subscriptionIds: readonly string[];
  subscriptions: readonly SubscriptionView[];
  goneAttempts: readonly AttemptView[];
  /** The attempt logs of the always-failing subscriptions, by subscription id. */
  failingAttempts: ReadonlyMap<string, readonly AttemptView[]>;
  completions: ReadonlyMap<string, number>;
  queued: Queued;
  /** Operational events put on the bus, per "<detail-type> <subscription id>". */
  operationalEvents: ReadonlyMap<string, number>;
  /** performance.now() of each of them, same keys. */
  operationalEventTimes: ReadonlyMap<string, readonly number[]>;
  /** Records handed to the deliver function per pair, crashed batches included. */
  receives: ReadonlyMap<string, number>;
  /** Waiting copies deliver sent per pair. */
  waits: ReadonlyMap<string, number>;
  observed: Observed;
}

const whole = (value: number) => value.toLocaleString('en-US');

/** Each promise as a check with the figures behind its verdict. */
export function judge(evidence: Evidence): Check[] {
  const { eventIds, receivers, subscriptionIds, observed } = evidence;
  const expected = new Set(
    subscriptionIds.flatMap((subscriptionId) => eventIds.map((eventId) => pairKey(subscriptionId, eventId))),
  );
  const ofKind = (kind: ReceiverProfile['kind']) =>
    receivers.flatMap((receiver, index) =>
      receiver.profile.kind === kind ? [{ receiver, subscriptionId: subscriptionIds[index] ?? '' }] : [],
    );
  const pairsOf = (subscriptionId: string) => eventIds.map((eventId) => pairKey(subscriptionId, eventId));

  const delivered = new Set<string>();
  let duplicates = 0;
  receivers.forEach((receiver, index) => {
    for (const [eventId, times] of receiver.tally.accepted) {
      delivered.add(pairKey(subscriptionIds[index] ?? '', eventId));
      duplicates += times - 1;
    }
  });
  const deadLettered = new Set(observed.deliveryDeadLetters);
  const gone = ofKind('gone')[0];
  // The gone subscription's pairs end when deliver finishes their message (the 410 answers, then skips once
  // it is disabled), or are never queued because fan-out read the routes after the disable. Queued and never
  // finished is lost, and so is never queued for an event whose deliveries were all queued before the first
  // 410 was even answered: its routes were read while they still held the subscription.
  const gonePairs = gone
    ? eventIds.map((eventId) => ({ eventId, key: pairKey(gone.subscriptionId, eventId) }))
    : [];
  const firstGoneAnswerAt = gone?.receiver.tally.firstRequestAt ?? Number.POSITIVE_INFINITY;
  const goneHandled = gonePairs.filter(({ key }) => evidence.completions.has(key));
  const goneNeverQueued = gonePairs.filter(
    ({ eventId, key }) =>
      !evidence.queued.pairs.has(key) &&
      (evidence.queued.lastAt.get(eventId) ?? Number.POSITIVE_INFINITY) > firstGoneAnswerAt,
  );
  const dropped = new Set([...goneHandled, ...goneNeverQueued].map(({ key }) => key));
  const badSignatures = receivers.reduce((sum, receiver) => sum + receiver.tally.badSignatures, 0);

  const flakyPairs = ofKind('flaky').flatMap(({ subscriptionId }) => pairsOf(subscriptionId));
  const flakyMissing = flakyPairs.filter((key) => !delivered.has(key)).length;

  const failingPairs = new Set(ofKind('failing').flatMap(({ subscriptionId }) => pairsOf(subscriptionId)));
  const failingMissing = [...failingPairs].filter((key) => !deadLettered.has(key)).length;
  const failingDuplicateLetters =
    observed.deliveryDeadLetters.filter((key) => failingPairs.has(key)).length -
    (failingPairs.size - failingMissing);
  const alarm = observed.alarms['delivery-dlq'];

  const goneView = evidence.subscriptions.find((view) => view.id === gone?.subscriptionId);
  // The sender's view, per event: its 410 answers, and its attempts cut short before any answer (a timeout,
  // a reset), which say nothing of the 410 handling. How fast the machine is decides how many of those there
  // are, never whether the subscription is dropped at its first answered 410.
  const goneLog = new Map<string, { answered410: number[]; unanswered: number }>();
  for (const attempt of evidence.goneAttempts) {
    const event = goneLog.get(attempt.eventId) ?? { answered410: [], unanswered: 0 };
    if (attempt.statusCode === 410) event.answered410.push(attempt.attempt);
    if (attempt.statusCode === undefined) event.unanswered++;
    goneLog.set(attempt.eventId, event);
  }
  const goneRequestsPerEvent = gone?.receiver.tally.attempts ?? new Map<string, number>();
  // An event sent again after its 410 was answered: by the attempt log, or by the receiver's count (which
  // also sees attempts the log missed), allowing one more request for each attempt cut short.
  const goneRetried = new Set(
    [...goneLog.keys(), ...goneRequestsPerEvent.keys()].filter((eventId) => {
      const { answered410, unanswered } = goneLog.get(eventId) ?? { answered410: [], unanswered: 0 };
      const firstGone = Math.min(...answered410);
      const attemptedAfter = evidence.goneAttempts.some(
        (attempt) => attempt.eventId === eventId && attempt.attempt > firstGone,
      );
      return (
        answered410.length > 1 || attemptedAfter || (goneRequestsPerEvent.get(eventId) ?? 0) > 1 + unanswered
      );
    }),
  ).size;
  const goneUnanswered = evidence.goneAttempts.filter((attempt) => attempt.statusCode === undefined).length;
  const goneNot410 = evidence.goneAttempts.filter(
    (attempt) => attempt.statusCode !== undefined && attempt.statusCode !== 410,
  ).length;
  const goneReached = gone?.receiver.tally.attempts.size ?? 0;
  const goneRequests = gone?.receiver.tally.requests ?? 0;
  // Only the attempt whose write disabled it tells the owner, so exactly once.
  const goneDisabledEvents =
    evidence.operationalEvents.get(`webhook.subscription.disabled ${gone?.subscriptionId}`) ?? 0;
  const othersDisabled = evidence.subscriptions.filter(
    (view) => view.id !== gone?.subscriptionId && view.status !== 'active',
  ).length;

  const otherDeadLetters = observed.deliveryDeadLetters.filter((key) => !failingPairs.has(key)).length;

  const placed = [delivered, deadLettered, dropped];
  const lost = [...expected].filter((key) => !placed.some((set) => set.has(key))).length;
  const twice = [...expected].filter((key) => placed.filter((set) => set.has(key)).length > 1).length;
  const unexpected = new Set([...delivered, ...deadLettered, ...dropped].filter((key) => !expected.has(key)))
    .size;
  const sum = delivered.size + deadLettered.size + dropped.size;

  return [
    {
      name: 'the pipeline drained: queues empty, nothing in flight',
      passed: evidence.drained,
      figures: evidence.drained
        ? `after ${evidence.drainSeconds.toFixed(1)} s (bound ${evidence.settings.timeoutSeconds} s)`
        : `not within ${evidence.settings.timeoutSeconds} s`,
    },
    {
      name: 'flaky receivers: every (event, subscription) pair arrived at least once, signature valid',
      passed: flakyMissing === 0 && badSignatures === 0,
      figures: `${whole(flakyPairs.length - flakyMissing)} of ${whole(flakyPairs.length)} pairs, ${whole(flakyMissing)} missing; ${whole(duplicates)} duplicate deliveries (deduped by webhook-id); ${badSignatures} bad signatures`,
    },
    {
      name: 'always-failing receivers: every message in the delivery DLQ, alarm ALARM',
      passed: failingMissing === 0 && alarm === 'ALARM',
      figures: `${whole(failingPairs.size - failingMissing)} of ${whole(failingPairs.size)} pairs dead-lettered (${whole(failingDuplicateLetters)} more as duplicate messages); delivery-dlq alarm ${alarm ?? 'missing'}`,
    },
    {
      name: '410 subscription: disabled at its first answered 410, owner told once, no resend',
      passed:
        goneView?.status === 'disabled' &&
        goneView.disabledReason === 'endpoint_gone' &&
        goneReached >= 1 &&
        goneRetried === 0 &&
        goneNot410 === 0 &&
        goneDisabledEvents === 1 &&
        othersDisabled === 0,
      figures: `${goneView?.status ?? 'missing'} (${goneView?.disabledReason ?? 'no reason'}); ${goneReached} events reached it in ${goneRequests} requests; log: ${evidence.goneAttempts.length} attempts, ${goneNot410} answered other than 410, ${goneUnanswered} cut short, ${goneRetried} events re-sent after their first 410; webhook.subscription.disabled put ${goneDisabledEvents} times; ${othersDisabled} other subscriptions disabled`,
    },
    {
      name: 'no other DLQ holds anything',
      passed:
        observed.fanoutDeadLetters === 0 && observed.fanoutDeadLetterDepth === 0 && otherDeadLetters === 0,
      figures: `fan-out DLQ ${observed.fanoutDeadLetters} messages; delivery DLQ ${whole(otherDeadLetters)} messages other than the always-failing receivers' (${whole(observed.deliveryDeadLetters.length)} read, ${whole(observed.deliveryDeadLetterDepth)} reported by the queue)`,
    },
    {
      name: 'accounting: delivered + in DLQ + dropped by 410 = expected',
      passed: sum === expected.size && lost === 0 && twice === 0 && unexpected === 0,
      figures: `${whole(delivered.size)} + ${whole(deadLettered.size)} + ${whole(dropped.size)} = ${whole(sum)} of ${whole(expected.size)} expected (${whole(eventIds.length)} events × ${subscriptionIds.length} subscriptions); dropped: ${whole(goneHandled.length)} answered 410 or skipped by deliver, ${whole(goneNeverQueued.length)} never queued as the subscription was disabled by then; ${lost} lost, ${twice} in two places, ${unexpected} unexpected`,
    },
    ...isolationChecks(evidence, ofKind('failing')),
  ];
}

/**
 * The odds the settings give a false alarm, as upper bounds. One receive of a flaky pair's message fails
 * when the receiver fails it, when its invocation crashes (a crash costs every message of the batch one of
 * SQS's receives, even those already handled) or when a throttle reaches the handler in one of its calls.
 * One receive of a fan-out message fails on a crash, a throttle that reaches the handler, or entries that
 * SendMessageBatch failed in every one of fan-out's re-send rounds.
 */
export function odds(settings: ChaosSettings, definition: ServiceDefinition, flakyPairs: number): ChaosMath {
  const { faults } = settings;
  const surfaced = faults.dynamoThrottle * faults.dynamoThrottleSurfaced;
  const flakyReceiveFailure =
    1 -
    (1 - settings.receiverFailureRate) *
      (1 - faults.crash.deliver) *
      (1 - Math.min(1, DB_CALLS_PER_DELIVERY * surfaced));
  const deliveryMaxReceives = definition.queues.delivery.maxReceiveCount;
  const entryLost = (faults.sendBatchFailure / 2) ** FANOUT_SEND_ROUNDS;
  const fanoutReceiveFailure =
    1 -
    (1 - faults.crash.fanout) *
      (1 - Math.min(1, DB_CALLS_PER_FANOUT * surfaced)) *
      (1 - Math.min(1, settings.fanoutPageSize * entryLost));
  const fanoutMaxReceives = definition.queues.fanout.maxReceiveCount;
  const fanoutMessages = settings.events * (Math.floor(settings.subscriptions / settings.fanoutPageSize) + 1);
  return {
    flakyReceiveFailure,
    deliveryMaxReceives,
    flakyPairs,
    expectedFlakyDeadLetters: flakyPairs * flakyReceiveFailure ** deliveryMaxReceives,
    fanoutReceiveFailure,
    fanoutMaxReceives,
    fanoutMessages,
    expectedFanoutDeadLetters: fanoutMessages * fanoutReceiveFailure ** fanoutMaxReceives,
  };
}

export function pairOf(body: string): { subscriptionId: string; eventId: string } | undefined {
  try {
    return parseDeliveryMessage(body);
  } catch {
    return undefined;
  }
}

export function pairKeyOf(body: string): string | undefined {
  const pair = pairOf(body);
  return pair && pairKey(pair.subscriptionId, pair.eventId);
}

export const pairKey = (subscriptionId: string, eventId: string) => `${subscriptionId} ${eventId}`;
