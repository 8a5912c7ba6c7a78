import type { DeliveryMessage } from '../contract/delivery-message.js';
import { logger } from '../platform/logger.js';
import type { AttemptLog, AttemptRecord } from '../storage/attempts.js';
import type { EventStore, StoredEvent } from '../storage/events.js';
import { eventKey, subscriptionKey } from '../storage/keys.js';
import type { StoredSubscription } from '../storage/subscription-model.js';
import type { SubscriptionStore } from '../storage/subscriptions.js';

/**
 * The reads and writes of a delivery that can be shared across an SQS batch. Delivered one at a time, a
 * message would cost a subscription read, an event read and an attempt write; a batch of ten costs one
 * BatchGetItem, one read per referenced event (none when the event rides in the message) and a
 * BatchWriteItem for attempts that finish close together. Write and read units are the same
 * either way; calls, and with them latency and CPU, are not.
 */
export interface DeliverySession {
  subscription(tenantId: string, subscriptionId: string): Promise<StoredSubscription | undefined>;
  event(message: DeliveryMessage, now: Date): Promise<StoredEvent | undefined>;
  /** Records an attempt; a failure to record is logged, never thrown, since the attempt has happened. */
  record(tenantId: string, record: AttemptRecord): Promise<void>;
}

export interface SessionDependencies {
  subscriptions: SubscriptionStore;
  events: EventStore;
  attempts: AttemptLog;
}

/** How long a finished attempt's record waits for others to be written with it. */
const ATTEMPT_RECORD_GROUPING_MS = 200;

/**
 * One batch of messages: their subscriptions are read together before the first delivery, and each event
 * referenced by id is read once however many messages name it. A subscription the batch read could not
 * fetch is read on its own, so one failed batch read costs calls, not deliveries. Attempt records are
 * written together: those finished within `groupingMs` of each other in one call, so a batch whose
 * receivers answer alike costs one, while a record never waits long for a slow delivery in the same batch
 * (and an invocation that dies before the batch ends loses at most the last group). flush() writes the rest.
 */
export async function batchSession(
  deps: SessionDependencies,
  messages: readonly DeliveryMessage[],
  groupingMs: number = ATTEMPT_RECORD_GROUPING_MS,
): Promise<DeliverySession & { flush(): Promise<void> }> {
  let subscriptions: Map<string, StoredSubscription> | undefined;
  try {
    subscriptions = await deps.subscriptions.getMany(messages);
  } catch (error) {
    logger.warn('subscriptions not read as a batch; reading one by one', { error: (error as Error).message });
  }
  const events = new Map<string, Promise<StoredEvent | undefined>>();
  const pending: { tenantId: string; record: AttemptRecord }[] = [];
  const writes: Promise<void>[] = [];
  let timer: NodeJS.Timeout | undefined;
  const writePending = () => {
    clearTimeout(timer);
    timer = undefined;
    const entries = pending.splice(0);
    if (entries.length > 0) writes.push(recordAll(deps.attempts, entries));
  };
  return {
    subscription: (tenantId, subscriptionId) =>
      subscriptions
        ? Promise.resolve(subscriptions.get(subscriptionKey(tenantId, subscriptionId)))
        : deps.subscriptions.get(tenantId, subscriptionId, false),
    event(message, now) {
      const key = eventKey(message.tenantId, message.eventId);
      let event = events.get(key);
      if (!event) {
        event = eventOf(deps.events, message, now);
        // A failed read is not kept: the next message naming the event tries again.
        event.catch(() => events.delete(key));
        events.set(key, event);
      }
      return event;
    },
    record(tenantId, record) {
      pending.push({ tenantId, record });
      timer ??= setTimeout(writePending, groupingMs);
      return Promise.resolve();
    },
    async flush() {
      writePending();
      await Promise.all(writes);
    },
  };
}

async function recordAll(attempts: AttemptLog, entries: { tenantId: string; record: AttemptRecord }[]) {
  try {
    await attempts.recordAll(entries);
  } catch (error) {
    logNotRecorded(
      entries.map((entry) => entry.record),
      error,
    );
  }
}

/** The message's event: carried in it, or read from the store (undefined once expired or never stored). */
function eventOf(events: EventStore, message: DeliveryMessage, now: Date): Promise<StoredEvent | undefined> {
  if (message.event) {
    return Promise.resolve({ tenantId: message.tenantId, id: message.eventId, ...message.event });
  }
  return events.get(message.tenantId, message.eventId, now);
}

function logNotRecorded(records: readonly AttemptRecord[], error: unknown) {
  for (const record of records) {
    logger.error('attempt not recorded', {
      eventId: record.eventId,
      subscriptionId: record.subscriptionId,
      attempt: record.attempt,
      error: (error as Error).message,
    });
  }
}
