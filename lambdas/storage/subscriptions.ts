import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { routingFilters } from '../contract/event-types.js';
import { ConflictError, NotFoundError } from '../platform/errors.js';
import { newId } from '../platform/ids.js';
import { batchGetAll, isConditionalCheckFailed } from './dynamo.js';
import { routeItemKey, SUBSCRIPTION_SK_PREFIX, subscriptionItemKey, subscriptionKey } from './keys.js';
import { CLOSED_CIRCUIT, SubscriptionHealth } from './subscription-health.js';
import {
  type DisabledReason,
  type StoredSubscription,
  type Subscription,
  type SubscriptionStatus,
  toPublic,
} from './subscription-model.js';
import { activeRoutes, SubscriptionRoutes } from './subscription-routes.js';
import { generateSigningSecret, rotatedSecrets } from './subscription-secrets.js';
import { SubscriptionSlots } from './subscription-slots.js';

export interface NewSubscription {
  url: string;
  eventTypes: string[];
  description?: string | undefined;
  metadata?: Record<string, string> | undefined;
  rateLimit?: number | null | undefined;
}

export type SubscriptionChanges = Partial<
  Pick<Subscription, 'url' | 'eventTypes' | 'description' | 'metadata' | 'rateLimit' | 'status'>
>;

export interface Page<T> {
  items: T[];
  /** Id of the last item returned, when more may follow. */
  lastId?: string;
}

const MAX_UPDATE_RETRIES = 3;

export interface SubscriptionStoreOptions {
  /** Subscriptions one tenant may have; without it creates are counted but not capped. */
  maxPerTenant?: number;
}

/**
 * The subscriptions table holds each subscription, { pk: "<tenantId>", sk: "sub#<id>", ...fields, secret,
 * version }, its routes (subscription-routes.ts) and its tenant's subscription count (subscription-slots.ts).
 *
 * DynamoDB transactions are not used (dynalite lacks them), so writes are ordered to fail safe: routes are
 * hints that are written before a subscription needs them and removed after it stops needing them, and the
 * deliver step re-reads the subscription and skips any delivery it no longer wants.
 */
