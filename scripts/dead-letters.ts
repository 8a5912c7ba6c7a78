import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListDeadLetterSourceQueuesCommand,
  ListQueuesCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { moveMessages } from '../local/emulators/message-move.js';
import type { LocalResourceNames } from '../local/emulators/provision.js';
import {
  awsClientConfig,
  CommandError,
  type CommandIo,
  describeFailure,
  requireOptions,
  runCommand,
  UsageError,
} from './command-line.js';
import { localModeOf } from './local-mode.js';

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
interface RedriveRequest {
  /** The dead-letter queue, by ARN or URL. */
  source: string;
  /** ARN of the queue to move to; by default the one queue whose redrive policy names the DLQ. */
  destinationArn?: string | undefined;
}

type RedriveResult =
  /** Move task: the move runs in the background. */
  | { kind: 'task'; taskHandle: string; sourceArn: string; destinationArn: string }
  /** Message by message: the move is done. */
  | { kind: 'moved'; moved: number; sourceUrl: string; destinationUrl: string };

export interface DeadLetterMover {
  redrive(request: RedriveRequest): Promise<RedriveResult>;
}

/**
 * Starts a message move task; the source must be another SQS queue's DLQ. It always names its destination:
 * without one SQS moves each message to "its original source queue", which a message fan-out sent to its DLQ
 * itself (a poison message) does not have. By default that is the one queue ListDeadLetterSourceQueues names.
 */
function messageMoveTask(sqs: SQSClient): DeadLetterMover {
  return {
    async redrive({ source, destinationArn }) {
      const sourceArn = await queueArnOf(sqs, source);
      const destination = destinationArn ?? (await listedDeadLetterSource(sqs, source, sourceArn));
      const { TaskHandle } = await sqs.send(
        new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destination }),
      );
      if (!TaskHandle) throw new Error('StartMessageMoveTask returned no task handle');
      return { kind: 'task', taskHandle: TaskHandle, sourceArn, destinationArn: destination };
    },
  };
}

/** The ARN of the one queue that dead-letters to the DLQ, as SQS's ListDeadLetterSourceQueues lists them. */
async function listedDeadLetterSource(sqs: SQSClient, deadLetter: string, deadLetterArn: string) {
  // Two are enough to tell one from several.
  const { queueUrls = [] } = await sqs.send(
    new ListDeadLetterSourceQueuesCommand({ QueueUrl: await queueUrlOf(sqs, deadLetter), MaxResults: 2 }),
  );
  return sourceQueueArn(deadLetterArn, onlyDeadLetterSource(queueUrls, deadLetterArn));
}

/**
 * The ARN of a DLQ's source queue given by URL (…/<account>/<name>): a source queue is in its DLQ's partition
 * and region, so no further call (nor permission on it) is needed.
 */
export function sourceQueueArn(deadLetterArn: string, sourceUrl: string): string {
  const [account, name] = new URL(sourceUrl).pathname.split('/').filter(Boolean).slice(-2);
  const [arn, partition, service, region] = deadLetterArn.split(':');
  if (!account || !name) throw new Error(`not a queue URL: ${sourceUrl}`);
  return [arn, partition, service, region, account, name].join(':');
}

/** A DLQ with no source queue, or several: the operator has to name the destination. */
class DestinationNeededError extends Error {}

