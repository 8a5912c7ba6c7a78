import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { RecursiveLoop } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { MAX_TENANT_REQUESTS_PER_SECOND, TENANT_RATE_BOUND } from '../lambdas/contract/limits.js';
import type { FunctionName, SettingName } from '../lambdas/contract/settings.js';
import {
  ATTEMPTS_BY_EVENT_INDEX,
  type AttemptLogMode,
  EVENTS_BY_TIME_INDEX,
} from '../lambdas/contract/tables.js';
import { AlarmTopic } from './constructs/alarm-topic.js';
import { FanoutFunction, type FanoutFunctionProps } from './constructs/fanout-function.js';
import { FanoutApi } from './constructs/http-api.js';
import { Ingestion } from './constructs/ingestion.js';
import { SecureQueue } from './constructs/secure-queue.js';
import { Storage } from './constructs/storage.js';
import { type QueueDefinition, type ServiceOptions, serviceDefinition } from './definitions.js';
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
  readonly retrySchedule?: readonly Duration[];
  /**
   * Which delivery attempts are recorded in the attempts table.
   * @default 'all'
   */
  readonly attemptLog?: AttemptLogMode;
  /**
   * A subscription failing this long without a success is disabled; whole seconds.
   * @default Duration.days(5)
   */
  readonly autoDisableAfter?: Duration;
  /**
   * Subscriptions one tenant may have.
   * @default 10000
   */
  readonly maxSubscriptionsPerTenant?: number;
  /**
   * API requests per second one tenant may make, at most MAX_TENANT_REQUESTS_PER_SECOND.
   * @default 50
   */
  readonly tenantRequestsPerSecond?: number;
  /**
   * An address subscribed to the alarm topic (it must confirm the subscription first).
   * @default - no subscription
   */
  readonly alarmEmail?: string;
  /**
   * Which key encrypts the tables, queues and bus. An existing key must be in the stack's account and region.
   * @default { kind: 'aws-managed' }
   */
  readonly dataKey?: DataKeyChoice;
}

/**
 * The webhook fan-out service: API → event bus → fan-out queue → fan-out function → delivery queue →
 * deliver function, with every DLQ alarming to one topic. Each function is granted only what its code does.
 */
export class FanoutStack extends Stack {
  readonly alarms: AlarmTopic;
  /** The customer-managed key of the tables, queues and bus, when context asks for one. */
  readonly dataKey: IKey | undefined;
  readonly storage: Storage;
  readonly fanoutQueue: SecureQueue;
  readonly deliveryQueue: SecureQueue;
  readonly ingestion: Ingestion;
  readonly functions: Readonly<Record<FunctionName, FanoutFunction>>;
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

    const queueProps = (definition: QueueDefinition) => ({
      definition,
      maxMessageSizeBytes: def.maxMessageSizeBytes,
      deadLetterRetention: Duration.seconds(def.deadLetterRetentionSeconds),
      alarm: def.alarm,
      alarmTopic: this.alarms.topic,
      ...encryption,
    });
    this.fanoutQueue = new SecureQueue(this, 'FanoutQueue', queueProps(def.queues.fanout));
    this.deliveryQueue = new SecureQueue(this, 'DeliveryQueue', queueProps(def.queues.delivery));

    this.ingestion = new Ingestion(this, 'Ingestion', {
      rule: def.eventRule,
      target: this.fanoutQueue.queue,
      deadLetter: {
        retention: Duration.seconds(def.deadLetterRetentionSeconds),
        maxMessageSizeBytes: def.maxMessageSizeBytes,
        alarm: def.alarm,
        alarmTopic: this.alarms.topic,
      },
      ...encryption,
    });

    const settings: Record<SettingName, string> = {
      tenantsTable: this.storage.tenants.tableName,
      subscriptionsTable: this.storage.subscriptions.tableName,
      eventsTable: this.storage.events.tableName,
      attemptsTable: this.storage.attempts.tableName,
      eventBusName: this.ingestion.bus.eventBusName,
      fanoutQueueUrl: this.fanoutQueue.queue.queueUrl,
      deliveryQueueUrl: this.deliveryQueue.queue.queueUrl,
      fanoutDeadLetterQueueUrl: this.fanoutQueue.deadLetterQueue.queue.queueUrl,
      retryScheduleSeconds: def.retryScheduleSeconds.join(','),
      attemptTimeoutMs: String(def.attemptTimeoutMs),
      eventRetentionDays: String(def.eventRetentionDays),
      attemptLog: def.attemptLog,
      attemptRetentionDays: String(def.attemptRetentionDays),
      autoDisableAfterSeconds: String(def.autoDisableAfterSeconds),
      fanoutPageSize: String(def.fanoutPageSize),
      maxSubscriptionsPerTenant: String(def.maxSubscriptionsPerTenant),
      tenantRequestsPerSecond: String(def.tenantRequestsPerSecond),
    };
    const fn = (
      name: FunctionName,
      constructId: string,
      options: Pick<FanoutFunctionProps, 'recursiveLoop'> = {},
    ) =>
      new FanoutFunction(this, constructId, { name, definition: def.functions[name], settings, ...options });
    this.functions = {
      authorizer: fn('authorizer', 'AuthorizerFunction'),
      register: fn('register', 'RegisterFunction'),
      ingest: fn('ingest', 'IngestFunction'),
      // Continuation and replay pages go to the function's own queue, one hop per page: Lambda's loop detection
      // would stop the 17th hop (a fan-out past ~32,000 subscriptions, a replay past ~32,000 events) after the
      // API has answered. The recursion is intended and ends with the last page.
      fanout: fn('fanout', 'FanoutFunction', { recursiveLoop: RecursiveLoop.ALLOW }),
      deliver: fn('deliver', 'DeliverFunction'),
    };
    const { authorizer, register, ingest, fanout, deliver } = this.functions;
    const { tenants, subscriptions, events, attempts } = this.storage;
    const fanoutQueue = this.fanoutQueue.queue;
    const deliveryQueue = this.deliveryQueue.queue;

