import { parseArgs } from 'node:util';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';

/**
 * Moving dead letters back to where they came from, two ways behind one small interface:
 *   move task          SQS StartMessageMoveTask, an asynchronous task SQS runs (watch it with
 *                      ListMessageMoveTasks). SQS only accepts a source that is the DLQ of another SQS queue,
 *                      so this is the path for the fan-out and delivery DLQs on AWS.
 *   message by message the same move done here (receive, send, delete in batches): for a DLQ that no queue
 *                      dead-letters to, such as the bus rule's (EventBridge fills it), and for local mode,
 *                      because fauxqs does not implement StartMessageMoveTask.
 * Either way a moved message is a new message at its destination, so its receive count, and with it the
 * retry schedule, starts again.
 */
export interface RedriveRequest {
  /** The dead-letter queue, by ARN or URL. */
  source: string;
  /** ARN of the queue to move to; by default the queue that dead-lettered the messages. */
  destinationArn?: string | undefined;
}

export type RedriveResult =
  /** Move task: the move runs in the background. */
  | { kind: 'task'; taskHandle: string; sourceArn: string }
  /** Message by message: the move is done. */
  | { kind: 'moved'; moved: number; sourceUrl: string; destinationUrl: string };

export interface DeadLetterMover {
  redrive(request: RedriveRequest): Promise<RedriveResult>;
}

/** Starts a message move task; the source must be another SQS queue's DLQ. */
export function messageMoveTask(sqs: SQSClient): DeadLetterMover {
  return {
    async redrive({ source, destinationArn }) {
      const sourceArn = await queueArnOf(sqs, source);
      const { TaskHandle } = await sqs.send(
        new StartMessageMoveTaskCommand({
          SourceArn: sourceArn,
          ...(destinationArn ? { DestinationArn: destinationArn } : {}),
        }),
      );
      if (!TaskHandle) throw new Error('StartMessageMoveTask returned no task handle');
      return { kind: 'task', taskHandle: TaskHandle, sourceArn };
    },
  };
}

/**
 * Moves the messages itself (moveMessages), to the queue whose redrive policy names the DLQ by default.
 * Works on AWS and on a local SQS alike.
 */
export function messageByMessageMove(sqs: SQSClient): DeadLetterMover {
  return {
    async redrive({ source, destinationArn }) {
      const sourceUrl = await queueUrlOf(sqs, source);
      const destinationUrl = destinationArn
        ? await queueUrlOf(sqs, destinationArn)
        : await deadLetterSource(sqs, await queueArnOf(sqs, source));
      const moved = await moveMessages(sqs, { sourceUrl, destinationUrl });
      return { kind: 'moved', moved, sourceUrl, destinationUrl };
    },
  };
}

const BATCH = 10;
/** How long a received dead letter stays hidden while it is copied; ample for one batch. */
const MOVE_VISIBILITY_SECONDS = 30;

/**
 * Moves the messages that are in `sourceUrl` when the move starts to `destinationUrl`, ten at a time: each
 * is sent, then deleted from the source, so a crash in between duplicates a message rather than losing it.
 * Messages that arrive during the move are left for the next one, so a destination that dead-letters again
 * cannot keep it going forever. Returns how many were moved; throws if any could not be sent (those stay).
 */
export async function moveMessages(
  sqs: SQSClient,
  { sourceUrl, destinationUrl }: { sourceUrl: string; destinationUrl: string },
): Promise<number> {
  if (sourceUrl === destinationUrl) throw new Error('the source and destination queues are the same');
  // Hidden messages count too: nothing consumes a DLQ, and fauxqs only makes a message visible again when
  // it is next received. A receive that finds nothing ends the move early.
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: sourceUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  const waiting =
    Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  let moved = 0;
  let unsent = 0;
  while (moved + unsent < waiting) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: sourceUrl,
        MaxNumberOfMessages: Math.min(BATCH, waiting - moved - unsent),
        VisibilityTimeout: MOVE_VISIBILITY_SECONDS,
        // Long polling asks every SQS server; a short poll can come back empty while messages wait.
        WaitTimeSeconds: 1,
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) break;
    const receiptHandles = Messages.map((message) => message.ReceiptHandle ?? '');
    const { Successful = [], Failed = [] } = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: destinationUrl,
        Entries: Messages.map((message, index) => ({
          Id: String(index),
          MessageBody: message.Body ?? '',
          ...(message.MessageAttributes ? { MessageAttributes: message.MessageAttributes } : {}),
        })),
      }),
    );
    if (Successful.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: sourceUrl,
          Entries: Successful.map(({ Id }) => ({ Id, ReceiptHandle: receiptHandles[Number(Id)] })),
        }),
      );
    }
    moved += Successful.length;
    unsent += Failed.length;
  }
  if (unsent > 0) {
    throw new Error(`moved ${moved} messages; ${unsent} could not be sent and stay in the dead-letter queue`);
  }
  return moved;
}

export function isQueueArn(value: string): boolean {
  return /^arn:[^:]+:sqs:[^:]*:[^:]*:[^:]+$/.test(value);
}

