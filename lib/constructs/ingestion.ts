import { Duration } from 'aws-cdk-lib';
import { EventBus, Match, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { AccountRootPrincipal, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ServiceDefinition } from '../definitions.js';
import { DeadLetterQueue, type DeadLetterQueueProps } from './secure-queue.js';

export interface IngestionProps {
  /** The rule's event pattern and its target's retry policy. */
  readonly rule: ServiceDefinition['eventRule'];
  /** Where matching events go: the fan-out queue. */
  readonly target: IQueue;
  /** The rule target's own DLQ, for events EventBridge could not deliver to the queue within its retries. */
  readonly deadLetter: DeadLetterQueueProps;
}

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
    this.bus = new EventBus(this, 'Bus');
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

    this.deadLetterQueue = new DeadLetterQueue(this, 'RuleDeadLetterQueue', {
      alarmDescription: 'Events the bus could not deliver to the fan-out queue',
      ...props.deadLetter,
    });
    this.rule = new Rule(this, 'TenantEventsRule', {
      eventBus: this.bus,
      description: 'Routes tenant events to the fan-out queue',
      eventPattern: { source: Match.prefix(props.rule.pattern.source[0].prefix) },
    });
    this.rule.addTarget(
      new SqsQueue(props.target, {
        deadLetterQueue: this.deadLetterQueue.queue,
        maxEventAge: Duration.seconds(props.rule.maxEventAgeSeconds),
        retryAttempts: props.rule.retryAttempts,
      }),
    );
  }
}