    // Least privilege: each grant matches the calls in the function's code (lambdas/). Item actions are
    // granted on the table alone and queries on the one index that serves them, since Table.grant would give
    // every action on every index (table/index/*) as soon as a table has one. With a customer-managed key,
    // each grant also allows the key operations the call needs (grantKeyUse).
    grantOnTable(tenants, authorizer, 'dynamodb:GetItem');

    // Subscription API, with the per-tenant subscription counter (UpdateItem); the attempt lists (table and
    // byEvent); replays are jobs on the fan-out queue; the per-tenant request counters in the tenants table.
    grantOnTable(
      subscriptions,
      register,
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:BatchWriteItem',
    );
    grantOnTable(events, register, 'dynamodb:GetItem');
    grantOnTable(attempts, register, 'dynamodb:Query');
    grantQueryOnIndex(attempts, ATTEMPTS_BY_EVENT_INDEX, register);
    grantSendMessage(fanoutQueue, register);
    grantOnTable(tenants, register, 'dynamodb:UpdateItem');

    // Events onto the bus (whose key, if any, only EventBridge uses); the per-tenant request counters.
    this.ingestion.bus.grantPutEventsTo(ingest);
    grantOnTable(tenants, ingest, 'dynamodb:UpdateItem');

    // Whether a bus event's tenant exists; routes and replay targets; claims, fan-out marks and stored events;
    // events since T (byTime) that have no delivered attempt (byEvent); deliveries, and continuations of large
    // fan-outs.
    grantOnTable(tenants, fanout, 'dynamodb:GetItem');
    grantOnTable(subscriptions, fanout, 'dynamodb:Query', 'dynamodb:GetItem');
    grantOnTable(events, fanout, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:GetItem');
    grantQueryOnIndex(events, EVENTS_BY_TIME_INDEX, fanout);
    grantQueryOnIndex(attempts, ATTEMPTS_BY_EVENT_INDEX, fanout);
    grantSendMessage(deliveryQueue, fanout);
    grantSendMessage(fanoutQueue, fanout);
    // A message that can never succeed goes to the DLQ at once rather than through five receives.
    grantSendMessage(this.fanoutQueue.deadLetterQueue.queue, fanout);

    // A batch's subscriptions and their secrets (BatchGetItem, GetItem when that fails); failing/recovered
    // marks (UpdateItem) and disabling, which rewrites the subscription and removes its routes (PutItem,
    // BatchWriteItem); payloads too large to ride in messages (claim-check); a batch's attempt records
    // (BatchWriteItem); operational events on the bus.
    grantOnTable(
      subscriptions,
      deliver,
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:BatchWriteItem',
    );
    grantOnTable(events, deliver, 'dynamodb:GetItem');
    grantOnTable(attempts, deliver, 'dynamodb:BatchWriteItem');
    this.ingestion.bus.grantPutEventsTo(deliver);

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
        }),
      );
    }

    this.api = new FanoutApi(this, 'Api', { authorizer, handlers: { register, ingest } });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'EventBusName', { value: this.ingestion.bus.eventBusName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
    new CfnOutput(this, 'TenantsTableName', {
      value: tenants.tableName,
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

    acknowledgeNagFindings(this, def);
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
  };
}

/** DynamoDB actions that store new encrypted data; the others only read (or delete) it. */
const TABLE_WRITE_ACTIONS = new Set(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem']);

/** Item actions on the table itself, none on its indexes. */
function grantOnTable(table: ITable, grantee: IGrantable, ...actions: string[]): void {
  Grant.addToPrincipal({ grantee, actions, resourceArns: [table.tableArn] });
  grantKeyUse(
    table.encryptionKey,
    grantee,
    actions.some((action) => TABLE_WRITE_ACTIONS.has(action)),
  );
}

/** Query on one index of the table. */
function grantQueryOnIndex(table: ITable, indexName: string, grantee: IGrantable): void {
  Grant.addToPrincipal({
    grantee,
    actions: ['dynamodb:Query'],
    resourceArns: [`${table.tableArn}/index/${indexName}`],
  });
  grantKeyUse(table.encryptionKey, grantee, false);
}

/** SendMessage only: Queue.grantSendMessages adds GetQueueAttributes and GetQueueUrl, which no code calls. */
function grantSendMessage(queue: IQueue, grantee: IGrantable): void {
  Grant.addToPrincipal({ grantee, actions: ['sqs:SendMessage'], resourceArns: [queue.queueArn] });
  grantKeyUse(queue.encryptionMasterKey, grantee, true);
}

/**
 * The key operations a call needs on a customer-managed key: Decrypt to read; GenerateDataKey as well to store
 * new data (SQS producers need both, and writers to a table get the same). CDK's own grants would add Encrypt,
 * ReEncrypt* and the whole GenerateDataKey* family, which no call here needs. SQS consumers get their Decrypt
 * from SqsEventSource.
 */
function grantKeyUse(key: IKey | undefined, grantee: IGrantable, writes: boolean): void {
  key?.grant(grantee, 'kms:Decrypt', ...(writes ? ['kms:GenerateDataKey'] : []));
}
