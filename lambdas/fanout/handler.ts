import type { SQSRecord } from 'aws-lambda';
import { fromBusEvent } from '../contract/bus-events.js';
import type { QueueHandler } from '../contract/handlers.js';
import { sendToDeadLetterQueue } from '../platform/dead-letter.js';
import { PoisonMessageError } from '../platform/errors.js';
import { logger } from '../platform/logger.js';
import { processSqsBatch } from '../platform/sqs-batch.js';
import { isFanoutJob, parseFanoutJob } from './jobs.js';
import { type FanoutDependencies, fanOutEvent, runFanoutJob } from './pages.js';

/** The DLQ message attributes that say why fan-out gave up on a message. */
export const DEAD_LETTER_REASON_ATTRIBUTE = 'FanoutReason';
export const DEAD_LETTER_ERROR_ATTRIBUTE = 'FanoutError';

/**
 * Fan-out: each record is a bus event (a new publish) or a fan-out job (a continuation or a replay), and
 * each is one bounded page of work. A record that fails for a transient reason (a throttle, an SQS error) is
 * redelivered by SQS and, after maxReceiveCount receives, moved to the DLQ. A record that can never succeed
 * (PoisonMessageError: not an event, no tenant or an unknown one, an invalid type or detail, too large, a
 * malformed job) is sent to the DLQ at once, body unchanged so it can be redriven, and then counts as handled
 * so SQS deletes it; if that send fails, the record fails and is retried like any other.
 */
export function createFanoutHandler(deps: FanoutDependencies): QueueHandler {
  const handleBody = async (body: unknown) => {
    if (isFanoutJob(body)) {
      const job = parseFanoutJob(body);
      const result = await runFanoutJob(deps, job);
      const { kind: _kind, ...fields } = job;
      logger.info(result.outcome === 'done' ? 'fan-out job page done' : 'fan-out job skipped', {
        ...fields,
        ...result,
      });
      return;
    }
    const event = fromBusEvent(body);
    const result = await fanOutEvent(deps, event);
    logger.info('event fanned out', {
      eventId: event.id,
      tenantId: event.tenantId,
      type: event.type,
      ...result,
    });
  };
  const handleRecord = async (record: SQSRecord) => {
    let body: unknown;
    try {
      body = parseBody(record.body);
      await handleBody(body);
    } catch (error) {
      if (!(error instanceof PoisonMessageError)) throw error;
      await deadLetter(deps, record, error);
      logger.error('fan-out message sent to the DLQ: it can never succeed', {
        messageId: record.messageId,
        ...identify(body),
        reason: error.reason,
        problem: error.message,
        action: error.action,
      });
    }
  };
  return (event, context) => {
    if (context) logger.addContext(context);
    return processSqsBatch(event, handleRecord, context);
  };
}

function deadLetter(deps: FanoutDependencies, record: SQSRecord, error: PoisonMessageError) {
  return sendToDeadLetterQueue(deps.sqs, deps.deadLetterQueueUrl, record.body, {
    reason: [DEAD_LETTER_REASON_ATTRIBUTE, error.reason],
    detail: [DEAD_LETTER_ERROR_ATTRIBUTE, error.message],
  });
}

/** What names a message for an operator: the bus event's source, type and id, or the job's ids. */
function identify(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null) return {};
  const fields = body as Record<string, unknown>;
  const pick = (...names: string[]) =>
    Object.fromEntries(
      names.filter((name) => typeof fields[name] === 'string').map((name) => [name, fields[name]]),
    );
  if (isFanoutJob(body)) return pick('job', 'tenantId', 'eventId', 'subscriptionId');
  return {
    ...pick('source', 'detail-type', 'id'),
    ...(Array.isArray(fields.resources) ? { resources: fields.resources } : {}),
  };
}

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new PoisonMessageError('fan-out message is not JSON', {
      reason: 'not_json',
      action:
        'only the bus rule and the service itself send to the fan-out queue: find who sent this message; it can be deleted',
    });
  }
}
