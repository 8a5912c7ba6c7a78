import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AcceptedEvent } from './bus-events.js';
import { isConditionalCheckFailed } from './dynamo.js';

/**
 * Idempotency for publishing: the first bus event that carries a tenant's event id claims it, and a later
 * publish of the same id (a different EventBridge id) is a duplicate that fans out to no one. A copy of the
 * *same* bus event (an SQS redelivery after a crash) may claim again until its fan-out is marked complete,
 * so a fan-out interrupted half-way is finished by the retry, with the same delivery ids.
 *
 * Item: { pk: tenantId, sk: eventId, busEventId, type, receivedAt, expiresAt (TTL), fannedOutAt? }
 */
export class EventClaims {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionDays: number,
  ) {}

  /** True when this bus event should be fanned out now. */
  async claim(event: AcceptedEvent, now: Date = new Date()): Promise<boolean> {
    const nowSeconds = Math.floor(now.getTime() / 1000);
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: event.tenantId,
            sk: event.id,
            busEventId: event.busEventId,
            type: event.type,
            receivedAt: now.toISOString(),
            expiresAt: nowSeconds + this.retentionDays * 86_400,
          },
          // DynamoDB deletes expired items lazily, so an expired claim counts as absent.
          ConditionExpression:
            'attribute_not_exists(pk) OR expiresAt < :now OR (busEventId = :busEventId AND attribute_not_exists(fannedOutAt))',
          ExpressionAttributeValues: { ':now': nowSeconds, ':busEventId': event.busEventId },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async markFannedOut(event: AcceptedEvent, deliveries: number): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: event.tenantId, sk: event.id },
        UpdateExpression: 'SET fannedOutAt = :at, deliveries = :deliveries',
        ExpressionAttributeValues: { ':at': new Date().toISOString(), ':deliveries': deliveries },
      }),
    );
  }
}
