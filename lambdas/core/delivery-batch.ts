import type { AttemptLog, AttemptRecord } from './attempts.js';
import type { DeliveryMessage } from './delivery-message.js';
import type { EventStore, StoredEvent } from './event-store.js';
import { logger } from './logger.js';
import { type StoredSubscription, type SubscriptionStore, subscriptionKey } from './subscriptions.js';

/**
 * The reads and writes of a delivery that can be shared across an SQS batch. Delivered one at a time, a
 * message costs a subscription read, an event read and an attempt write; a batch of ten done through
 * batchSession() costs one BatchGetItem, one read per referenced event (none when the event rides in the
 * message) and one BatchWriteItem. Write and read units are the same either way; calls, and with them
 * latency and CPU, are not.
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

/** Each message on its own: reads as it goes, records at once. */
export function singleSession(deps: SessionDependencies): DeliverySession {
  return {
    subscription: (tenantId, subscriptionId) => deps.subscriptions.get(tenantId, subscriptionId, false),
    event: (message, now) => eventOf(deps.events, message, now),
    async record(tenantId, record) {
      try {
        await deps.attempts.record(tenantId, record);
      } catch (error) {
        logNotRecorded([record], error);
      }
    },
  };
}

/**
 * One batch of messages: their subscriptions are read together before the first delivery, each event
 * referenced by id is read once however many messages name it, and attempt records wait for flush(). A
 * subscription the batch read could not fetch is read on its own, so one failed batch read costs calls,
 * not deliveries.
 */
export async function batchSession(
  deps: SessionDependencies,
  messages: readonly DeliveryMessage[],
): Promise<DeliverySession & { flush(): Promise<void> }> {
  let subscriptions: Map<string, StoredSubscription> | undefined;
  try {
    subscriptions = await deps.subscriptions.getMany(messages);
  } catch (error) {
    logger.warn('subscriptions not read as a batch; reading one by one', { error: (error as Error).message });
  }
  const events = new Map<string, Promise<StoredEvent | undefined>>();
  const pending: { tenantId: string; record: AttemptRecord }[] = [];
  return {
    subscription: (tenantId, subscriptionId) =>
      subscriptions
        ? Promise.resolve(subscriptions.get(subscriptionKey(tenantId, subscriptionId)))
        : deps.subscriptions.get(tenantId, subscriptionId, false),
    event(message, now) {
      const key = `${message.tenantId}#${message.eventId}`;
      let event = events.get(key);
      if (!event) {
        event = eventOf(deps.events, message, now);
        // A failed read is not kept: the next message naming the event tries again.
        event.catch(() => events.delete(key));
        events.set(key, event);
      }
      return event;
    },
    async record(tenantId, record) {
      pending.push({ tenantId, record });
    },
    async flush() {
      const entries = pending.splice(0);
      try {
        await deps.attempts.recordAll(entries);
      } catch (error) {
        logNotRecorded(
          entries.map((entry) => entry.record),
          error,
        );
      }
    },
  };
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
