import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { AcceptedEvent, WebhookEvent } from '../contract/bus-events.js';
import { EVENTS_BY_TIME_INDEX } from '../contract/tables.js';
import { isConditionalCheckFailed } from './dynamo.js';
import { eventKey } from './keys.js';

/**
 * Every accepted event is stored once, here, for its retention period: delivery messages carry only its key
 * (claim-check), and replay reads it back. The same item is the idempotency claim for publishing: the first
 * bus event that carries a tenant's event id claims it, and a later publish of the same id (a different
 * EventBridge id) is a duplicate that fans out to no one. A copy of the *same* bus event (an SQS redelivery
 * after a crash) may claim again until markFannedOut records that its first page and continuation are
 * queued, so an interrupted fan-out is redone.
 *
 * Item: { pk: "<tenantId>#<eventId>", tenantId, eventId, busEventId, type, timestamp, data (JSON), receivedAt,
 *         expiresAt (TTL), fannedOutAt?, firstPageDeliveries? }. Each event is its own partition, so payload
 * writes never concentrate on one tenant's partition; the byTime index (tenantId, timestamp) lists a
 * tenant's events since a time. Tenant ids and event ids contain no "#", so keys cannot collide.
 */
export interface StoredEvent extends WebhookEvent {
  tenantId: string;
}

export interface EventPage {
  events: { id: string; type: string; timestamp: string }[];
  /** Where the next page starts; absent on the last page. */
  next?: Record<string, unknown>;
}

export class EventStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** How long claimed events are kept; only the fan-out step, which claims, needs it. */
    private readonly retentionDays?: number,
  ) {}

  /** Stores the event and claims its id; true when this bus event should be fanned out now. */
  async claim(event: AcceptedEvent, now: Date = new Date()): Promise<boolean> {
    if (this.retentionDays === undefined) throw new Error('claiming events needs a retention period');
    const nowSeconds = Math.floor(now.getTime() / 1000);
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: eventKey(event.tenantId, event.id),
            tenantId: event.tenantId,
            eventId: event.id,
            busEventId: event.busEventId,
            type: event.type,
            timestamp: event.timestamp,
            // As JSON text, so the stored payload is exactly the published one: the DynamoDB marshaller
            // would read an own "constructor" key as the value's class and corrupt or refuse the map.
            data: JSON.stringify(event.data),
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

  /** Records that the event's first page and its continuation (if any) are queued. */
  async markFannedOut(
    event: Pick<AcceptedEvent, 'tenantId' | 'id'>,
    firstPageDeliveries: number,
  ): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: eventKey(event.tenantId, event.id) },
        UpdateExpression: 'SET fannedOutAt = :at, firstPageDeliveries = :deliveries',
        ExpressionAttributeValues: { ':at': new Date().toISOString(), ':deliveries': firstPageDeliveries },
      }),
    );
  }

  /**
   * The stored event, or undefined when it never existed or has expired. Reads eventually consistent first
   * (half the cost) and consistently only when that misses, since fan-out writes the event just before
   * the deliveries that read it.
   */
  async get(tenantId: string, eventId: string, now: Date = new Date()): Promise<StoredEvent | undefined> {
    for (const consistent of [false, true]) {
      const { Item } = await this.db.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { pk: eventKey(tenantId, eventId) },
          ConsistentRead: consistent,
        }),
      );
      if (Item) {
        if (Number(Item.expiresAt) * 1000 <= now.getTime()) return undefined;
        return {
          tenantId,
          id: eventId,
          type: String(Item.type),
          timestamp: String(Item.timestamp),
          data: JSON.parse(String(Item.data)) as Record<string, unknown>,
        };
      }
    }
    return undefined;
  }

  /**
   * A tenant's events from `since` on, oldest first, one page at a time. EventBridge stamps events to the
   * second, so an event published just after `since` can carry a timestamp just before it: the bound is
   * rounded down to the second, which may include events up to a second early but never misses one.
   */
  async listSince(
    tenantId: string,
    since: Date,
    options: { limit: number; start?: Record<string, unknown> | undefined },
  ): Promise<EventPage> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: EVENTS_BY_TIME_INDEX,
        KeyConditionExpression: 'tenantId = :tenant AND #timestamp >= :since',
        ExpressionAttributeNames: { '#timestamp': 'timestamp' },
        ExpressionAttributeValues: {
          ':tenant': tenantId,
          ':since': new Date(Math.floor(since.getTime() / 1000) * 1000).toISOString(),
        },
        Limit: options.limit,
        ...(options.start ? { ExclusiveStartKey: options.start } : {}),
      }),
    );
    return {
      events: (result.Items ?? []).map((item) => ({
        id: String(item.eventId),
        type: String(item.type),
        timestamp: String(item.timestamp),
      })),
      ...(result.LastEvaluatedKey ? { next: result.LastEvaluatedKey } : {}),
    };
  }
}