/** The one source queue of a DLQ. */
function onlyDeadLetterSource(sources: readonly string[], deadLetterArn: string): string {
  const [source, ...others] = sources;
  if (!source || others.length > 0) {
    const count = source ? 'several queues dead-letter' : 'no queue dead-letters';
    throw new DestinationNeededError(
      `${count} to ${deadLetterArn}; name the queue to move to with --destination`,
    );
  }
  return source;
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

function isQueueArn(value: string): boolean {
  return /^arn:[^:]+:sqs:[^:]*:[^:]*:[^:]+$/.test(value);
}

/** The ARN of a queue given by its ARN or URL. */
async function queueArnOf(sqs: SQSClient, arnOrUrl: string): Promise<string> {
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
  return onlyDeadLetterSource(sources, deadLetterArn);
}

const REDRIVE = {
  usage:
    'usage: npm run redrive -- --dlq <DLQ ARN or URL> [--destination <queue ARN>] [--region <region>] [--endpoint <SQS URL> | --local]',
  help: `usage: npm run redrive -- --dlq <DLQ ARN or URL> [options]
  --dlq <ARN or URL>          the dead-letter queue (a …DeadLetterQueueArn or …Url stack output)
  --destination <queue ARN>   where to move to; by default the one queue whose redrive policy names the
                              DLQ (for the fan-out and delivery DLQs, their own queue). Needed for the bus
                              rule's DLQ, which no queue dead-letters to (to the FanoutQueueArn output)
  --region <region>           the stack's region; AWS credentials and region as usual otherwise
  --endpoint <SQS URL>        another SQS, such as local mode's (placeholder credentials)
  --local                     local mode's SQS (npm start on PORT, 3000 by default); --dlq may then also
                              be one of its queue names, fanout-dlq or delivery-dlq
On AWS without --destination this starts an SQS message move task to that queue; otherwise it moves the
messages itself. With no such queue, or several, it stops and asks for --destination.`,
  options: {
    dlq: { type: 'string' },
    region: { type: 'string' },
    destination: { type: 'string' },
    endpoint: { type: 'string' },
    local: { type: 'boolean' },
  },
} as const;

/**
 * The operator command (scripts/redrive.ts). Without --destination on AWS it starts a move task and says how
 * to watch it; with --destination (needed for a DLQ no queue dead-letters to, such as the bus rule's) or with
 * --endpoint or --local (local mode's SQS) it moves the messages itself, message by message. Returns the exit
 * code.
 */
export function redriveCommand(
  argv: readonly string[],
  io: CommandIo & { sqs?: SQSClient; env?: Record<string, string | undefined> },
): Promise<number> {
  return runCommand(REDRIVE, argv, io, async ({ values }) => {
    requireOptions(values, ['dlq']);
    if (values.destination && !isQueueArn(values.destination)) {
      throw new UsageError(`--destination must be a queue ARN, got ${values.destination}`);
    }
    const local = await localModeOf(values, io.env);
    const source = (local && localDeadLetterQueue(local, values.dlq ?? '')) ?? values.dlq ?? '';
    const endpoint = values.endpoint ?? local?.endpoints.sqs;
    const sqs = io.sqs ?? new SQSClient(awsClientConfig(values.region ?? local?.region, endpoint));
    const byMessage = Boolean(endpoint || values.destination);
    try {
      const mover = byMessage ? messageByMessageMove(sqs) : messageMoveTask(sqs);
      const result = await mover.redrive({ source, destinationArn: values.destination });
      if (result.kind === 'moved') {
        io.log(
          `Moved ${result.moved} ${result.moved === 1 ? 'message' : 'messages'} from ${result.sourceUrl} to ${result.destinationUrl}, message by message (receive, send, delete).`,
        );
        return 0;
      }
      const region = await sqs.config.region();
      io.log(
        [
          `Started a message move task from ${result.sourceArn} to ${result.destinationArn}.`,
          `  task handle  ${result.taskHandle}`,
          `Watch it:  aws sqs list-message-move-tasks --source-arn ${result.sourceArn} --region ${region}`,
          `Stop it:   aws sqs cancel-message-move-task --task-handle ${result.taskHandle} --region ${region}`,
        ].join('\n'),
      );
      return 0;
    } catch (error) {
      const hint =
        byMessage || error instanceof DestinationNeededError
          ? ''
          : " (a move task only takes the DLQ of another SQS queue; for any other, such as the bus rule's DLQ, name the queue to move to with --destination)";
      throw new CommandError(`redrive failed: ${describeFailure(error)}${hint}`);
    } finally {
      if (!io.sqs) sqs.destroy();
    }
  });
}

/** Local mode's DLQ by its short name (fanout-dlq, delivery-dlq), as /_local/status lists the queues. */
function localDeadLetterQueue(local: LocalResourceNames, name: string): string | undefined {
  return Object.entries(local.queues).find(([queue]) => `${queue}-dlq` === name)?.[1].deadLetterUrl;
}
