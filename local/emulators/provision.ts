import {
  CreateTableCommand,
  type DynamoDBClient,
  type KeySchemaElement,
  ResourceInUseException,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { QueueDefinition, ServiceDefinition, TableDefinition } from '../../lib/definitions.js';

/**
 * Creates the stack's tables and queues on the local engines through the same AWS APIs, with the keys,
 * redrive policies and timeouts of lib/definitions.ts, so local mode cannot drift from the stack.
 */
interface QueueResources {
  url: string;
  arn: string;
  deadLetterUrl: string;
  deadLetterArn: string;
}

export interface ServiceResources {
  tables: Record<keyof ServiceDefinition['tables'], string>;
  queues: Record<keyof ServiceDefinition['queues'], QueueResources>;
}

/**
 * Where local mode's resources are and what they are called, as the operator commands need them (the deployed
 * stack's outputs, locally): served in GET /_local/status, which `--local` reads, and printed in the banner.
 */
export interface LocalResourceNames extends ServiceResources {
  region: string;
  endpoints: { dynamodb: string; sqs: string; eventBridge: string };
  eventBusName: string;
}

export async function provisionResources(
  clients: { dynamo: DynamoDBClient; sqs: SQSClient },
  definition: ServiceDefinition,
  namePrefix: string,
): Promise<ServiceResources> {
  const tableNames = Object.fromEntries(
    Object.keys(definition.tables).map((name) => [name, `${namePrefix}-${name}`]),
  ) as ServiceResources['tables'];
  await Promise.all(
    (Object.keys(definition.tables) as (keyof ServiceDefinition['tables'])[]).map((name) =>
      createTable(clients.dynamo, tableNames[name], definition.tables[name]),
    ),
  );
  const [fanout, delivery] = await Promise.all([
    createQueueWithDeadLetter(clients.sqs, `${namePrefix}-fanout`, definition.queues.fanout, definition),
    createQueueWithDeadLetter(clients.sqs, `${namePrefix}-delivery`, definition.queues.delivery, definition),
  ]);
  return { tables: tableNames, queues: { fanout, delivery } };
}

async function createTable(dynamo: DynamoDBClient, tableName: string, table: TableDefinition): Promise<void> {
  const keys = keySchema(table.partitionKey, table.sortKey);
  const indexes = (table.indexes ?? []).map((index) => ({
    IndexName: index.name,
    KeySchema: keySchema(index.partitionKey, index.sortKey),
    Projection:
      index.projection === 'ALL'
        ? { ProjectionType: 'ALL' as const }
        : { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: [...index.projection] },
  }));
  const keyAttributes = new Set(
    [...keys, ...indexes.flatMap((index) => index.KeySchema)].map((k) => k.AttributeName),
  );
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: keys,
        AttributeDefinitions: [...keyAttributes].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
        ...(indexes.length > 0 ? { GlobalSecondaryIndexes: indexes } : {}),
      }),
    );
  } catch (error) {
    // Kept on disk from an earlier run (FANOUT_DATA_DIR): use it as it is.
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await waitUntilTableExists({ client: dynamo, maxWaitTime: 30, minDelay: 1 }, { TableName: tableName });
}

function keySchema(partitionKey: string, sortKey: string | undefined): KeySchemaElement[] {
  const keys: KeySchemaElement[] = [{ AttributeName: partitionKey, KeyType: 'HASH' }];
  if (sortKey) keys.push({ AttributeName: sortKey, KeyType: 'RANGE' });
  return keys;
}

async function createQueueWithDeadLetter(
  sqs: SQSClient,
  queueName: string,
  queue: QueueDefinition,
  definition: ServiceDefinition,
): Promise<QueueResources> {
  const deadLetterUrl = await createQueue(sqs, `${queueName}-dlq`, {
    MessageRetentionPeriod: String(definition.deadLetterRetentionSeconds),
    MaximumMessageSize: String(definition.maxMessageSizeBytes),
  });
  const deadLetterArn = await queueArn(sqs, deadLetterUrl);
  const url = await createQueue(sqs, queueName, {
    VisibilityTimeout: String(queue.visibilityTimeoutSeconds),
    MessageRetentionPeriod: String(queue.retentionSeconds),
    MaximumMessageSize: String(definition.maxMessageSizeBytes),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: deadLetterArn,
      maxReceiveCount: queue.maxReceiveCount,
    }),
  });
  return { url, arn: await queueArn(sqs, url), deadLetterUrl, deadLetterArn };
}

async function createQueue(
  sqs: SQSClient,
  queueName: string,
  attributes: Record<string, string>,
): Promise<string> {
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: queueName, Attributes: attributes }),
  );
  if (!QueueUrl) throw new Error(`CreateQueue returned no URL for ${queueName}`);
  return QueueUrl;
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  if (!Attributes?.QueueArn) throw new Error(`no ARN for ${queueUrl}`);
  return Attributes.QueueArn;
}
