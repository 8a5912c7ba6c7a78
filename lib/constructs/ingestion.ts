import { type Duration, Stack } from 'aws-cdk-lib';
import { EventBus, Match, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { AccountRootPrincipal, Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DeadLetterQueue, type DeadLetterQueueProps } from './secure-queue.js';

export interface IngestionProps {
  /** The rule routes events whose source starts with this. */
  readonly sourcePrefix: string;
  /** How long the rule target retries an event before it goes to the DLQ. */
  readonly maxEventAge: Duration;
  /** How many times the rule target retries an event before it goes to the DLQ. */
  readonly retryAttempts: number;
  /** Where matching events go: the fan-out queue. */
  readonly target: IQueue;
  /** The rule target's own DLQ, for events EventBridge could not deliver to the queue within its retries. */
  readonly deadLetter: Omit<DeadLetterQueueProps, 'encryptionKey'>;
  /**
   * A customer-managed key that encrypts the events on the bus and the DLQ.
   * @default - an AWS-owned key for the bus, SQS-managed encryption for the DLQ
   */
  readonly encryptionKey?: IKey;
}

const EVENTBRIDGE = new ServicePrincipal('events.amazonaws.com');

/**
 * The service's own event bus. Tenants' events (source `fanout.tenant.<id>`) are routed to the fan-out queue;
 * what EventBridge fails to deliver there after its retries lands in a DLQ that alarms instead of being dropped.
 */
export class Ingestion extends Construct {
  readonly bus: EventBus;
  readonly rule: Rule;
  readonly deadLetterQueue: DeadLetterQueue;

  constructor(scope: Construct, id: string, props: IngestionProps) {
    super(scope, id);
    const key = props.encryptionKey;
    this.deadLetterQueue = new DeadLetterQueue(this, 'RuleDeadLetterQueue', {
      alarmDescription: 'Events the bus could not deliver to the fan-out queue',
      ...props.deadLetter,
      ...(key ? { encryptionKey: key } : {}),
    });
    // The key encrypts the events the bus stores; CDK adds the key policy statement that lets EventBridge use
    // it for this bus only. Publishers need no key permission.
    this.bus = new EventBus(this, 'Bus', key ? { kmsKey: key } : {});
    // Principals of this account may publish, as far as their IAM policies allow (only the ingest function is
    // granted it); no other account can, whatever its own policies say.
    this.bus.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowPutEventsFromThisAccountOnly',
        principals: [new AccountRootPrincipal()],
        actions: ['events:PutEvents'],
        resources: [this.bus.eventBusArn],
      }),
    );

    this.rule = new Rule(this, 'TenantEventsRule', {
      eventBus: this.bus,
      description: 'Routes tenant events to the fan-out queue',
      eventPattern: { source: Match.prefix(props.sourcePrefix) },
    });
    this.rule.addTarget(
      new SqsQueue(props.target, {
        deadLetterQueue: this.deadLetterQueue.queue,
        maxEventAge: props.maxEventAge,
        retryAttempts: props.retryAttempts,
      }),
    );
    if (key) {
      // For an encrypted queue CDK's target grant drops its rule condition (it conditions the key policy too,
      // and SQS's calls to KMS carry no rule ARN), so the queue refuses EventBridge on behalf of anything else.
      props.target.addToResourcePolicy(
        new PolicyStatement({
          sid: 'DenyEventBridgeExceptTenantEventsRule',
          effect: Effect.DENY,
          principals: [EVENTBRIDGE],
          actions: ['sqs:SendMessage'],
          resources: [props.target.queueArn],
          conditions: { ArnNotEquals: { 'aws:SourceArn': this.rule.ruleArn } },
        }),
      );
    }
    // Writing dead letters needs the key as much as sending to the fan-out queue, whose grant (by the target)
    // this does not rely on. The condition cannot name the rule: SQS calls KMS without the rule's ARN.
    key?.grant(
      new ServicePrincipal(EVENTBRIDGE.service, {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      'kms:Decrypt',
      'kms:GenerateDataKey',
    );
  }
}
