import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { type IQueue, Queue, QueueEncryption, type QueueProps } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { QueueDefinition, ServiceDefinition } from '../definitions.js';

/** When a queue's depth alarms: read from the service definition. */
export type QueueAlarmDefinition = ServiceDefinition['alarm'];

export interface DeadLetterQueueProps {
  /** How long a dead letter is kept; it keeps its first enqueue time, so give it the maximum. */
  readonly retention: Duration;
  /** Largest message accepted; must be at least that of the queue that feeds it. */
  readonly maxMessageSizeBytes: number;
  /** The alarm on messages waiting in this queue. */
  readonly alarm: QueueAlarmDefinition;
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
      retentionPeriod: props.retention,
    });
    this.alarm = alarmOnQueueDepth(this, 'Alarm', {
      queue: this.queue,
      alarm: props.alarm,
      alarmTopic: props.alarmTopic,
      description:
        props.alarmDescription ?? `Messages are waiting in the dead-letter queue ${this.node.path}`,
    });
  }
}

export interface QueueDepthAlarmProps {
  readonly queue: IQueue;
  readonly alarm: QueueAlarmDefinition;
  readonly alarmTopic: ITopic;
  readonly description: string;
}

/**
 * Alarms when the queue's visible messages exceed the threshold for one period, and notifies the topic both
 * when that starts and when it clears. No data (an idle queue) is not a breach.
 */
export function alarmOnQueueDepth(scope: Construct, id: string, props: QueueDepthAlarmProps): Alarm {
  const alarm = new Alarm(scope, id, {
    metric: props.queue.metric(props.alarm.metricName, {
      period: Duration.seconds(props.alarm.periodSeconds),
      statistic: 'Maximum',
    }),
    threshold: props.alarm.threshold,
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
  /** Visibility timeout, retention and redrive count. */
  readonly definition: QueueDefinition;
  /** Largest message accepted, by the queue and its DLQ. */
  readonly maxMessageSizeBytes: number;
  /** Retention of the dead-letter queue. */
  readonly deadLetterRetention: Duration;
  /** The alarm on the dead-letter queue. */
  readonly alarm: QueueAlarmDefinition;
  /** Receives the dead-letter alarm's notifications. */
  readonly alarmTopic: ITopic;
  /**
   * A customer-managed key that encrypts the queue and its DLQ.
   * @default - SQS-managed encryption (SSE-SQS)
   */
  readonly encryptionKey?: IKey;
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
    const { definition } = props;
    if (definition.maxReceiveCount < 1 || definition.maxReceiveCount > 1000) {
      throw new Error(
        `${this.node.path}: maxReceiveCount must be between 1 and 1000, got ${definition.maxReceiveCount}`,
      );
    }
    this.deadLetterQueue = new DeadLetterQueue(this, 'DeadLetterQueue', {
      retention: props.deadLetterRetention,
      maxMessageSizeBytes: props.maxMessageSizeBytes,
      alarm: props.alarm,
      alarmTopic: props.alarmTopic,
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
    });
    this.queue = new Queue(this, 'Queue', {
      ...encryption(props.encryptionKey),
      enforceSSL: true,
      maxMessageSizeBytes: props.maxMessageSizeBytes,
      visibilityTimeout: Duration.seconds(definition.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(definition.retentionSeconds),
      deadLetterQueue: { queue: this.deadLetterQueue.queue, maxReceiveCount: definition.maxReceiveCount },
    });
  }
}