export class SubscriptionStore {
  private readonly routes: SubscriptionRoutes;
  private readonly slots: SubscriptionSlots;
  /** Delivery's writes of the endpoint's failures and circuit (subscription-health.ts). */
  readonly health: SubscriptionHealth;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: SubscriptionStoreOptions = {},
  ) {
    this.routes = new SubscriptionRoutes(db, tableName);
    this.slots = new SubscriptionSlots(db, tableName, options.maxPerTenant);
    this.health = new SubscriptionHealth(db, tableName);
  }

  async create(tenantId: string, input: NewSubscription): Promise<StoredSubscription> {
    const subscription = newSubscription(tenantId, input);
    await this.slots.reserve(tenantId);
    try {
      await this.routes.put(tenantId, subscription.id, routingFilters(subscription.eventTypes));
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: subscriptionItem(subscription),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      await this.slots.release(tenantId);
      throw error;
    }
    return subscription;
  }

  /** Reads consistently by default; delivery passes false for half the read cost. */
  async get(tenantId: string, id: string, consistent = true): Promise<StoredSubscription | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: subscriptionItemKey(tenantId, id),
        ConsistentRead: consistent,
      }),
    );
    return Item ? toStored(Item) : undefined;
  }

  /**
   * Several subscriptions, possibly of several tenants, in as few BatchGetItem calls as fit, eventually
   * consistent (the deliver step's read). Keyed by subscriptionKey(); a key without an entry does not exist.
   */
  async getMany(
    keys: readonly { tenantId: string; subscriptionId: string }[],
  ): Promise<Map<string, StoredSubscription>> {
    const unique = new Map(keys.map((key) => [subscriptionKey(key.tenantId, key.subscriptionId), key]));
    const items = await batchGetAll(
      this.db,
      this.tableName,
      [...unique.values()].map((key) => subscriptionItemKey(key.tenantId, key.subscriptionId)),
      { consistent: false },
    );
    return new Map(
      items.map((item) => {
        const subscription = toStored(item);
        return [subscriptionKey(subscription.tenantId, subscription.id), subscription];
      }),
    );
  }

  async list(
    tenantId: string,
    options: { limit: number; afterId?: string | undefined },
  ): Promise<Page<Subscription>> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :tenant AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':tenant': tenantId, ':prefix': SUBSCRIPTION_SK_PREFIX },
        ...(options.afterId ? { ExclusiveStartKey: subscriptionItemKey(tenantId, options.afterId) } : {}),
        Limit: options.limit,
      }),
    );
    const items = (result.Items ?? []).map((item) => toPublic(toStored(item)));
    const last = items.at(-1);
    return result.LastEvaluatedKey && last ? { items, lastId: last.id } : { items };
  }

  /** Applies changes with optimistic concurrency, retrying a few times when another writer got there first. */
  update(tenantId: string, id: string, changes: SubscriptionChanges): Promise<StoredSubscription> {
    const { rateLimit, ...fields } = changes;
    return this.write(tenantId, id, (current) => ({
      ...fields,
      // null clears the limit: the field is left out of the item written.
      ...(rateLimit !== undefined ? { rateLimit: rateLimit ?? undefined } : {}),
      ...statusFields(current, changes.status),
      eventTypes: changes.eventTypes ? [...new Set(changes.eventTypes)] : current.eventTypes,
    }));
  }

  /**
   * Read, change, write back on the version read, and retry on a concurrent write. Routes are added before
   * the write and removed after it, so a crash or failure in between leaves extra routes (skipped at
   * delivery), never missing ones.
   */
  private async write(
    tenantId: string,
    id: string,
    change: (current: StoredSubscription) => Partial<StoredSubscription>,
  ): Promise<StoredSubscription> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(tenantId, id);
      if (!current) throw new NotFoundError(`subscription ${id} does not exist`);
      const changes = change(current);
      if (Object.keys(changes).length === 0) return current;
      const next: StoredSubscription = {
        ...current,
        ...changes,
        updatedAt: new Date().toISOString(),
        version: current.version + 1,
      };
      const before = activeRoutes(current);
      const after = activeRoutes(next);
      await this.routes.put(
        tenantId,
        id,
        after.filter((filter) => !before.includes(filter)),
      );
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: subscriptionItem(next),
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
      await this.routes.drop(
        tenantId,
        id,
        before.filter((filter) => !after.includes(filter)),
      );
      return next;
    }
  }

  /**
   * Replaces the signing secret. The old one keeps signing beside it for SECRET_ROTATION_GRACE_SECONDS;
   * returns the subscription with its new secret.
   */
  async rotateSecret(tenantId: string, id: string, now: Date = new Date()): Promise<StoredSubscription> {
    return await this.write(tenantId, id, (current) => rotatedSecrets(current, now));
  }

  /**
   * Disables an active subscription and removes its routes; false when it was not active (or is gone).
   * For failing_too_long, `failingSince` is the failure run the decision was based on (read eventually
   * consistently): the subscription is disabled only while that run is still the stored one, so a run that
   * another delivery has ended, or ended and restarted, is not; without it, never. Other reasons (a 410)
   * disable whatever the run.
   */
  async disable(
    tenantId: string,
    id: string,
    reason: DisabledReason,
    options: { failingSince?: string | undefined } = {},
  ): Promise<boolean> {
    try {
      let changed = false;
      await this.write(tenantId, id, (current) => {
        changed =
          current.status === 'active' &&
          (reason !== 'failing_too_long' ||
            (current.failingSince !== undefined && current.failingSince === options.failingSince));
        return changed ? { status: 'disabled', disabledReason: reason } : {};
      });
      return changed;
    } catch (error) {
      if (error instanceof NotFoundError) return false;
      throw error;
    }
  }

  async delete(tenantId: string, id: string): Promise<void> {
    const current = await this.get(tenantId, id);
    if (!current) throw new NotFoundError(`subscription ${id} does not exist`);
    const { Attributes } = await this.db.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: subscriptionItemKey(tenantId, id),
        ReturnValues: 'ALL_OLD',
      }),
    );
    // Only the request that actually removed the item gives its slot back, so concurrent deletes count once.
    if (Attributes) await this.slots.release(tenantId);
    await this.routes.drop(tenantId, id, activeRoutes(current));
  }

  /** One page of the ids routed under one filter key, as SubscriptionRoutes.page reads it. */
  routedSubscriptionPage(
    tenantId: string,
    filter: string,
    options: { limit: number; start?: Record<string, unknown> | undefined },
  ): Promise<{ ids: string[]; next?: Record<string, unknown> }> {
    return this.routes.page(tenantId, filter, options);
  }
}

/** A new active subscription with its own signing secret, as create() stores it. */
export function newSubscription(tenantId: string, input: NewSubscription): StoredSubscription {
  const now = new Date().toISOString();
  return {
    id: newId('sub'),
    tenantId,
    url: input.url,
    eventTypes: [...new Set(input.eventTypes)],
    description: input.description ?? '',
    metadata: input.metadata ?? {},
    ...(input.rateLimit ? { rateLimit: input.rateLimit } : {}),
    status: 'active',
    secret: generateSigningSecret(),
    createdAt: now,
    updatedAt: now,
    version: 1,
  };
}

/**
 * Every item a subscription is stored as: itself and one route per routing filter while active. For bulk
 * loading (local/seed.ts); create() writes the same items one by one, routes first.
 */
export function storedItems(subscription: StoredSubscription): Record<string, unknown>[] {
  return [
    subscriptionItem(subscription),
    ...activeRoutes(subscription).map((filter) =>
      routeItemKey(subscription.tenantId, filter, subscription.id),
    ),
  ];
}

function subscriptionItem(subscription: StoredSubscription): Record<string, unknown> {
  return { ...subscriptionItemKey(subscription.tenantId, subscription.id), ...subscription };
}

/** A manual disable records its reason; re-enabling clears the reason, the failure run and the circuit. */
function statusFields(
  current: StoredSubscription,
  status: SubscriptionStatus | undefined,
): Partial<StoredSubscription> {
  if (status === 'disabled' && current.status !== 'disabled') return { disabledReason: 'manual' };
  if (status === 'active') return { disabledReason: undefined, failingSince: undefined, ...CLOSED_CIRCUIT };
  return {};
}

function toStored(item: Record<string, unknown>): StoredSubscription {
  const { pk, sk, ...fields } = item;
  return { ...(fields as unknown as StoredSubscription), tenantId: String(pk) };
}
