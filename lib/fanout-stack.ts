import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import type { FunctionName, SettingName } from '../lambdas/core/config.js';
import { parseRetrySchedule } from '../lambdas/core/retry-schedule.js';
import { AlarmTopic } from './constructs/alarm-topic.js';
import { FanoutFunction } from './constructs/fanout-function.js';
import { FanoutApi } from './constructs/http-api.js';
import { Ingestion } from './constructs/ingestion.js';
import { SecureQueue } from './constructs/secure-queue.js';
import { Storage } from './constructs/storage.js';
import { type QueueDefinition, serviceDefinition } from './definitions.js';

/**
 * CDK context the stack reads (`cdk deploy -c name=value` or cdk.json):
 *   retrySchedule  delays before each delivery attempt, in seconds: "0,5,300" or a JSON array
 *                  (default: DEFAULT_RETRY_SCHEDULE_SECONDS)
 *   alarmEmail     an address subscribed to the alarm topic (default: none)
 */
export const CONTEXT_RETRY_SCHEDULE = 'retrySchedule';
export const CONTEXT_ALARM_EMAIL = 'alarmEmail';

export type FanoutStackProps = StackProps;

/**
 * The webhook fan-out service: API → event bus → fan-out queue → fan-out function → delivery queue →
 * deliver function, with every DLQ alarming to one topic. Each function is granted only what its code does.
 */
export class FanoutStack extends Stack {
  readonly alarms: AlarmTopic;
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
    const retryScheduleSeconds = retryScheduleFromContext(this.node.tryGetContext(CONTEXT_RETRY_SCHEDULE));
    const def = serviceDefinition(retryScheduleSeconds ? { retryScheduleSeconds } : {});
    const email: unknown = this.node.tryGetContext(CONTEXT_ALARM_EMAIL);
    if (email !== undefined && typeof email !== 'string') {
      throw new Error(`context "${CONTEXT_ALARM_EMAIL}" must be an email address`);
    }

    this.alarms = new AlarmTopic(this, 'Alarms', email ? { email } : {});
    this.storage = new Storage(this, 'Storage', { tables: def.tables });

    const queueProps = (definition: QueueDefinition) => ({
      definition,
      maxMessageSizeBytes: def.maxMessageSizeBytes,
      deadLetterRetention: Duration.seconds(def.deadLetterRetentionSeconds),
      alarm: def.alarm,
      alarmTopic: this.alarms.topic,
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
    });

    const settings: Record<SettingName, string> = {
      tenantsTable: this.storage.tenants.tableName,
      subscriptionsTable: this.storage.subscriptions.tableName,
      eventsTable: this.storage.events.tableName,
      eventBusName: this.ingestion.bus.eventBusName,
      deliveryQueueUrl: this.deliveryQueue.queue.queueUrl,
      retryScheduleSeconds: def.retryScheduleSeconds.join(','),
      attemptTimeoutMs: String(def.attemptTimeoutMs),
      eventRetentionDays: String(def.eventRetentionDays),
      // Private and internal targets are for local development only.
      allowPrivateUrls: 'false',
    };
    const fn = (name: FunctionName, constructId: string) =>
      new FanoutFunction(this, constructId, { name, definition: def.functions[name], settings });
    this.functions = {
      authorizer: fn('authorizer', 'AuthorizerFunction'),
      register: fn('register', 'RegisterFunction'),
      ingest: fn('ingest', 'IngestFunction'),
      fanout: fn('fanout', 'FanoutFunction'),
      deliver: fn('deliver', 'DeliverFunction'),
    };
    const { authorizer, register, ingest, fanout, deliver } = this.functions;
    const { tenants, subscriptions, events } = this.storage;

    // Least privilege: each grant matches the calls in the function's code.
    tenants.grant(authorizer, 'dynamodb:GetItem');
    subscriptions.grant(
      register,
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:PutItem',
      'dynamodb:DeleteItem',
      'dynamodb:BatchWriteItem',
    );
    this.ingestion.bus.grantPutEventsTo(ingest);
    subscriptions.grant(fanout, 'dynamodb:Query');
    events.grant(fanout, 'dynamodb:PutItem', 'dynamodb:UpdateItem');
    this.deliveryQueue.queue.grantSendMessages(fanout);
    subscriptions.grant(deliver, 'dynamodb:GetItem');
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
  }
}

/**
 * The retry schedule from CDK context: "0,5,300" (as `-c retrySchedule=0,5,300` gives it), a JSON array
 * string, or an array (from cdk.json). Undefined when the context is not set.
 */
export function retryScheduleFromContext(value: unknown): readonly number[] | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value.trim() : undefined;
  if (text !== undefined && !text.startsWith('[')) return parseRetrySchedule(text);
  let parsed: unknown = value;
  if (text !== undefined) {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`context "${CONTEXT_RETRY_SCHEDULE}" is not a valid JSON array: ${text}`);
    }
  }
  if (!Array.isArray(parsed)) {
    throw new Error(`context "${CONTEXT_RETRY_SCHEDULE}" must be comma-separated seconds or a JSON array`);
  }
  // One parser for every form: it checks whole non-negative seconds and the schedule's limits.
  return parseRetrySchedule(parsed.map(String).join(','));
}
