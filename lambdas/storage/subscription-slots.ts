import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { LimitReachedError } from '../platform/errors.js';
import { logger } from '../platform/logger.js';
import { isConditionalCheckFailed } from './dynamo.js';
import { subscriptionCountKey } from './keys.js';

/**
 * Each tenant's subscription count lives beside its subscriptions, { pk: "<tenantId>", sk: "#count", count },
 * outside the "sub#" range that a list reads. A create reserves a slot first with a conditional ADD, so
 * concurrent creates can never pass the cap; a failed create gives it back. A crash between the two steps can
 * only leave the count too high by one (a lost slot), never let a tenant past its cap.
 */
export class SubscriptionSlots {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Subscriptions one tenant may have; without it slots are counted but not capped. */
    private readonly maxPerTenant: number | undefined,
  ) {}

  /** Takes one of the tenant's subscription slots, or refuses with 422 when the cap is reached. */
  async reserve(tenantId: string): Promise<void> {
    const max = this.maxPerTenant;
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
  async release(tenantId: string): Promise<void> {
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
}
