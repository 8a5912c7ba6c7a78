import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { type IQueue, Queue, QueueEncryption, type QueueProps } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface DeadLetterQueueProps {
  /** How long a dead letter is kept; it keeps its first enqueue time, so give it the maximum. */
  readonly retentionPeriod: Duration;
  /** Largest message accepted; must be at least that of the queue that feeds it. */
  readonly maxMessageSizeBytes: number;
  /** The alarm fires when more messages than this are visible in the queue. */
  readonly alarmThreshold: number;
  /** The period over which the alarm takes the maximum of visible messages. */
  readonly alarmPeriod: Duration;
  /** Receives the alarm's ALARM and OK notifications. */
  readonly alarmTopic: ITopic;
  /**
   * Alarm description shown in notifications.
   * @default - names the queue's construct path
   */
  readonly alarmDescription?: string;
  /**
   * A customer-managed key that encrypts the queue.
   * @default - SQS-managed encryption (SSE-SQS)
   */
  readonly encryptionKey?: IKey;
  /**
   * What happens to the queue, and the dead letters in it, when it leaves the stack.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Encryption at rest: the customer-managed key when there is one, else SQS-managed keys. */
function encryption(key: IKey | undefined): Pick<QueueProps, 'encryption' | 'encryptionMasterKey'> {
  return key
    ? { encryption: QueueEncryption.KMS, encryptionMasterKey: key }
    : { encryption: QueueEncryption.SQS_MANAGED };
}

/**
 * A dead-letter queue: encrypted at rest, TLS-only, and an alarm as soon as anything lands in it.
 * Used for the queues' redrive targets and for the EventBridge rule target's DLQ.
 */
export class DeadLetterQueue extends Construct {
  readonly queue: Queue;
  readonly alarm: Alarm;

  constructor(scope: Construct, id: string, props: DeadLetterQueueProps) {
    super(scope, id);
    this.queue = new Queue(this, 'Queue', {
      ...encryption(props.encryptionKey),
      enforceSSL: true,
      maxMessageSizeBytes: props.maxMessageSizeBytes,
      retentionPeriod: props.retentionPeriod,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.alarm = alarmOnQueueDepth(this, 'Alarm', {
      queue: this.queue,
      threshold: props.alarmThreshold,
      period: props.alarmPeriod,
      alarmTopic: props.alarmTopic,
      description:
        props.alarmDescription ?? `Messages are waiting in the dead-letter queue ${this.node.path}`,
    });
  }
}

interface QueueDepthAlarmProps {
  readonly queue: IQueue;
  readonly threshold: number;
  readonly period: Duration;
  readonly alarmTopic: ITopic;
  readonly description: string;
}

/**
 * Alarms when the queue's visible messages exceed the threshold for one period, and notifies the topic both
 * when that starts and when it clears. No data (an idle queue) is not a breach.
 */
function alarmOnQueueDepth(scope: Construct, id: string, props: QueueDepthAlarmProps): Alarm {
  const alarm = new Alarm(scope, id, {
    metric: props.queue.metricApproximateNumberOfMessagesVisible({
      period: props.period,
      statistic: 'Maximum',
    }),
    threshold: props.threshold,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    alarmDescription: props.description,
  });
  const action = new SnsAction(props.alarmTopic);
  alarm.addAlarmAction(action);
  alarm.addOkAction(action);
  return alarm;
}

export interface SecureQueueProps {
  /** How long a received message stays hidden from other receives. */
  readonly visibilityTimeout: Duration;
  /** How long a message is kept. */
  readonly retentionPeriod: Duration;
  /** Receives after which SQS moves a message to the dead-letter queue, from 1 to 1,000. */
  readonly maxReceiveCount: number;
  /** Largest message accepted, by the queue and its DLQ. */
  readonly maxMessageSizeBytes: number;
  /** How long the dead-letter queue keeps a message. */
  readonly deadLetterRetentionPeriod: Duration;
  /** The dead-letter alarm fires when more messages than this are visible in the DLQ. */
  readonly alarmThreshold: number;
  /** The period over which the dead-letter alarm takes the maximum of visible messages. */
  readonly alarmPeriod: Duration;
  /** Receives the dead-letter alarm's notifications. */
  readonly alarmTopic: ITopic;
  /**
   * A customer-managed key that encrypts the queue and its DLQ.
   * @default - SQS-managed encryption (SSE-SQS)
   */
  readonly encryptionKey?: IKey;
  /**
   * What happens to the queue and its DLQ, and the messages in them, when they leave the stack.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A work queue with its own dead-letter queue: after `maxReceiveCount` receives SQS moves a message to the
 * DLQ, which alarms. Both queues are encrypted at rest with the same key and refuse requests without TLS.
 */
export class SecureQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: DeadLetterQueue;

  constructor(scope: Construct, id: string, props: SecureQueueProps) {
    super(scope, id);
    if (props.maxReceiveCount < 1 || props.maxReceiveCount > 1000) {
      throw new Error(
        `${this.node.path}: maxReceiveCount must be between 1 and 1000, got ${props.maxReceiveCount}`,
      );
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    this.deadLetterQueue = new DeadLetterQueue(this, 'DeadLetterQueue', {
      retentionPeriod: props.deadLetterRetentionPeriod,
      maxMessageSizeBytes: props.maxMessageSizeBytes,
      alarmThreshold: props.alarmThreshold,
      alarmPeriod: props.alarmPeriod,
      alarmTopic: props.alarmTopic,
      removalPolicy,
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
    });
    this.queue = new Queue(this, 'Queue', {
      ...encryption(props.encryptionKey),
      enforceSSL: true,
      maxMessageSizeBytes: props.maxMessageSizeBytes,
      visibilityTimeout: props.visibilityTimeout,
      retentionPeriod: props.retentionPeriod,
      deadLetterQueue: { queue: this.deadLetterQueue.queue, maxReceiveCount: props.maxReceiveCount },
      removalPolicy,
    });
  }
}
