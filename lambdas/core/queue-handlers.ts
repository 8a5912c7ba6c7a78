import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { fromBusEvent } from './bus-events.js';
import { attemptDelivery, type DeliveryDependencies } from './delivery.js';
import { parseDeliveryMessage } from './delivery-message.js';
import { type FanoutDependencies, fanOutEvent } from './fanout.js';
import { logger } from './logger.js';
import { delayAfterAttempt } from './retry-schedule.js';

export type QueueHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

/** Fan-out: each record is one bus event; a record that fails is redelivered by SQS and, in the end, DLQ'd. */
export function createFanoutHandler(deps: FanoutDependencies): QueueHandler {
  const handleRecord = async (record: SQSRecord) => {
    const event = fromBusEvent(record.body);
    const result = await fanOutEvent(deps, event);
    logger.info('event fanned out', {
      eventId: event.id,
      tenantId: event.tenantId,
      type: event.type,
      ...result,
    });
  };
  return (event, context) =>
    processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), withContext(context));
}

export interface DeliverHandlerDependencies extends DeliveryDependencies {
  sqs: SQSClient;
  deliveryQueueUrl: string;
  retryScheduleSeconds: readonly number[];
  random?: () => number;
}

class DeliveryFailedError extends Error {
  override name = 'DeliveryFailedError';
}

/**
 * Deliver: one attempt per record. A failed attempt sets the message's visibility to the next step of the
 * retry schedule and is reported in batchItemFailures, so SQS brings it back then, and after maxReceiveCount
 * receives moves it to the DLQ. A receiver that fails is not our error, so a batch where every delivery
 * failed still returns normally instead of failing the invocation.
 */
export function createDeliverHandler(deps: DeliverHandlerDependencies): QueueHandler {
  const handleRecord = async (record: SQSRecord) => {
    const message = parseDeliveryMessage(record.body);
    const attempt = Number(record.attributes.ApproximateReceiveCount);
    const outcome = await attemptDelivery(deps, message);
    const fields = { eventId: message.event.id, subscriptionId: message.subscriptionId, attempt, ...outcome };
    if (outcome.result !== 'failed') {
      logger.info(outcome.result === 'delivered' ? 'webhook delivered' : 'webhook skipped', fields);
      return;
    }
    const retryInSeconds = delayAfterAttempt(deps.retryScheduleSeconds, attempt, deps.random);
    const final = attempt >= deps.retryScheduleSeconds.length;
    logger.warn(final ? 'webhook failed for the last time' : 'webhook failed', {
      ...fields,
      retryInSeconds,
      final,
    });
    await deps.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: deps.deliveryQueueUrl,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: retryInSeconds,
      }),
    );
    throw new DeliveryFailedError(`attempt ${attempt} failed`);
  };
  return (event, context) =>
    processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), {
      ...withContext(context),
      throwOnFullBatchFailure: false,
    });
}

function withContext(context: Context | undefined): { context?: Context } {
  return context ? { context } : {};
}
