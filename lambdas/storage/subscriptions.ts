import { randomBytes } from 'node:crypto';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { routingFilters } from '../contract/event-types.js';
import { ConflictError, LimitReachedError, NotFoundError } from '../platform/errors.js';
import { newId } from '../platform/ids.js';
import { logger } from '../platform/logger.js';
import { batchGetAll, batchWriteAll, isConditionalCheckFailed } from './dynamo.js';
import {
  routeKey,
  SUBSCRIPTION_SK_PREFIX,
  subscriptionCountKey,
  subscriptionItemKey,
  subscriptionKey,
} from './keys.js';

/**
 * One table holds two kinds of item (and each tenant's subscription count, see reserveSlot):
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

/** Why a subscription is disabled: by its owner, by a 410 Gone answer, or after failing for too long. */
export type DisabledReason = 'manual' | 'endpoint_gone' | 'failing_too_long';

export interface Subscription {
  id: string;
  url: string;
  eventTypes: string[];
  description: string;
  metadata: Record<string, string>;
  status: SubscriptionStatus;
  /** Set while disabled. */
  disabledReason?: DisabledReason;
  /** Start of the current run of failed attempts; absent while deliveries succeed. */
  failingSince?: string;
  createdAt: string;
  updatedAt: string;
}

/** A secret replaced by a rotation, which keeps signing beside the new one until it expires. */
export interface PreviousSecret {
  secret: string;
  expiresAt: string;
}

export interface StoredSubscription extends Subscription {
  tenantId: string;
  secret: string;
  previousSecrets?: PreviousSecret[];
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
/** After a rotation the old secret signs too, for this long, so receivers can switch without losing events. */
export const SECRET_ROTATION_GRACE_SECONDS = 24 * 3600;
/** Old secrets kept signing at once; rotating more often than this within the grace period drops the oldest. */
const MAX_PREVIOUS_SECRETS = 4;

export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface SubscriptionStoreOptions {
  /** Subscriptions one tenant may have; without it creates are counted but not capped. */
  maxPerTenant?: number;
}

export class SubscriptionStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly options: SubscriptionStoreOptions = {},
  ) {}

  async create(tenantId: string, input: NewSubscription): Promise<StoredSubscription> {
    const subscription = newSubscription(tenantId, input);
    await this.reserveSlot(tenantId);
    try {
      await this.putRoutes(tenantId, subscription.id, routingFilters(subscription.eventTypes));
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: subscriptionItem(subscription),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      await this.releaseSlot(tenantId);
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
    return this.write(tenantId, id, (current) => ({
      ...changes,
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
      await this.putRoutes(
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
      await this.dropRoutes(
        tenantId,
        id,
        before.filter((filter) => !after.includes(filter)),
      );
      return next;
    }
  }

  private async conditionalUpdate(
    tenantId: string,
    id: string,
    update: string,
    condition: string,
    values: Record<string, unknown>,
  ): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: subscriptionItemKey(tenantId, id),
          UpdateExpression: update,
          ConditionExpression: `attribute_exists(pk) AND ${condition}`,
          ...(condition.includes('#status') ? { ExpressionAttributeNames: { '#status': 'status' } } : {}),
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  /**
   * Replaces the signing secret. The old one keeps signing beside it for SECRET_ROTATION_GRACE_SECONDS;
   * returns the subscription with its new secret.
   */
  async rotateSecret(tenantId: string, id: string, now: Date = new Date()): Promise<StoredSubscription> {
    return this.write(tenantId, id, (current) => ({
      secret: generateSigningSecret(),
      previousSecrets: [
        {
          secret: current.secret,
          expiresAt: new Date(now.getTime() + SECRET_ROTATION_GRACE_SECONDS * 1000).toISOString(),
        },
        ...unexpiredSecrets(current, now),
      ].slice(0, MAX_PREVIOUS_SECRETS),
    }));
  }

  /**
   * Records the start of a run of failures. True only for the call that started it, so a burst of
   * concurrent failures reports the change once.
   */
  async markFailing(tenantId: string, id: string, since: Date): Promise<boolean> {
    return this.conditionalUpdate(
      tenantId,
      id,
      'SET failingSince = :since, version = version + :one',
      'attribute_not_exists(failingSince) AND #status = :active',
      { ':since': since.toISOString(), ':one': 1, ':active': 'active' },
    );
  }

  /** Ends a run of failures; true only for the call that ended it. */
  async markRecovered(tenantId: string, id: string): Promise<boolean> {
    return this.conditionalUpdate(
      tenantId,
      id,
      'REMOVE failingSince SET version = version + :one',
      'attribute_exists(failingSince)',
      { ':one': 1 },
    );
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
    if (Attributes) await this.releaseSlot(tenantId);
    await this.dropRoutes(tenantId, id, activeRoutes(current));
  }

  /**
   * Takes one of the tenant's subscription slots, or refuses with 422 when the cap is reached. Each tenant's
   * subscription count lives beside its subscriptions, { pk: "<tenantId>", sk: "#count", count }, outside the
   * "sub#" range that list() reads. A create reserves a slot first with a conditional ADD, so concurrent
   * creates can never pass the cap; a failed create gives it back. A crash between the two steps can only
   * leave the count too high by one (a lost slot), never let a tenant past its cap.
   */
  private async reserveSlot(tenantId: string): Promise<void> {
    const max = this.options.maxPerTenant;
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: subscriptionCountKey(tenantId),
          UpdateExpression: 'ADD #count :one',
          ExpressionAttributeNames: { '#count': 'count' },
          ...(max === undefined
            ? { ExpressionAttributeValues: { ':one': 1 } }
            : {
                ConditionExpression: 'attribute_not_exists(#count) OR #count < :max',
                ExpressionAttributeValues: { ':one': 1, ':max': max },
              }),
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      // 422 rather than 429: waiting does not help, deleting a subscription does.
      throw new LimitReachedError(
        'subscription_limit_reached',
        `a tenant may have at most ${max} subscriptions; delete one to create another`,
      );
    }
  }

  /**
   * Gives a slot back. It never throws: the create or delete it follows has already been decided, and a slot
   * not given back only leaves the count one too high, which is logged.
   */
  private async releaseSlot(tenantId: string): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: subscriptionCountKey(tenantId),
          UpdateExpression: 'ADD #count :minusOne',
          // Never below zero, e.g. for subscriptions created before counting began.
          ConditionExpression: '#count > :zero',
          ExpressionAttributeNames: { '#count': 'count' },
          ExpressionAttributeValues: { ':minusOne': -1, ':zero': 0 },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error))
        logger.error('could not give back a subscription slot; the count is one too high', {
          error,
          tenantId,
        });
    }
  }

  /**
   * One page of the ids routed under one filter key: at most `limit`, from `start` (a previous page's `next`).
   * `next` is DynamoDB's position, set when the query stopped at the limit (more may follow).
   */
  async routedSubscriptionPage(
    tenantId: string,
    filter: string,
    options: { limit: number; start?: Record<string, unknown> | undefined },
  ): Promise<{ ids: string[]; next?: Record<string, unknown> }> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :route',
        ExpressionAttributeValues: { ':route': routeKey(tenantId, filter) },
        ProjectionExpression: 'sk',
        Limit: options.limit,
        ExclusiveStartKey: options.start,
      }),
    );
    const ids = (result.Items ?? []).map((item) => String(item.sk));
    return result.LastEvaluatedKey ? { ids, next: result.LastEvaluatedKey } : { ids };
  }

  private async putRoutes(tenantId: string, id: string, filters: readonly string[]): Promise<void> {
    await batchWriteAll(
      this.db,
      this.tableName,
      filters.map((filter) => ({ PutRequest: { Item: { pk: routeKey(tenantId, filter), sk: id } } })),
    );
  }

  /**
   * Removes routes the subscription no longer wants, after its own item has changed. The change is made by
   * then, so a failure here (a throttle that outlasted the SDK's retries) is logged, not thrown: thrown, it
   * would hide a stored change from the caller (a 410 disable would go unreported, a PATCH would answer 500).
   * Routes left behind cost deliveries that are skipped, never lost ones, as after a crash at this point.
   */
  private async dropRoutes(tenantId: string, id: string, filters: readonly string[]): Promise<void> {
    try {
      await batchWriteAll(
        this.db,
        this.tableName,
        filters.map((filter) => ({ DeleteRequest: { Key: { pk: routeKey(tenantId, filter), sk: id } } })),
      );
    } catch (error) {
      logger.error('routes left behind; deliveries through them will be skipped', {
        tenantId,
        subscriptionId: id,
        filters,
        error: (error as Error).message,
      });
    }
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
    ...activeRoutes(subscription).map((filter) => ({
      pk: routeKey(subscription.tenantId, filter),
      sk: subscription.id,
    })),
  ];
}

