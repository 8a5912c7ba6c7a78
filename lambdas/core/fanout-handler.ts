import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSRecord } from 'aws-lambda';
import { fromBusEvent } from './bus-events.js';
import { PoisonMessageError } from './errors.js';
import { type FanoutDependencies, fanOutEvent, runFanoutJob } from './fanout.js';
import { isFanoutJob, parseFanoutJob } from './fanout-jobs.js';
import { logger } from './logger.js';
import { type QueueHandler, withContext } from './sqs-batch.js';

/**
 * Fan-out: each record is a bus event (a new publish) or a fan-out job (a continuation or a replay), and
 * each is one bounded page of work. A record that fails is redelivered by SQS and, in the end, DLQ'd.
 */
export function createFanoutHandler(deps: FanoutDependencies): QueueHandler {
  const handleRecord = async (record: SQSRecord) => {
    const body = parseBody(record.body);
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
  return (event, context) =>
    processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), withContext(context));
}

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw new PoisonMessageError('fan-out message is not JSON');
  }
}
