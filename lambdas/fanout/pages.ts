import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type AcceptedEvent, TENANT_SOURCE_PREFIX } from '../contract/bus-events.js';
import {
  type DeliveryMessage,
  deliveryMessage,
  deliveryQueueEntry,
  type InlineEvent,
  inlineEvent,
} from '../contract/delivery-message.js';
import { anyFilterMatches, candidateFilters } from '../contract/event-types.js';
import { mapConcurrently } from '../platform/concurrency.js';
import { PoisonMessageError } from '../platform/errors.js';
import { retryPartial } from '../platform/retry.js';
import type { AttemptLog } from '../storage/attempts.js';
import type { EventStore } from '../storage/events.js';
import type { SubscriptionStore } from '../storage/subscriptions.js';
import type { KnownTenants } from '../storage/tenants.js';
import { type FanoutJob, sendFanoutJob } from './jobs.js';

export interface FanoutDependencies {
  sqs: SQSClient;
  /** Whether a bus event's tenant exists; jobs are the service's own and name tenants that do. */
  tenants: Pick<KnownTenants, 'exists'>;
  subscriptions: SubscriptionStore;
  events: EventStore;
  attempts: AttemptLog;
  deliveryQueueUrl: string;
  fanoutQueueUrl: string;
  /** The fan-out queue's DLQ, where a message that can never succeed goes at once. */
  deadLetterQueueUrl: string;
  /** Subscriptions one invocation enqueues before it hands the rest to a continuation. */
  pageSize: number;
}

/** What one page did: the delivery messages it queued, and whether it queued a continuation. */
interface PageResult {
  deliveries: number;
  continued: boolean;
}

export type FanoutResult = ({ outcome: 'fanned_out' } & PageResult) | { outcome: 'duplicate' };

export type JobResult = ({ outcome: 'done' } & PageResult) | { outcome: 'skipped'; reason: string };

type EventJob = Extract<FanoutJob, { job: 'event' }>;
type SinceJob = Extract<FanoutJob, { job: 'subscription-since' }>;

const SQS_BATCH_LIMIT = 10;
const BATCHES_IN_FLIGHT = 10;
/** Four sends in all, 100 ms before the second and doubling. */
const SEND_BACKOFF = { rounds: 4, baseDelayMs: 100 };
/** Attempt-log look-ups in flight while a replay since a time decides what to re-send. */
const LOOKUPS_IN_FLIGHT = 16;

/**
 * Fans out a newly published event: checks that its tenant exists (one put on the bus directly may name any
 * tenant id; the API's always exist), then stores and claims it, queues its first page of deliveries and, when
 * more subscriptions may match, a continuation job for the rest.
 *
 * The order keeps every subscription served at least once whatever step a crash interrupts:
 *   claim → send page 1 → send the continuation → mark the claim fanned out.
 * Until the claim is marked, a redelivery of the same bus event claims it again and redoes page 1 (and the
 * continuation), so a crash before the mark re-sends, never loses. Marking before the continuation is queued
 * would lose every later page to a crash between the two, since the redelivery would then be a duplicate.
 * The price of that order: a crash after the continuation was queued but before the mark queues a second
 * continuation, so the later pages go out twice; receivers dedupe by webhook-id (the event id). Later pages
 * are continuation jobs, and a retried job re-runs from its own start, so it re-sends its own page only.
 */
export async function fanOutEvent(deps: FanoutDependencies, event: AcceptedEvent): Promise<FanoutResult> {
  // Before the claim, so nothing is stored for an event that would be fanned out to no one.
  if (!(await deps.tenants.exists(event.tenantId))) {
    throw new PoisonMessageError(`tenant ${event.tenantId} does not exist`, {
      reason: 'unknown_tenant',
      // create-tenant makes a new id, so only a tenant that exists again (a restored table) makes a redrive work.
      action: `publish again with Source "${TENANT_SOURCE_PREFIX}<tenantId>" of an existing tenant (npm run create-tenant makes one and prints its id); redrive this message (--destination <FanoutQueueArn>) only once tenant ${event.tenantId} exists, e.g. in a restored tenants table`,
    });
  }
  if (!(await deps.events.claim(event))) return { outcome: 'duplicate' };
  const page = await fanOutPage(
    deps,
    {
      kind: 'fanout.job',
      job: 'event',
      tenantId: event.tenantId,
      eventId: event.id,
      eventType: event.type,
      replay: false,
    },
    inlineEvent(event),
  );
  // The count covers the first page; continuations log their own.
  await deps.events.markFannedOut(event, page.deliveries);
  return { outcome: 'fanned_out', ...page };
}

/** Runs one page of a job from the fan-out queue; a job with more to do queues its own continuation. */
export async function runFanoutJob(deps: FanoutDependencies, job: FanoutJob): Promise<JobResult> {
  switch (job.job) {
    case 'event': {
      // The deliver step would skip a missing event too, but a whole page of messages for nothing is waste.
      const event = await deps.events.get(job.tenantId, job.eventId);
      if (!event) return { outcome: 'skipped', reason: 'the event is no longer stored' };
      return { outcome: 'done', ...(await fanOutPage(deps, job, inlineEvent(event))) };
    }
    case 'event-subscription': {
      const event = await deps.events.get(job.tenantId, job.eventId);
      if (!event) return { outcome: 'skipped', reason: 'the event is no longer stored' };
      // The deliver step re-reads the subscription, so one that is disabled or deleted by then is skipped.
      await sendAll(deps.sqs, deps.deliveryQueueUrl, [
        deliveryMessage(job.tenantId, job.subscriptionId, job.eventId, true, inlineEvent(event)),
      ]);
      return { outcome: 'done', deliveries: 1, continued: false };
    }
    case 'subscription-since':
      return replaySincePage(deps, job);
  }
}

