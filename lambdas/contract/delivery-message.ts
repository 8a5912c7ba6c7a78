import * as z from 'zod/mini';
import { PoisonMessageError } from '../platform/errors.js';
import { describeIssues, safeParse } from '../platform/validation.js';

/**
 * What fan-out puts on the delivery queue: one message per (event, subscription). The deliver step reads the
 * subscription afresh, so a disabled, deleted or re-filtered subscription is honoured for messages queued
 * before the change. The event is immutable, so a small one rides in the message itself and the deliver step
 * does not read it back; a larger one is left in the event store and referenced by id (claim-check), which
 * keeps every message, and so every batch of ten, within one 64 KB billing chunk of SQS.
 */
const nonEmpty = z.string().check(z.minLength(1));

const inlineEventSchema = z.object({
  type: nonEmpty,
  timestamp: nonEmpty,
  // Passed through as parsed: JSON.parse keeps keys like "__proto__" as own properties, a copy might not.
  data: z.custom<Record<string, unknown>>(
    (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  ),
});

const deliveryMessageSchema = z.object({
  v: z.literal(2),
  tenantId: nonEmpty,
  subscriptionId: nonEmpty,
  eventId: nonEmpty,
  /** Set on deliveries that a replay asked for; shown in the attempt log. */
  replay: z.optional(z.literal(true)),
  event: z.optional(inlineEventSchema),
  /**
   * Attempts made before this copy of the message was sent. A delivery that waits without an attempt (its
   * subscription's circuit is open) goes back on the queue as a new copy, whose receive count starts again:
   * the attempt number is this plus the copy's ApproximateReceiveCount, so waiting costs no attempt.
   */
  attemptsBefore: z.optional(z.int().check(z.minimum(1))),
  /** When the first copy was queued: waiting spends the schedule's time, not its attempts. */
  queuedAt: z.optional(z.iso.datetime()),
});

export type DeliveryMessage = z.infer<typeof deliveryMessageSchema>;
export type InlineEvent = z.infer<typeof inlineEventSchema>;

/**
 * The most JSON a payload may have to ride in its delivery messages: ten messages of this size and their
 * envelopes fit one 64 KB chunk of a SendMessageBatch and of a receive.
 */
export const INLINE_EVENT_MAX_BYTES = 4 * 1024;

/** The event to carry in its delivery messages, or undefined when its payload is too large to. */
export function inlineEvent(event: InlineEvent): InlineEvent | undefined {
  const size = Buffer.byteLength(JSON.stringify(event.data));
  return size <= INLINE_EVENT_MAX_BYTES
    ? { type: event.type, timestamp: event.timestamp, data: event.data }
    : undefined;
}

export function deliveryMessage(
  tenantId: string,
  subscriptionId: string,
  eventId: string,
  replay = false,
  event?: InlineEvent,
): DeliveryMessage {
  return {
    v: 2,
    tenantId,
    subscriptionId,
    eventId,
    ...(replay ? { replay: true as const } : {}),
    ...(event ? { event } : {}),
  };
}

/** The copy of `message`, first queued at `queuedAt`, to send when it waits after `attemptsMade` attempts. */
export function waitingCopy(message: DeliveryMessage, attemptsMade: number, queuedAt: Date): DeliveryMessage {
  const { attemptsBefore: _previous, ...rest } = message;
  return {
    ...rest,
    ...(attemptsMade > 0 ? { attemptsBefore: attemptsMade } : {}),
    queuedAt: queuedAt.toISOString(),
  };
}

/** SQS's longest message delay (DelaySeconds): a waiting copy waits at most this long at a time. */
export const MAX_DELAY_SECONDS = 900;

/** A wait as a waiting copy's DelaySeconds: whole seconds, at least one and at most SQS's longest delay. */
export function delaySeconds(seconds: number): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.ceil(seconds)));
}

/**
 * The message as fan-out sent it, without what its waiting copies carry: what goes to the DLQ, so that a
 * redrive gives it a whole schedule again, as it does a message SQS moved there.
 */
export function originalMessage(message: DeliveryMessage): DeliveryMessage {
  const { attemptsBefore: _attempts, queuedAt: _queued, ...original } = message;
  return original;
}

/** The attempt a receive of `message` is: its copy's receive count after the attempts made before the copy. */
export function attemptNumber(message: DeliveryMessage, approximateReceiveCount: number): number {
  return (message.attemptsBefore ?? 0) + approximateReceiveCount;
}

/** Only fan-out and deliver write delivery messages, so a malformed one was written by hand or by a bug. */
const MALFORMED_DELIVERY = {
  reason: 'malformed_delivery',
  action: 'only fan-out and deliver write delivery messages: find who sent this one; it can be deleted',
} as const;

export function parseDeliveryMessage(body: string): DeliveryMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new PoisonMessageError('delivery message is not JSON', MALFORMED_DELIVERY);
  }
  const result = safeParse(deliveryMessageSchema, json);
  if (!result.success) {
    throw new PoisonMessageError(
      `delivery message is malformed: ${describeIssues(result.error.issues, 'message')}`,
      MALFORMED_DELIVERY,
    );
  }
  return result.data;
}

/**
 * A delivery message as it goes on the delivery queue, whoever sends it: its tenant is its message group,
 * which makes the standard queue an SQS fair queue, where one tenant's backlog does not delay the others'
 * deliveries. The consumers need no change, and the queue stays a standard one (no FIFO ordering).
 */
export function deliveryQueueEntry(message: DeliveryMessage): {
  MessageBody: string;
  MessageGroupId: string;
} {
  return { MessageBody: JSON.stringify(message), MessageGroupId: message.tenantId };
}
