import { randomBytes } from 'node:crypto';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { batchWriteAll, isConditionalCheckFailed } from './dynamo.js';
import { ConflictError, NotFoundError } from './errors.js';
import { routingFilters } from './event-types.js';
import { newId } from './ids.js';

/**
 * One table holds two kinds of item:
 *   subscription  { pk: "<tenantId>", sk: "sub#<id>", ...fields, secret, version }
 *   route         { pk: "route#<tenantId>#<filter>", sk: "<subscriptionId>" }
 * A route exists for each routing filter of each *active* subscription, so fan-out finds an event's
 * subscribers by querying the few keys that can match it (event-types.ts) and never scans.
 *
 * DynamoDB transactions are not used (dynalite lacks them), so writes are ordered to fail safe: routes are
 * hints that are written before a subscription needs them and removed after it stops needing them, and the
 * deliver step re-reads the subscription and skips any delivery it no longer wants.
 */
export type SubscriptionStatus = 'active' | 'disabled';

export interface Subscription {
  id: string;
  url: string;
  eventTypes: string[];
  description: string;
  metadata: Record<string, string>;
  status: SubscriptionStatus;
  createdAt: string;
  updatedAt: string;
}

export interface StoredSubscription extends Subscription {
  tenantId: string;
  secret: string;
  version: number;
}

export interface NewSubscription {
  url: string;
  eventTypes: string[];
  description?: string | undefined;
  metadata?: Record<string, string> | undefined;
}

export type SubscriptionChanges = Partial<
  Pick<Subscription, 'url' | 'eventTypes' | 'description' | 'metadata' | 'status'>
>;

export interface Page<T> {
  items: T[];
  /** Id of the last item returned, when more may follow. */
  lastId?: string;
}

const MAX_UPDATE_RETRIES = 3;

export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export class SubscriptionStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(tenantId: string, input: NewSubscription): Promise<StoredSubscription> {
    const now = new Date().toISOString();
    const subscription: StoredSubscription = {
      id: newId('sub'),
      tenantId,
      url: input.url,
      eventTypes: [...new Set(input.eventTypes)],
      description: input.description ?? '',
      metadata: input.metadata ?? {},
      status: 'active',
      secret: generateSigningSecret(),
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    await this.putRoutes(tenantId, subscription.id, routingFilters(subscription.eventTypes));
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: tenantId, sk: `sub#${subscription.id}`, ...subscription },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return subscription;
  }

  /** Reads consistently by default; delivery passes false for half the read cost. */
  async get(tenantId: string, id: string, consistent = true): Promise<StoredSubscription | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: tenantId, sk: `sub#${id}` },
        ConsistentRead: consistent,
      }),
    );
    return Item ? toStored(Item) : undefined;
  }

  async list(
    tenantId: string,
    options: { limit: number; afterId?: string | undefined },
  ): Promise<Page<Subscription>> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :tenant AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':tenant': tenantId, ':prefix': 'sub#' },
        ...(options.afterId ? { ExclusiveStartKey: { pk: tenantId, sk: `sub#${options.afterId}` } } : {}),
        Limit: options.limit,
      }),
    );
    const items = (result.Items ?? []).map((item) => toPublic(toStored(item)));
    const last = items.at(-1);
    return result.LastEvaluatedKey && last ? { items, lastId: last.id } : { items };
  }

  /** Applies changes with optimistic concurrency, retrying a few times when another writer got there first. */
  async update(tenantId: string, id: string, changes: SubscriptionChanges): Promise<StoredSubscription> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(tenantId, id);
      if (!current) throw new NotFoundError(`subscription ${id} does not exist`);
      const next: StoredSubscription = {
        ...current,
        ...changes,
        eventTypes: changes.eventTypes ? [...new Set(changes.eventTypes)] : current.eventTypes,
        updatedAt: new Date().toISOString(),
        version: current.version + 1,
      };
      const before = activeRoutes(current);
      const after = activeRoutes(next);
      await this.putRoutes(
        tenantId,
        id,
        after.filter((filter) => !before.includes(filter)),
      );
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { pk: tenantId, sk: `sub#${id}`, ...next },
            ConditionExpression: 'version = :expected',
            ExpressionAttributeValues: { ':expected': current.version },
          }),
        );
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        if (attempt === MAX_UPDATE_RETRIES) {
          throw new ConflictError(`subscription ${id} is being changed concurrently; retry the request`);
        }
        continue;
      }
      await this.deleteRoutes(
        tenantId,
        id,
        before.filter((filter) => !after.includes(filter)),
      );
      return next;
    }
  }

  async delete(tenantId: string, id: string): Promise<void> {
    const current = await this.get(tenantId, id);
    if (!current) throw new NotFoundError(`subscription ${id} does not exist`);
    await this.db.send(
      new DeleteCommand({ TableName: this.tableName, Key: { pk: tenantId, sk: `sub#${id}` } }),
    );
    await this.deleteRoutes(tenantId, id, activeRoutes(current));
  }

  /** Ids of the subscriptions routed under one filter key, page by page. */
  async *routedSubscriptionIds(tenantId: string, filter: string): AsyncGenerator<string[]> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :route',
          ExpressionAttributeValues: { ':route': routeKey(tenantId, filter) },
          ProjectionExpression: 'sk',
          ExclusiveStartKey: startKey,
        }),
      );
      const ids = (result.Items ?? []).map((item) => String(item.sk));
      if (ids.length > 0) yield ids;
      startKey = result.LastEvaluatedKey;
    } while (startKey);
  }

  private async putRoutes(tenantId: string, id: string, filters: readonly string[]): Promise<void> {
    await batchWriteAll(
      this.db,
      this.tableName,
      filters.map((filter) => ({ PutRequest: { Item: { pk: routeKey(tenantId, filter), sk: id } } })),
    );
  }

  private async deleteRoutes(tenantId: string, id: string, filters: readonly string[]): Promise<void> {
    await batchWriteAll(
      this.db,
      this.tableName,
      filters.map((filter) => ({ DeleteRequest: { Key: { pk: routeKey(tenantId, filter), sk: id } } })),
    );
  }
}

export function toPublic(subscription: StoredSubscription): Subscription {
  const { id, url, eventTypes, description, metadata, status, createdAt, updatedAt } = subscription;
  return { id, url, eventTypes, description, metadata, status, createdAt, updatedAt };
}

function routeKey(tenantId: string, filter: string): string {
  return `route#${tenantId}#${filter}`;
}

function activeRoutes(subscription: StoredSubscription): string[] {
  return subscription.status === 'active' ? routingFilters(subscription.eventTypes) : [];
}

function toStored(item: Record<string, unknown>): StoredSubscription {
  const { pk, sk, ...fields } = item;
  return { ...(fields as unknown as StoredSubscription), tenantId: String(pk) };
}