/** The ARN of a queue given by its ARN or URL. */
export async function queueArnOf(sqs: SQSClient, arnOrUrl: string): Promise<string> {
  if (isQueueArn(arnOrUrl)) return arnOrUrl;
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: arnOrUrl, AttributeNames: ['QueueArn'] }),
  );
  if (!Attributes?.QueueArn) throw new Error(`no ARN for the queue ${arnOrUrl}`);
  return Attributes.QueueArn;
}

async function queueUrlOf(sqs: SQSClient, arnOrUrl: string): Promise<string> {
  if (!isQueueArn(arnOrUrl)) return arnOrUrl;
  const [, , , , account, name] = arnOrUrl.split(':');
  const { QueueUrl } = await sqs.send(
    new GetQueueUrlCommand({ QueueName: name, ...(account ? { QueueOwnerAWSAccountId: account } : {}) }),
  );
  if (!QueueUrl) throw new Error(`no URL for the queue ${arnOrUrl}`);
  return QueueUrl;
}

/**
 * The queue whose redrive policy targets the DLQ. fauxqs has no ListDeadLetterSourceQueues, so the queues'
 * RedrivePolicy attributes are read instead.
 */
async function deadLetterSource(sqs: SQSClient, deadLetterArn: string): Promise<string> {
  const sources: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sqs.send(new ListQueuesCommand({ MaxResults: 1000, NextToken: nextToken }));
    for (const url of page.QueueUrls ?? []) {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }),
      );
      const policy = Attributes?.RedrivePolicy ? JSON.parse(Attributes.RedrivePolicy) : undefined;
      if (policy?.deadLetterTargetArn === deadLetterArn) sources.push(url);
    }
    nextToken = page.NextToken;
  } while (nextToken);
  const [source, ...others] = sources;
  if (!source || others.length > 0) {
    throw new Error(
      `${sources.length} queues dead-letter to ${deadLetterArn}; name the one to move to with --destination`,
    );
  }
  return source;
}

export const REDRIVE_USAGE =
  'usage: npm run redrive -- --dlq <DLQ ARN or URL> [--region <region>] [--destination <queue ARN>] [--endpoint <local SQS URL>]';

/**
 * The operator command (scripts/redrive.ts). Without --destination on AWS it starts a move task and says how
 * to watch it; with --destination (needed for a DLQ no queue dead-letters to, such as the bus rule's) or with
 * --endpoint (local mode's SQS) it moves the messages itself, message by message. Returns the exit code.
 */
export async function redriveCommand(
  argv: readonly string[],
  io: { log: (line: string) => void; error: (line: string) => void; sqs?: SQSClient },
): Promise<number> {
  let values: { dlq?: string; region?: string; destination?: string; endpoint?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        dlq: { type: 'string' },
        region: { type: 'string' },
        destination: { type: 'string' },
        endpoint: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    io.error(`${(error as Error).message}\n${REDRIVE_USAGE}`);
    return 2;
  }
  if (values.help || !values.dlq) {
    (values.help ? io.log : io.error)(REDRIVE_USAGE);
    return values.help ? 0 : 2;
  }
  if (values.destination && !isQueueArn(values.destination)) {
    io.error(`--destination must be a queue ARN, got ${values.destination}\n${REDRIVE_USAGE}`);
    return 2;
  }
  const sqs = io.sqs ?? sqsClient(values.region, values.endpoint);
  const byMessage = Boolean(values.endpoint || values.destination);
  try {
    const mover = byMessage ? messageByMessageMove(sqs) : messageMoveTask(sqs);
    const result = await mover.redrive({ source: values.dlq, destinationArn: values.destination });
    if (result.kind === 'moved') {
      io.log(
        `Moved ${result.moved} messages from ${result.sourceUrl} to ${result.destinationUrl}, message by message (receive, send, delete).`,
      );
      return 0;
    }
    const region = await sqs.config.region();
    io.log(
      [
        `Started a message move task from ${result.sourceArn} to the queue that dead-lettered its messages.`,
        `  task handle  ${result.taskHandle}`,
        `Watch it:  aws sqs list-message-move-tasks --source-arn ${result.sourceArn} --region ${region}`,
        `Stop it:   aws sqs cancel-message-move-task --task-handle ${result.taskHandle} --region ${region}`,
      ].join('\n'),
    );
    return 0;
  } catch (error) {
    io.error(`redrive failed: ${(error as Error).message}`);
    if (!byMessage) {
      io.error(
        "A move task only takes the DLQ of another SQS queue; for any other (such as the bus rule's DLQ), name the queue to move to with --destination.",
      );
    }
    return 1;
  } finally {
    if (!io.sqs) sqs.destroy();
  }
}

/** The default credential chain on AWS; placeholder credentials for a local SQS, which does not check them. */
function sqsClient(region: string | undefined, endpoint: string | undefined): SQSClient {
  if (!endpoint) return new SQSClient(region ? { region } : {});
  return new SQSClient({
    endpoint,
    region: region ?? 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}
