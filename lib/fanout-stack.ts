import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { RecursiveLoop } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { MAX_TENANT_REQUESTS_PER_SECOND, TENANT_RATE_BOUND } from '../lambdas/contract/limits.js';
import type { FunctionName } from '../lambdas/contract/settings.js';
import type { AttemptLogMode } from '../lambdas/contract/tables.js';
import { AlarmTopic } from './constructs/alarm-topic.js';
import { FanoutFunction, type FanoutFunctionProps } from './constructs/fanout-function.js';
import { FanoutApi } from './constructs/http-api.js';
import { Ingestion } from './constructs/ingestion.js';
import { SecureQueue } from './constructs/secure-queue.js';
import { Storage } from './constructs/storage.js';
import {
  type QueueDefinition,
  type ReservedConcurrency,
  type ServiceDefinition,
  type ServiceOptions,
  serviceDefinition,
  serviceSettings,
} from './definitions.js';
import { grantFunctionAccess } from './grants.js';
import { acknowledgeNagFindings } from './nag-acknowledgements.js';

/** Which key encrypts the tables, queues and bus. */
export type DataKeyChoice =
  | { kind: 'aws-managed' }
  | { kind: 'create' }
  | { kind: 'existing'; keyArn: string };

/**
 * The service's settings. bin/app.ts reads them from CDK context (lib/context.ts lists the keys); the stack
 * itself reads no context.
 */
export interface FanoutStackProps extends StackProps {
  /**
   * The delay before each delivery attempt, in whole seconds; its length is the number of attempts. With
   * jitter, the schedule must finish within 7 days.
   * @default - DEFAULT_RETRY_SCHEDULE_SECONDS (lambdas/contract/retry-schedule.ts)
   */
  readonly retrySchedule?: readonly Duration[] | undefined;
  /**
   * Which delivery attempts are recorded in the attempts table.
   * @default 'all'
   */
  readonly attemptLog?: AttemptLogMode | undefined;
  /**
   * A subscription failing this long without a success is disabled; whole seconds.
   * @default Duration.days(5)
   */
  readonly autoDisableAfter?: Duration | undefined;
  /**
   * Subscriptions one tenant may have.
   * @default 10000
   */
  readonly maxSubscriptionsPerTenant?: number | undefined;
  /**
   * API requests per second one tenant may make, at most MAX_TENANT_REQUESTS_PER_SECOND.
   * @default 50
   */
  readonly tenantRequestsPerSecond?: number | undefined;
  /**
   * The most fan-out invocations the fan-out queue's event source mapping runs at once (its
   * ScalingConfig.MaximumConcurrency, 2–1,000). Messages beyond it wait in the queue, unreceived: unlike a
   * throttled invocation, that costs them no receive.
   * @default 10 - fan-out is cheap: ten invocations fan out more than a hundred events a second
   * (DEFAULT_MAX_CONCURRENCY in lib/definitions.ts says why)
   */
  readonly fanoutMaxConcurrency?: number | undefined;
  /**
   * The most deliver invocations the delivery queue's event source mapping runs at once (its
   * ScalingConfig.MaximumConcurrency, 2–1,000). Delivery is what grows with slow and hanging receivers: the
   * bound keeps them from taking the account's concurrency from the API.
   * @default 100 - with fan-out's 10, a tenth of the default account concurrency of 1,000; up to 1,000
   * attempts in flight (DEFAULT_MAX_CONCURRENCY in lib/definitions.ts says why)
   */
  readonly deliveryMaxConcurrency?: number | undefined;
  /**
   * Concurrency reserved for the API functions, so that no burst of other functions (in this stack or the
   * account) can throttle the API. A reservation is also the function's ceiling, and is taken from the
   * account's unreserved pool, of which AWS keeps at least 100: on an account with the default 1,000 (often
   * less on new accounts) the reservations must leave the pipeline and the account's other functions enough.
   * @default - none: the functions share the unreserved pool, which the bounded event source mappings leave
   * mostly to them; a reservation that the account cannot give would fail the deploy
   */
  readonly reservedConcurrency?: ReservedConcurrency | undefined;
  /**
   * An address subscribed to the alarm topic (it must confirm the subscription first).
   * @default - no subscription
   */
  readonly alarmEmail?: string | undefined;
  /**
   * Which key encrypts the tables, queues and bus. An existing key must be in the stack's account and region.
   * @default { kind: 'aws-managed' }
   */
  readonly dataKey?: DataKeyChoice | undefined;
}

/**
 * The webhook fan-out service: API → event bus → fan-out queue → fan-out function → delivery queue →
 * deliver function, with every DLQ alarming to one topic. Each function is granted only what its code does.
 */
export class FanoutStack extends Stack {
  readonly alarms: AlarmTopic;
  /** The customer-managed key of the tables, queues and bus, when the props ask for one. */
  readonly dataKey: IKey | undefined;
  readonly storage: Storage;
  readonly fanoutQueue: SecureQueue;
  readonly deliveryQueue: SecureQueue;
  readonly ingestion: Ingestion;
  /** The Lambda functions, each inside its FanoutFunction with its role and log group. */
  readonly functions: Readonly<Record<FunctionName, NodejsFunction>>;
  readonly api: FanoutApi;

