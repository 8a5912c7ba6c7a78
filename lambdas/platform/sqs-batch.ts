import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/**
 * One SQS batch through Powertools' BatchProcessor: its records handled concurrently, those that throw
 * reported in batchItemFailures.
 *
 * A processor for each batch, not one per module as Powertools' examples have it: a processor keeps the
 * batch's records and failures on itself, and local mode, the bench and the chaos runs call one handler from
 * several pollers at once, where a shared processor reports one batch's failures in another's response, or
 * loses them. (Lambda runs one invocation at a time per instance, so there sharing would be safe.)
 */
export function processSqsBatch(
  event: SQSEvent,
  handleRecord: (record: SQSRecord) => Promise<void>,
  context: Context | undefined,
  options: { throwOnFullBatchFailure?: boolean } = {},
): Promise<SQSBatchResponse> {
  return processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), {
    // Powertools wants the Lambda context when there is one, and no key at all when there is not.
    ...(context ? { context } : {}),
    ...options,
  });
}