function subscriptionItem(subscription: StoredSubscription): Record<string, unknown> {
  return { ...subscriptionItemKey(subscription.tenantId, subscription.id), ...subscription };
}

export function toPublic(subscription: StoredSubscription): Subscription {
  const { id, url, eventTypes, description, metadata, status, disabledReason, failingSince } = subscription;
  return {
    id,
    url,
    eventTypes,
    description,
    metadata,
    status,
    ...(disabledReason ? { disabledReason } : {}),
    ...(failingSince ? { failingSince } : {}),
    createdAt: subscription.createdAt,
    updatedAt: subscription.updatedAt,
  };
}

/** The secrets that sign a delivery at `now`: the current one first, then those rotated out recently. */
export function signingSecrets(subscription: StoredSubscription, now: Date = new Date()): string[] {
  return [subscription.secret, ...unexpiredSecrets(subscription, now).map((previous) => previous.secret)];
}

function unexpiredSecrets(subscription: StoredSubscription, now: Date): PreviousSecret[] {
  return (subscription.previousSecrets ?? []).filter(
    (previous) => Date.parse(previous.expiresAt) > now.getTime(),
  );
}

/** A manual disable records its reason; re-enabling clears the reason and the failure run. */
function statusFields(
  current: StoredSubscription,
  status: SubscriptionStatus | undefined,
): Partial<StoredSubscription> {
  if (status === 'disabled' && current.status !== 'disabled') return { disabledReason: 'manual' };
  if (status === 'active') return { disabledReason: undefined, failingSince: undefined };
  return {};
}

function activeRoutes(subscription: StoredSubscription): string[] {
  return subscription.status === 'active' ? routingFilters(subscription.eventTypes) : [];
}

function toStored(item: Record<string, unknown>): StoredSubscription {
  const { pk, sk, ...fields } = item;
  return { ...(fields as unknown as StoredSubscription), tenantId: String(pk) };
}
