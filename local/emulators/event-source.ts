import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { lambdaContext } from './lambda-context.js';

/**
 * What the Lambda SQS event source mapping does, for local mode and tests: receive up to `batchSize`
 * messages, invoke the handler with an SQS event, delete the successes. Messages named in batchItemFailures
 * stay for redrive; a thrown error, or a response naming a message not in the batch, fails the whole batch.
 */
export interface EventSourceOptions {
  /** The function the mapping invokes, named in each invocation's Lambda context. */
  functionName: string;
  queueUrl: string;
  queueArn: string;
  batchSize: number;
  waitTimeSeconds?: number;
  region?: string;
}

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

export interface PollResult {
  received: number;
  succeeded: number;
  failed: number;
  /** Set when the handler threw; every message of the batch then counts as failed. */
  handlerError?: unknown;
}

export async function pollOnce(
  sqs: SQSClient,
  handler: SqsHandler,
  options: EventSourceOptions,
): Promise<PollResult> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: options.queueUrl,
      MaxNumberOfMessages: options.batchSize,
      WaitTimeSeconds: options.waitTimeSeconds ?? 0,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  if (Messages.length === 0) return { received: 0, succeeded: 0, failed: 0 };

  const records = Messages.map((message) => toRecord(message, options));
  let failedIds: Set<string>;
  try {
    const response = await handler({ Records: records }, lambdaContext(options.functionName));
    failedIds = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    if ([...failedIds].some((id) => !records.some((record) => record.messageId === id))) {
      failedIds = new Set(records.map((record) => record.messageId));
    }
  } catch (handlerError) {
    return { received: records.length, succeeded: 0, failed: records.length, handlerError };
  }

  const succeeded = records.filter((record) => !failedIds.has(record.messageId));
  if (succeeded.length > 0) {
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: options.queueUrl,
        Entries: succeeded.map((record, index) => ({
          Id: String(index),
          ReceiptHandle: record.receiptHandle,
        })),
      }),
    );
  }
  return { received: records.length, succeeded: succeeded.length, failed: failedIds.size };
}

/** Long polls stay short so that stopping a poller takes about a second, not the 20 s Lambda uses. */
const POLL_WAIT_SECONDS = 1;
const ERROR_PAUSE_MS = 1_000;

/** One queue's polls: a long poll of its queue, then the handler on what came back (EventSourceOptions). */
export type Poll = (waitTimeSeconds: number) => Promise<PollResult>;

/**
 * One poll of a poller that runs until stopped: a failed batch is logged and left for redrive, a failed
 * receive (engine busy, say) is logged and followed by a pause. What came back, or undefined when it failed.
 */
export async function pollAndLog(
  name: string,
  poll: Poll,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<PollResult | undefined> {
  try {
    const result = await poll(POLL_WAIT_SECONDS);
    if (result.handlerError !== undefined) {
      log(
        `[${name}] handler threw, ${result.received} message(s) left for redrive: ${messageOf(result.handlerError)}`,
      );
    }
    return result;
  } catch (error) {
    log(`[${name}] poll failed, retrying: ${messageOf(error)}`);
    await sleep(ERROR_PAUSE_MS, undefined, { signal }).catch(() => undefined);
    return undefined;
  }
}

/**
 * Polls one queue back to back until stopped, as one of the event source mapping's pollers does. Nothing ends
 * the loop but stop(), which lets the poll under way finish.
 */
export function pollContinuously(
  name: string,
  poll: Poll,
  log: (line: string) => void,
): { stop(): Promise<void> } {
  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopping.signal.aborted) await pollAndLog(name, poll, log, stopping.signal);
  })();
  return {
    async stop() {
      stopping.abort();
      await loop;
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function toRecord(message: Message, options: EventSourceOptions): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? '',
      SenderId: attributes.SenderId ?? '',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? '',
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn,
    awsRegion: options.region ?? 'us-east-1',
  };
}
