import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';

/** An SQS-triggered handler that reports partial batch failures. */
export type QueueHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

/** Powertools wants the Lambda context when there is one, and no key at all when there is not. */
export function withContext(context: Context | undefined): { context?: Context } {
  return context ? { context } : {};
}
