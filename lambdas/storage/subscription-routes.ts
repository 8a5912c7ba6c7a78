import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { routingFilters } from '../contract/event-types.js';
import { logger } from '../platform/logger.js';
import { batchWriteAll } from './dynamo.js';
import { routeItemKey, routeKey } from './keys.js';
import type { StoredSubscription } from './subscription-model.js';

/**
 * Routes, { pk: "route#<tenantId>#<filter>", sk: "<subscriptionId>" }, in the subscriptions table: one for
 * each routing filter of each *active* subscription, so fan-out finds an event's subscribers by querying the
 * few keys that can match it (event-types.ts) and never scans. They are hints, written before a subscription
 * needs them and removed after it stops needing them.
 */
export class SubscriptionRoutes {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * One page of the ids routed under one filter key: at most `limit`, from `start` (a previous page's `next`).
   * `next` is DynamoDB's position, set when the query stopped at the limit (more may follow).
   */
  async page(
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

  async put(tenantId: string, id: string, filters: readonly string[]): Promise<void> {
    await batchWriteAll(
      this.db,
      this.tableName,
      filters.map((filter) => ({ PutRequest: { Item: routeItemKey(tenantId, filter, id) } })),
    );
  }

  /**
   * Removes routes the subscription no longer wants, after its own item has changed. The change is made by
   * then, so a failure here (a throttle that outlasted the SDK's retries) is logged, not thrown: thrown, it
   * would hide a stored change from the caller (a 410 disable would go unreported, a PATCH would answer 500).
   * Routes left behind cost deliveries that are skipped, never lost ones, as after a crash at this point.
   */
  async drop(tenantId: string, id: string, filters: readonly string[]): Promise<void> {
    try {
      await batchWriteAll(
        this.db,
        this.tableName,
        filters.map((filter) => ({ DeleteRequest: { Key: routeItemKey(tenantId, filter, id) } })),
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

/** The filters a subscription is routed under: those of its event types while it is active, else none. */
export function activeRoutes(subscription: StoredSubscription): string[] {
  return subscription.status === 'active' ? routingFilters(subscription.eventTypes) : [];
}