  constructor(scope: Construct, id: string, props: FanoutStackProps = {}) {
    super(scope, id, {
      description: 'Webhook fan-out: EventBridge in, signed Standard Webhooks out',
      ...props,
    });
    const def = serviceDefinition(serviceOptionsOf(props));

    this.alarms = new AlarmTopic(this, 'Alarms', { email: props.alarmEmail });
    this.dataKey = this.createDataKey(props.dataKey ?? { kind: 'aws-managed' });
    const encryption = this.dataKey ? { encryptionKey: this.dataKey } : {};
    this.storage = new Storage(this, 'Storage', { tables: def.tables, ...encryption });

    const deadLetter = {
      maxMessageSizeBytes: def.maxMessageSizeBytes,
      alarmThreshold: def.alarm.threshold,
      alarmPeriod: Duration.seconds(def.alarm.periodSeconds),
      alarmTopic: this.alarms.topic,
    };
    const queueProps = (definition: QueueDefinition) => ({
      visibilityTimeout: Duration.seconds(definition.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(definition.retentionSeconds),
      maxReceiveCount: definition.maxReceiveCount,
      deadLetterRetentionPeriod: Duration.seconds(def.deadLetterRetentionSeconds),
      ...deadLetter,
      ...encryption,
    });
    this.fanoutQueue = new SecureQueue(this, 'FanoutQueue', queueProps(def.queues.fanout));
    this.deliveryQueue = new SecureQueue(this, 'DeliveryQueue', queueProps(def.queues.delivery));

    this.ingestion = new Ingestion(this, 'Ingestion', {
      sourcePrefix: def.eventRule.pattern.source[0].prefix,
      maxEventAge: Duration.seconds(def.eventRule.maxEventAgeSeconds),
      retryAttempts: def.eventRule.retryAttempts,
      target: this.fanoutQueue.queue,
      deadLetter: { retentionPeriod: Duration.seconds(def.deadLetterRetentionSeconds), ...deadLetter },
      ...encryption,
    });

    this.functions = this.createFunctions(def);
    grantFunctionAccess({
      functions: this.functions,
      tables: this.storage,
      fanoutQueue: this.fanoutQueue.queue,
      deliveryQueue: this.deliveryQueue.queue,
      fanoutDeadLetterQueue: this.fanoutQueue.deadLetterQueue.queue,
      deliveryDeadLetterQueue: this.deliveryQueue.deadLetterQueue.queue,
      bus: this.ingestion.bus,
    });

    this.consumeQueues(def);
    this.api = new FanoutApi(this, 'Api', {
      authorizer: this.functions.authorizer,
      handlers: { api: this.functions.api, ingest: this.functions.ingest },
    });
    this.addOutputs();
    acknowledgeNagFindings(this, def);
  }

  /** The five functions, each given the settings its code reads. */
  private createFunctions(def: ServiceDefinition): Readonly<Record<FunctionName, NodejsFunction>> {
    const settings = serviceSettings(def, {
      tenantsTable: this.storage.tenants.tableName,
      subscriptionsTable: this.storage.subscriptions.tableName,
      eventsTable: this.storage.events.tableName,
      attemptsTable: this.storage.attempts.tableName,
      eventBusName: this.ingestion.bus.eventBusName,
      fanoutQueueUrl: this.fanoutQueue.queue.queueUrl,
      deliveryQueueUrl: this.deliveryQueue.queue.queueUrl,
      fanoutDeadLetterQueueUrl: this.fanoutQueue.deadLetterQueue.queue.queueUrl,
      deliveryDeadLetterQueueUrl: this.deliveryQueue.deadLetterQueue.queue.queueUrl,
    });
    const fn = (
      name: FunctionName,
      constructId: string,
      options: Pick<FanoutFunctionProps, 'recursiveLoop'> = {},
    ) =>
      new FanoutFunction(this, constructId, {
        name,
        definition: def.functions[name],
        settings,
        logGroupLogicalId: FUNCTION_LOG_GROUP_IDS[name],
        ...options,
      }).function;
    return {
      authorizer: fn('authorizer', 'AuthorizerFunction'),
      api: fn('api', 'ApiFunction'),
      ingest: fn('ingest', 'IngestFunction'),
      // Continuation and replay pages go to the function's own queue, one hop per page: Lambda's loop detection
      // would stop the 17th hop (a fan-out past ~32,000 subscriptions, a replay past ~32,000 events) after the
      // API has answered. The recursion is intended and ends with the last page.
      fanout: fn('fanout', 'FanoutFunction', { recursiveLoop: RecursiveLoop.ALLOW }),
      deliver: fn('deliver', 'DeliverFunction'),
    };
  }

  /** Each queue's consumer, through an event source mapping. */
  private consumeQueues(def: ServiceDefinition): void {
    // The event sources grant receive, delete and ChangeMessageVisibility (which deliver uses to schedule retries).
    for (const [queue, definition] of [
      [this.fanoutQueue, def.queues.fanout],
      [this.deliveryQueue, def.queues.delivery],
    ] as const) {
      this.functions[definition.consumer].addEventSource(
        new SqsEventSource(queue.queue, {
          batchSize: definition.batchSize,
          maxBatchingWindow: Duration.seconds(definition.maxBatchingWindowSeconds),
          reportBatchItemFailures: true,
          // Bounded, so that a backlog behind slow receivers cannot take the account's concurrency. Provisioned
          // pollers (ProvisionedPollerConfig) would scale faster, but cannot be combined with this bound.
          maxConcurrency: definition.maxConcurrency,
        }),
      );
    }
  }

  /** What operators and the commands in scripts/ need from a deployed stack. */
  private addOutputs(): void {
    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'EventBusName', { value: this.ingestion.bus.eventBusName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
    new CfnOutput(this, 'TenantsTableName', {
      value: this.storage.tenants.tableName,
      description: 'Table the create-tenant command writes API keys to',
    });
    new CfnOutput(this, 'FanoutDeadLetterQueueUrl', {
      value: this.fanoutQueue.deadLetterQueue.queue.queueUrl,
    });
    new CfnOutput(this, 'DeliveryDeadLetterQueueUrl', {
      value: this.deliveryQueue.deadLetterQueue.queue.queueUrl,
    });
    new CfnOutput(this, 'RuleDeadLetterQueueUrl', { value: this.ingestion.deadLetterQueue.queue.queueUrl });
    new CfnOutput(this, 'DeliveryDeadLetterQueueArn', {
      value: this.deliveryQueue.deadLetterQueue.queue.queueArn,
      description: 'npm run redrive -- --dlq <this> moves dead letters back to the delivery queue',
    });
    new CfnOutput(this, 'FanoutDeadLetterQueueArn', {
      value: this.fanoutQueue.deadLetterQueue.queue.queueArn,
    });
    new CfnOutput(this, 'FanoutQueueArn', {
      value: this.fanoutQueue.queue.queueArn,
      description: 'The --destination when redriving the rule DLQ, which is no queue’s redrive target',
    });
    if (this.dataKey) {
      new CfnOutput(this, 'DataKeyArn', {
        value: this.dataKey.keyArn,
        description: 'Customer-managed key of the tables, queues and bus (operators need it to redrive)',
      });
    }
  }

  /** The customer-managed key that the props ask for, or none (AWS-managed keys). */
  private createDataKey(choice: DataKeyChoice): IKey | undefined {
    if (choice.kind === 'aws-managed') return undefined;
    // bin/app.ts checked its account and region against the stack's with the context. CDK cannot change an
    // imported key's policy: README.md (Security) lists the statements it must already have.
    if (choice.kind === 'existing') return Key.fromKeyArn(this, 'DataKey', choice.keyArn);
    return new Key(this, 'DataKey', {
      description: 'Encrypts the webhook fan-out tables, queues and event bus',
      enableKeyRotation: true,
      // Tenants and subscriptions are retained with the stack's deletion; so is their key, or they could no
      // longer be read.
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}

/**
 * The function log groups' logical ids from when they were created beside the functions rather than inside
 * them (and, for the API function, from when it was called register). The groups are retained, so they keep
 * these ids and their history (test/infra/logical-ids.test.ts pins them).
 */
const FUNCTION_LOG_GROUP_IDS: Record<FunctionName, string> = {
  authorizer: 'AuthorizerFunctionLogGroup00CC12E9',
  api: 'RegisterFunctionLogGroup433CF507',
  ingest: 'IngestFunctionLogGroupCDA64AD0',
  fanout: 'FanoutFunctionLogGroup61C04927',
  deliver: 'DeliverFunctionLogGroup84B9739C',
};

/** The service definition's options from the stack's props, in the definition's units. */
function serviceOptionsOf(props: FanoutStackProps): ServiceOptions {
  const rate = props.tenantRequestsPerSecond;
  if (rate !== undefined && rate > MAX_TENANT_REQUESTS_PER_SECOND) {
    throw new Error(`tenantRequestsPerSecond must be ${TENANT_RATE_BOUND}, got ${rate}`);
  }
  return {
    retryScheduleSeconds: props.retrySchedule?.map((delay) => delay.toSeconds()),
    attemptLog: props.attemptLog,
    autoDisableAfterSeconds: props.autoDisableAfter?.toSeconds(),
    maxSubscriptionsPerTenant: props.maxSubscriptionsPerTenant,
    tenantRequestsPerSecond: rate,
    fanoutMaxConcurrency: props.fanoutMaxConcurrency,
    deliveryMaxConcurrency: props.deliveryMaxConcurrency,
    reservedConcurrency: props.reservedConcurrency,
  };
}
