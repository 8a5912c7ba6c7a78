import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ATTEMPTS_BY_EVENT_INDEX, type AttemptLogMode } from '../contract/tables.js';
import { newUlid } from '../platform/ids.js';
import { batchWriteAll } from './dynamo.js';
import { eventKey, subscriptionKey } from './keys.js';

/**
 * The attempt log: one item per recorded delivery attempt, kept `retentionDays` (TTL).
 *   { pk: "<tenantId>#<subscriptionId>", sk: "<attempt id>", eventKey: "<tenantId>#<eventId>", ...record }
 * Attempt ids are ULIDs, so the sort key orders a subscription's attempts by time, and the byEvent index
 * (eventKey, sk) does the same for one event's. Both keys start with the tenant, so no query can reach
 * another tenant's attempts.
 * What is recorded is a setting (ATTEMPT_LOG_MODES). (The table also holds rate-limited subscriptions'
 * attempt counters, "rate#...", keyed apart from every record: delivery/rate-limit.ts.)
 */
/** How much of a receiver's response body is kept. */
export const RESPONSE_BODY_LIMIT_BYTES = 1024;
export const ATTEMPT_ID_PATTERN = /^att_[0-9A-Z]{26}$/;

export interface AttemptRecord {
  id: string;
  eventId: string;
  subscriptionId: string;
  /** 1 for the first attempt of a delivery (or of a replay), counting up with each retry. */
  attempt: number;
  attemptedAt: string;
  result: 'delivered' | 'failed';
  statusCode?: number;
  errorClass?: 'timeout' | 'connection_error' | 'dns_error' | 'blocked_address';
  latencyMs: number;
  /** The first RESPONSE_BODY_LIMIT_BYTES of the response body, as text. */
  responseBody?: string;
  /** When the next attempt is due; absent after a success or the last attempt. */
  nextAttemptAt?: string;
  /** True when the delivery came from a replay. */
  replay?: boolean;
}

/** Where a page of attempts ended: enough to rebuild the query position within the caller's tenant. */
export interface AttemptCursor {
  id: string;
  subscriptionId: string;
}

export interface AttemptPage {
  items: AttemptRecord[];
  /** The last item returned, when more may follow. */
  last?: AttemptCursor;
}

export function newAttemptId(at: Date = new Date()): string {
  return `att_${newUlid(at.getTime())}`;
}

export class AttemptLog {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** What recordAll() writes; readers leave it out. */
    private readonly options: { mode: AttemptLogMode; retentionDays: number } = {
      mode: 'off',
      retentionDays: 0,
    },
  ) {}

  /** Whether an attempt with this result is recorded under the configured mode. */
  records(result: AttemptRecord['result'], attempt: number): boolean {
    switch (this.options.mode) {
      case 'all':
        return true;
      case 'failures':
        return result === 'failed' || attempt > 1;
      case 'off':
        return false;
    }
  }

  /**
   * Writes those of several records (one SQS batch's) that the mode asks for, 25 to a BatchWriteItem call:
   * the same write units as one by one, in a tenth of the calls.
   */
  async recordAll(entries: readonly { tenantId: string; record: AttemptRecord }[]): Promise<void> {
    const kept = entries.filter(({ record }) => this.records(record.result, record.attempt));
    await batchWriteAll(
      this.db,
      this.tableName,
      kept.map(({ tenantId, record }) => ({ PutRequest: { Item: this.item(tenantId, record) } })),
    );
  }

  private item(tenantId: string, record: AttemptRecord): Record<string, unknown> {
    return {
      ...record,
      pk: subscriptionKey(tenantId, record.subscriptionId),
      sk: record.id,
      eventKey: eventKey(tenantId, record.eventId),
      expiresAt: Math.floor(Date.parse(record.attemptedAt) / 1000) + this.options.retentionDays * 86_400,
    };
  }

  /** A subscription's attempts, newest first. */
  listBySubscription(
    tenantId: string,
    subscriptionId: string,
    options: { limit: number; after?: AttemptCursor | undefined },
    now: Date = new Date(),
  ): Promise<AttemptPage> {
    return this.query(
      tenantId,
      { keyName: 'pk', key: subscriptionKey(tenantId, subscriptionId) },
      options,
      now,
    );
  }

  /** An event's attempts across its subscriptions, newest first. */
  listByEvent(
    tenantId: string,
    eventId: string,
    options: { limit: number; after?: AttemptCursor | undefined },
    now: Date = new Date(),
  ): Promise<AttemptPage> {
    return this.query(
      tenantId,
      { keyName: 'eventKey', key: eventKey(tenantId, eventId), indexName: ATTEMPTS_BY_EVENT_INDEX },
      options,
      now,
    );
  }

  /** Whether any recorded attempt delivered this event to this subscription. */
  async hasDelivered(tenantId: string, eventId: string, subscriptionId: string): Promise<boolean> {
    let start: Record<string, unknown> | undefined;
    do {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: ATTEMPTS_BY_EVENT_INDEX,
          KeyConditionExpression: 'eventKey = :key',
          FilterExpression: 'subscriptionId = :subscription AND #result = :delivered',
          ExpressionAttributeNames: { '#result': 'result' },
          ExpressionAttributeValues: {
            ':key': eventKey(tenantId, eventId),
            ':subscription': subscriptionId,
            ':delivered': 'delivered',
          },
          ProjectionExpression: 'sk',
          ExclusiveStartKey: start,
        }),
      );
      if ((result.Items ?? []).length > 0) return true;
      start = result.LastEvaluatedKey;
    } while (start);
    return false;
  }

  private async query(
    tenantId: string,
    key: { keyName: 'pk' | 'eventKey'; key: string; indexName?: string },
    options: { limit: number; after?: AttemptCursor | undefined },
    now: Date,
  ): Promise<AttemptPage> {
    const items: AttemptRecord[] = [];
    // The cursor's ids are combined with the caller's tenant here, never taken as a key on their own.
    let start: Record<string, unknown> | undefined = options.after
      ? {
          [key.keyName]: key.key,
          sk: options.after.id,
          pk: subscriptionKey(tenantId, options.after.subscriptionId),
        }
      : undefined;
    // Expired items may linger until DynamoDB deletes them, so they are filtered out here and the page is
    // topped up until it is full or the key has no more items.
    do {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          ...(key.indexName ? { IndexName: key.indexName } : {}),
          KeyConditionExpression: '#key = :key',
          FilterExpression: 'expiresAt > :now',
          ExpressionAttributeNames: { '#key': key.keyName },
          ExpressionAttributeValues: { ':key': key.key, ':now': Math.floor(now.getTime() / 1000) },
          ScanIndexForward: false,
          Limit: options.limit - items.length,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of result.Items ?? []) items.push(toRecord(item));
      start = result.LastEvaluatedKey;
    } while (start && items.length < options.limit);
    const last = items.at(-1);
    return start && last ? { items, last: { id: last.id, subscriptionId: last.subscriptionId } } : { items };
  }
}

function toRecord(item: Record<string, unknown>): AttemptRecord {
  const { pk, sk, eventKey: _eventKey, expiresAt, ...record } = item;
  return record as unknown as AttemptRecord;
}