/**
 * One page of an event's fan-out: at most pageSize subscriptions, read from the event type's route keys in
 * candidateFilters order, starting where the job says. Each route query asks for no more than the budget
 * left, so the page never reads past it. When the budget ran out before the last key was exhausted, a
 * continuation starts exactly where this page stopped (at worst it finds nothing left). A small event rides in
 * each message (`inline`), so its deliveries need not read it back.
 */
async function fanOutPage(
  deps: FanoutDependencies,
  job: EventJob,
  inline: InlineEvent | undefined,
): Promise<PageResult> {
  const filters = candidateFilters(job.eventType);
  let position: NonNullable<EventJob['start']> = job.start ?? { filter: 0 };
  const subscriptionIds: string[] = [];
  while (subscriptionIds.length < deps.pageSize) {
    const filter = filters[position.filter];
    if (filter === undefined) break;
    const page = await deps.subscriptions.routedSubscriptionPage(job.tenantId, filter, {
      limit: deps.pageSize - subscriptionIds.length,
      start: position.key,
    });
    subscriptionIds.push(...page.ids);
    position = page.next ? { filter: position.filter, key: page.next } : { filter: position.filter + 1 };
  }
  await sendAll(
    deps.sqs,
    deps.deliveryQueueUrl,
    subscriptionIds.map((id) => deliveryMessage(job.tenantId, id, job.eventId, job.replay, inline)),
  );
  const continued = position.filter < filters.length;
  if (continued) {
    const { kind: _kind, ...rest } = job;
    await sendFanoutJob(deps.sqs, deps.fanoutQueueUrl, { ...rest, start: position });
  }
  return { deliveries: subscriptionIds.length, continued };
}

/**
 * One page of a replay since a time (or since the subscription was created, if later): up to pageSize
 * stored events from the job's position, of which those the subscription's current event types match and that the attempt log does not show delivered to it are
 * sent again, flagged as replays.
 *
 * "Delivered" is what the attempt log recorded. With the log set to `failures`, a success at the first
 * attempt is not recorded, and with `off` nothing is, so those events are sent again; receivers dedupe by
 * webhook-id, which stays the event id.
 */
async function replaySincePage(deps: FanoutDependencies, job: SinceJob): Promise<JobResult> {
  const { tenantId, subscriptionId } = job;
  const subscription = await deps.subscriptions.get(tenantId, subscriptionId);
  if (!subscription) return { outcome: 'skipped', reason: 'the subscription does not exist' };
  if (subscription.status !== 'active') return { outcome: 'skipped', reason: 'the subscription is disabled' };

  const until = job.until ?? new Date().toISOString();
  // Events published before the subscription existed were never meant for it.
  const from = Math.max(Date.parse(job.since), Date.parse(subscription.createdAt));
  const page = await deps.events.listSince(tenantId, new Date(from), {
    limit: deps.pageSize,
    start: job.start,
  });
  // The index is ordered by timestamp, so the first event past `until` ends the replay.
  const inWindow = page.events.filter((event) => Date.parse(event.timestamp) <= Date.parse(until));
  const matching = inWindow.filter((event) => anyFilterMatches(subscription.eventTypes, event.type));
  const delivered = await mapConcurrently(matching, LOOKUPS_IN_FLIGHT, (event) =>
    deps.attempts.hasDelivered(tenantId, event.id, subscriptionId),
  );
  const resend = matching.filter((_, index) => !delivered[index]);
  await sendAll(
    deps.sqs,
    deps.deliveryQueueUrl,
    resend.map((event) => deliveryMessage(tenantId, subscriptionId, event.id, true)),
  );
  const continued = page.next !== undefined && inWindow.length === page.events.length;
  if (continued) {
    const { kind: _kind, ...rest } = job;
    await sendFanoutJob(deps.sqs, deps.fanoutQueueUrl, { ...rest, until, start: page.next });
  }
  return { outcome: 'done', deliveries: resend.length, continued };
}

/**
 * Sends messages in batches of ten, several batches in flight, each with its tenant as message group (SQS fair
 * queues, contract/delivery-message.ts). Throws if any message could not be queued, once no send is in flight
 * any more, so SQS redelivers the page and its retry re-sends it.
 */
async function sendAll(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly DeliveryMessage[],
): Promise<void> {
  const batches: SendMessageBatchRequestEntry[][] = [];
  for (let start = 0; start < messages.length; start += SQS_BATCH_LIMIT) {
    batches.push(
      messages
        .slice(start, start + SQS_BATCH_LIMIT)
        .map((message, index) => ({ Id: String(index), ...deliveryQueueEntry(message) })),
    );
  }
  // After a failure no batch starts that the retry would send again anyway.
  await mapConcurrently(batches, BATCHES_IN_FLIGHT, (batch) => sendBatch(sqs, queueUrl, batch));
}

/** SendMessageBatch can succeed as a call while single entries fail: re-send just those, then give up loudly. */
async function sendBatch(
  sqs: SQSClient,
  queueUrl: string,
  entries: SendMessageBatchRequestEntry[],
): Promise<void> {
  let reasons = '';
  await retryPartial(
    entries,
    async (pending) => {
      const result = await sqs.send(
        new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [...pending] }),
      );
      const failed = new Set((result.Failed ?? []).map((failure) => failure.Id));
      reasons = (result.Failed ?? []).map((failure) => failure.Code).join(', ');
      return pending.filter((entry) => failed.has(entry.Id));
    },
    {
      ...SEND_BACKOFF,
      giveUp: (left) =>
        new Error(`SendMessageBatch failed for ${left.length} delivery messages (${reasons})`),
    },
  );
}
