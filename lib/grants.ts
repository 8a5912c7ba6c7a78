import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { FunctionName } from '../lambdas/contract/settings.js';
import { ATTEMPTS_BY_EVENT_INDEX, EVENTS_BY_TIME_INDEX } from '../lambdas/contract/tables.js';
import type { TableKey } from './constructs/storage.js';

/**
 * The parts of a table and a bus the grants use. Narrower than ITable and IEventBus on purpose: under
 * exactOptionalPropertyTypes the CDK's Table and EventBus classes are not assignable to their own interfaces
 * (aws/aws-cdk#37996).
 */
type GrantedTable = Pick<ITable, 'tableArn' | 'encryptionKey'>;
type GrantedBus = Pick<IEventBus, 'grantPutEventsTo'>;

/** What the functions are granted access to. */
export interface GrantedResources {
  readonly functions: Readonly<Record<FunctionName, IGrantable>>;
  readonly tables: Readonly<Record<TableKey, GrantedTable>>;
  readonly fanoutQueue: IQueue;
  readonly deliveryQueue: IQueue;
  readonly fanoutDeadLetterQueue: IQueue;
  readonly deliveryDeadLetterQueue: IQueue;
  readonly bus: GrantedBus;
}

/**
 * Least privilege: each grant matches the calls in the function's code (lambdas/). Item actions are granted on
 * the table alone and queries on the one index that serves them, since Table.grant would give every action on
 * every index (table/index/*) as soon as a table has one. With a customer-managed key, each grant also allows
 * the key operations the call needs (grantKeyUse). Receiving from the queues is granted by the event sources.
 */
export function grantFunctionAccess(resources: GrantedResources): void {
  const {
    functions,
    tables,
    fanoutQueue,
    deliveryQueue,
    fanoutDeadLetterQueue,
    deliveryDeadLetterQueue,
    bus,
  } = resources;
  const { authorizer, api, ingest, fanout, deliver } = functions;
  const { tenants, subscriptions, events, attempts } = tables;

  grantOnTable(tenants, authorizer, 'dynamodb:GetItem');

  // Subscription API, with the per-tenant subscription counter (UpdateItem); the attempt lists (table and
  // byEvent); replays are jobs on the fan-out queue; the per-tenant request counters in the tenants table.
  grantOnTable(
    subscriptions,
    api,
    'dynamodb:GetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:BatchWriteItem',
  );
  grantOnTable(events, api, 'dynamodb:GetItem');
  grantOnTable(attempts, api, 'dynamodb:Query');
  grantQueryOnIndex(attempts, ATTEMPTS_BY_EVENT_INDEX, api);
  grantSendMessage(fanoutQueue, api);
  grantOnTable(tenants, api, 'dynamodb:UpdateItem');

  // Events onto the bus (whose key, if any, only EventBridge uses); the per-tenant request counters.
  bus.grantPutEventsTo(ingest);
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
  grantSendMessage(fanoutDeadLetterQueue, fanout);

  // A batch's subscriptions and their secrets (BatchGetItem, GetItem when that fails); failing/recovered
  // marks (UpdateItem) and disabling, which rewrites the subscription and removes its routes (PutItem,
  // BatchWriteItem); payloads too large to ride in messages (claim-check); a batch's attempt records
  // (BatchWriteItem) and rate-limited subscriptions' attempt counters (UpdateItem); operational events on the
  // bus.
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
  grantOnTable(attempts, deliver, 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem');
  bus.grantPutEventsTo(deliver);
  // A delivery that waits (circuit open, rate limit reached) is a new, delayed copy of its message; a copy
  // that runs out goes to the DLQ as the original message, so that a redrive starts it afresh.
  grantSendMessage(deliveryQueue, deliver);
  grantSendMessage(deliveryDeadLetterQueue, deliver);
}

/** DynamoDB actions that store new encrypted data; the others only read (or delete) it. */
const TABLE_WRITE_ACTIONS = new Set(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem']);

/** Item actions on the table itself, none on its indexes. */
function grantOnTable(table: GrantedTable, grantee: IGrantable, ...actions: string[]): void {
  Grant.addToPrincipal({ grantee, actions, resourceArns: [table.tableArn] });
  grantKeyUse(
    table.encryptionKey,
    grantee,
    actions.some((action) => TABLE_WRITE_ACTIONS.has(action)),
  );
}

/** Query on one index of the table. */
function grantQueryOnIndex(table: GrantedTable, indexName: string, grantee: IGrantable): void {
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
