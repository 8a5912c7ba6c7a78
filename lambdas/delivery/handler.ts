import { ChangeMessageVisibilityCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import {
  attemptNumber,
  type DeliveryMessage,
  deliveryQueueEntry,
  originalMessage,
  parseDeliveryMessage,
  waitingCopy,
} from '../contract/delivery-message.js';
import type { QueueHandler } from '../contract/handlers.js';
import { sendToDeadLetterQueue } from '../platform/dead-letter.js';
import { logger } from '../platform/logger.js';
import { processSqsBatch } from '../platform/sqs-batch.js';
import { type DeliveryDependencies, deliver } from './deliver.js';
import { batchSession, type DeliverySession } from './session.js';

export interface DeliverHandlerDependencies extends DeliveryDependencies {
  sqs: SQSClient;
  deliveryQueueUrl: string;
  /** Where a waiting copy that runs out goes (one SQS redrive would not move: it has too few receives). */
  deliveryDeadLetterQueueUrl: string;
  /**
   * How long a finished attempt's record waits to be written with others; ATTEMPT_RECORD_GROUPING_MS by
   * default.
   */
  attemptRecordGroupingMs?: number;
}

/** The DLQ message attribute that says why deliver itself sent a delivery there. */
export const DELIVERY_DEAD_LETTER_REASON_ATTRIBUTE = 'DeliveryReason';

class DeliveryFailedError extends Error {
  override name = 'DeliveryFailedError';
}

/**
 * Deliver: one attempt per record (delivery/deliver.ts decides; this turns the decision into SQS actions). A failed
 * attempt to retry sets the message's visibility to the wait before the next one (within SQS's 12 hours
 * from the receive) and is reported in batchItemFailures, so SQS brings it back then; after the last attempt
 * the visibility is 0 and SQS moves it to the DLQ on its next receive. A delivery that must wait makes no
 * attempt (its circuit is open, or its rate limit reached: delivery/admission.ts): a delayed copy of its
 * message takes its place. The attempt number is the copy's receive count after the attempts made before it;
 * a copy has had fewer receives than the redrive policy counts, so when its last attempt has failed, or its
 * schedule's time runs out while it waits, deliver sends it to the DLQ itself, as the original message (a
 * redrive then gives it a whole schedule again, as it does a message SQS moved). A failure that disabled the
 * subscription (410 Gone, failing too long) is not retried: the record succeeds and SQS deletes the message.
 * A receiver that fails is not our error, so a batch where every delivery failed still returns normally
 * instead of failing the invocation.
 *
 * The batch's deliveries run concurrently and share one session: subscriptions read together up front,
 * attempt records written in groups as deliveries finish, the last before the handler returns (and so
 * before the event source mapping deletes any message).
 */
export function createDeliverHandler(deps: DeliverHandlerDependencies): QueueHandler {
  const handleRecord = async (
    record: SQSRecord,
    session: DeliverySession,
    parsed: DeliveryMessage | undefined,
    invokedAt: Date,
  ) => {
    // A malformed message was left out of the batch's messages; parsing it again throws its poison error.
    const message = parsed ?? parseDeliveryMessage(record.body);
    const attempt = attemptNumber(message, Number(record.attributes.ApproximateReceiveCount));
    // A copy that waited has had fewer receives than the redrive policy counts, so it is dead-lettered here,
    // as the original message: a redrive then gives it a whole schedule again.
    const deadLetter = async (
      reason: 'attempts_exhausted' | 'out_of_time',
      fields: Record<string, unknown>,
    ) => {
      await sendToDeadLetterQueue(
        deps.sqs,
        deps.deliveryDeadLetterQueueUrl,
        JSON.stringify(originalMessage(message)),
        {
          reason: [DELIVERY_DEAD_LETTER_REASON_ATTRIBUTE, reason],
        },
      );
      logger.warn('webhook sent to the DLQ', { ...fields, reason });
    };
    if (attempt > deps.retryScheduleSeconds.length) {
      // Its last attempt failed after the receives the copy's redrive policy would have counted.
      return await deadLetter('attempts_exhausted', {
        eventId: message.eventId,
        subscriptionId: message.subscriptionId,
        attempt,
      });
    }
    const queuedAt = message.queuedAt ? new Date(message.queuedAt) : sentAt(record, invokedAt);
    const result = await deliver(deps, message, { attempt, queuedAt, invokedAt }, session);
    const fields = { eventId: message.eventId, subscriptionId: message.subscriptionId, attempt, ...result };
    if (result.result === 'waiting') {
      if (result.then === 'dead_letter') return await deadLetter('out_of_time', fields);
      // A new copy, delayed, in place of this one: its receive count starts again, so waiting costs no attempt.
      await deps.sqs.send(
        new SendMessageCommand({
          QueueUrl: deps.deliveryQueueUrl,
          ...deliveryQueueEntry(waitingCopy(message, attempt - 1, queuedAt)),
          DelaySeconds: result.waitSeconds,
        }),
      );
      logger.info('webhook waiting', fields);
      return;
    }
    if (result.result === 'skipped') {
      // A stored event gone before its delivery means a delivery lost: worth an operator's attention.
      if (result.reason === 'event_expired') logger.warn('webhook skipped', fields);
      else logger.info('webhook skipped', fields);
      return;
    }
    if (result.result === 'delivered') {
      logger.info('webhook delivered', fields);
      return;
    }
    const final = result.then !== 'retry';
    logger.warn(final ? 'webhook failed for the last time' : 'webhook failed', { ...fields, final });
    if (result.then === 'drop') return;
    // A copy would reach the DLQ through redrive still carrying its queued time: it goes as the original.
    if (result.then === 'dead_letter' && message.queuedAt)
      return await deadLetter('attempts_exhausted', fields);
    await deps.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: deps.deliveryQueueUrl,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: result.retryInSeconds,
      }),
    );
    throw new DeliveryFailedError(`attempt ${attempt} failed`);
  };
  return async (event, context) => {
    if (context) logger.addContext(context);
    // SQS's 12-hour visibility ceiling counts from the receive; the invocation's start is the nearest we
    // know.
    const invokedAt = deps.now?.() ?? new Date();
    const messages = parseableMessages(event.Records);
    const session = await batchSession(deps, [...messages.values()], deps.attemptRecordGroupingMs);
    try {
      return await processSqsBatch(
        event,
        (record) => handleRecord(record, session, messages.get(record.messageId), invokedAt),
        context,
        { throwOnFullBatchFailure: false },
      );
    } finally {
      await session.flush();
    }
  };
}

/** When SQS took the message in (its SentTimestamp), or `fallback` should the attribute be missing. */
function sentAt(record: SQSRecord, fallback: Date): Date {
  const sent = Number(record.attributes.SentTimestamp);
  return Number.isFinite(sent) && sent > 0 ? new Date(sent) : fallback;
}

/**
 * The batch's well-formed messages by message id; a malformed one fails on its own when its record is
 * handled.
 */
function parseableMessages(records: readonly SQSRecord[]): Map<string, DeliveryMessage> {
  return new Map(
    records.flatMap((record) => {
      try {
        return [[record.messageId, parseDeliveryMessage(record.body)] as const];
      } catch {
        return [];
      }
    }),
  );
}
