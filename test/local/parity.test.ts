import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, type ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  environmentVariable,
  FUNCTION_SETTINGS,
  type FunctionName,
  type SettingName,
} from '../../lambdas/contract/settings.js';
import { ATTEMPTS_BY_EVENT_INDEX, EVENTS_BY_TIME_INDEX } from '../../lambdas/contract/tables.js';
import { CONTEXT_RETRY_SCHEDULE, stackPropsFromContext } from '../../lib/context.js';
import { serviceDefinition } from '../../lib/definitions.js';
import { FanoutStack } from '../../lib/fanout-stack.js';
import { startTestService } from '../support/service.js';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation properties are untyped JSON
type Properties = Record<string, any>;

/**
 * Local mode and the stack are both built from lib/definitions.ts; this proves they come out the same by
 * comparing what the local engines report (GetQueueAttributes, DescribeTable, the poller's receives) and what
 * local mode's event source mappings scale to with the synthesized template, for the defaults and for a retry
 * schedule and maximum concurrencies set by configuration.
 */
describe.each([
  { schedule: undefined, concurrency: undefined, label: 'defaults' },
  { schedule: [0, 1, 2], concurrency: undefined, label: 'retry schedule 0,1,2' },
  { schedule: undefined, concurrency: { fanout: 3, delivery: 7 }, label: 'maximum concurrency 3 and 7' },
])('Local mode: provisioning matches the CDK stack ($label)', ({ schedule, concurrency }) => {
  let stack: FanoutStack;
  let resources: Record<string, { Properties: Properties }>;
  let service: Awaited<ReturnType<typeof startTestService>>;
  let dynamo: DynamoDBClient;
  const receiveBatchSizes: Record<string, number | undefined> = {};

  const template = (construct: IConstruct) => {
    const id = stack.getLogicalId(construct.node.defaultChild as CfnElement);
    return { id, properties: resources[id]?.Properties ?? {} };
  };
  const queueAttributes = async (queueUrl: string) =>
    (
      await service.clients.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }),
      )
    ).Attributes ?? {};

  beforeAll(async () => {
    const context = {
      ...(schedule ? { [CONTEXT_RETRY_SCHEDULE]: schedule.join(',') } : {}),
      ...(concurrency
        ? {
            fanoutMaxConcurrency: String(concurrency.fanout),
            deliveryMaxConcurrency: String(concurrency.delivery),
          }
        : {}),
    };
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
    stack = new FanoutStack(app, 'Parity', stackPropsFromContext(app, {}));
    resources = Template.fromStack(stack).toJSON().Resources;
    // The suite's services lift the request rate limit; this one keeps the stack's default.
    service = await startTestService({
      tenantRequestsPerSecond: serviceDefinition().tenantRequestsPerSecond,
      ...(schedule ? { retryScheduleSeconds: schedule } : {}),
      ...(concurrency
        ? { fanoutMaxConcurrency: concurrency.fanout, deliveryMaxConcurrency: concurrency.delivery }
        : {}),
    });
    dynamo = new DynamoDBClient({
      endpoint: inject('dynamoEndpoint'),
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    service.clients.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ReceiveMessageCommand') {
          const input = args.input as ReceiveMessageCommand['input'];
          receiveBatchSizes[input.QueueUrl ?? ''] = input.MaxNumberOfMessages;
        }
        return next(args);
      },
      { step: 'initialize' },
    );
  });
  afterAll(async () => {
    dynamo.destroy();
    await service.close();
  });

  /** The event source mapping that reads the queue of this logical id. */
  const mappingOf = (queueId: string) =>
    Object.values(resources)
      .map((resource) => resource.Properties)
      .find((properties) => properties?.EventSourceArn?.['Fn::GetAtt']?.[0] === queueId);
  const queuePairs = () =>
    (['fanout', 'delivery'] as const).map((name) => {
      const secure = name === 'fanout' ? stack.fanoutQueue : stack.deliveryQueue;
      return {
        name,
        local: service.resources.queues[name],
        queue: secure.queue,
        dlq: secure.deadLetterQueue.queue,
      };
    });

  it('gives each queue the visibility timeout, retention, message size and redrive of the stack', async () => {
    for (const { name, local, queue, dlq } of queuePairs()) {
      const expected = template(queue).properties;
      const actual = await queueAttributes(local.url);
      const redrive = JSON.parse(actual.RedrivePolicy ?? '{}');
      expect(
        {
          VisibilityTimeout: Number(actual.VisibilityTimeout),
          MessageRetentionPeriod: Number(actual.MessageRetentionPeriod),
          MaximumMessageSize: Number(actual.MaximumMessageSize),
          maxReceiveCount: Number(redrive.maxReceiveCount),
        },
        name,
      ).toEqual({
        VisibilityTimeout: expected.VisibilityTimeout,
        MessageRetentionPeriod: expected.MessageRetentionPeriod,
        MaximumMessageSize: expected.MaximumMessageSize,
        maxReceiveCount: expected.RedrivePolicy.maxReceiveCount,
      });
      // Both redrive to the queue's own DLQ.
      expect(expected.RedrivePolicy.deadLetterTargetArn).toEqual({ 'Fn::GetAtt': [template(dlq).id, 'Arn'] });
      expect(redrive.deadLetterTargetArn).toBe((await queueAttributes(local.deadLetterUrl)).QueueArn);
    }
  });

  it('gives each dead-letter queue the retention and message size of the stack', async () => {
    for (const { name, local, dlq } of queuePairs()) {
      const expected = template(dlq).properties;
      const actual = await queueAttributes(local.deadLetterUrl);
      expect(
        {
          MessageRetentionPeriod: Number(actual.MessageRetentionPeriod),
          MaximumMessageSize: Number(actual.MaximumMessageSize),
        },
        `${name} DLQ`,
      ).toEqual({
        MessageRetentionPeriod: expected.MessageRetentionPeriod,
        MaximumMessageSize: expected.MaximumMessageSize,
      });
    }
  });

  it('polls each queue with the batch size of the stack’s event source mapping', async () => {
    await service.pollFanout();
    await service.pollDelivery();
    for (const { name, local, queue } of queuePairs()) {
      const mapping = mappingOf(template(queue).id);
      expect(mapping?.FunctionResponseTypes, name).toEqual(['ReportBatchItemFailures']);
      expect(receiveBatchSizes[local.url], name).toBe(mapping?.BatchSize);
    }
  });

  it('scales each queue’s pollers up to the maximum concurrency of the stack’s event source mapping', async () => {
    const logged: string[] = [];
    const sources = service.startEventSources((line) => logged.push(line));
    try {
      for (const { name, queue } of queuePairs()) {
        const mapping = mappingOf(template(queue).id);
        expect(mapping?.ScalingConfig?.MaximumConcurrency, name).toBeGreaterThanOrEqual(2);
        expect(sources[name].status().maxConcurrency, name).toBe(mapping?.ScalingConfig?.MaximumConcurrency);
      }
    } finally {
      await Promise.all(Object.values(sources).map((mapping) => mapping.stop()));
    }
    expect(logged).toEqual([]);
  });

  it('creates each table with the key schema and global secondary indexes of the stack', async () => {
    const tableNames = Object.keys(service.definition.tables) as (keyof typeof service.definition.tables)[];
    expect(tableNames.sort()).toEqual(['attempts', 'events', 'subscriptions', 'tenants']);
    for (const name of tableNames) {
      const expected = template(stack.storage[name]).properties;
      const { Table } = await dynamo.send(
        new DescribeTableCommand({ TableName: service.resources.tables[name] }),
      );
      const indexes = (list: Properties[] | undefined) =>
        (list ?? [])
          .map(({ IndexName, KeySchema, Projection }) => ({
            IndexName,
            KeySchema,
            Projection: { ...Projection, NonKeyAttributes: [...(Projection.NonKeyAttributes ?? [])].sort() },
          }))
          .sort((a, b) => a.IndexName.localeCompare(b.IndexName));
      expect(
        {
          KeySchema: Table?.KeySchema,
          AttributeDefinitions: Table?.AttributeDefinitions,
          GlobalSecondaryIndexes: indexes(Table?.GlobalSecondaryIndexes),
        },
        name,
      ).toEqual({
        KeySchema: expected.KeySchema,
        AttributeDefinitions: expected.AttributeDefinitions,
        GlobalSecondaryIndexes: indexes(expected.GlobalSecondaryIndexes),
      });
    }
  });

  it('indexes events by time and attempts by event, locally as in the stack', async () => {
    const indexNames = async (name: 'events' | 'attempts') => {
      const { Table } = await dynamo.send(
        new DescribeTableCommand({ TableName: service.resources.tables[name] }),
      );
      return (Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName);
    };
    expect(await indexNames('events')).toEqual([EVENTS_BY_TIME_INDEX]);
    expect(await indexNames('attempts')).toEqual([ATTEMPTS_BY_EVENT_INDEX]);
  });

  it('gives every function the settings of the stack, apart from resource names', () => {
    // Resource names differ by design. Private targets are not a setting: see TargetOptions.
    const local: readonly SettingName[] = [
      'retryScheduleSeconds',
      'attemptTimeoutMs',
      'eventRetentionDays',
      'attemptLog',
      'attemptRetentionDays',
      'autoDisableAfterSeconds',
      'fanoutPageSize',
      'maxSubscriptionsPerTenant',
      'tenantRequestsPerSecond',
    ];
    for (const name of Object.keys(FUNCTION_SETTINGS) as FunctionName[]) {
      const variables = template(stack.functions[name]).properties.Environment.Variables;
      const settings: readonly SettingName[] = FUNCTION_SETTINGS[name];
      for (const setting of settings.filter((candidate) => local.includes(candidate))) {
        const value = service.config[setting];
        expect(Array.isArray(value) ? value.join(',') : String(value), `${name}: ${setting}`).toBe(
          variables[environmentVariable(setting)],
        );
      }
    }
  });

  it('routes events to the fan-out queue with the pattern of the stack’s rule', () => {
    expect(service.definition.eventRule.pattern).toEqual(
      template(stack.ingestion.rule).properties.EventPattern,
    );
  });
});
