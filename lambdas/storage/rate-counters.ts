import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';

/** Counters outlive their window by this much, then DynamoDB's TTL removes them. */
const COUNTER_LIFETIME_SECONDS = 60;

/**
 * Fixed one-second windows counted in DynamoDB, shared by every Lambda instance: one item per counter and
 * epoch second, `{ ...key, count, expiresAt }`. One UpdateItem (ADD, 1 write unit) counts a take and returns
 * the new count atomically, so concurrent takers, whichever instance they run on, see the counts 1, 2, 3…
 * once each, and a caller admits those within its limit. Refused takes are counted too, so the count also
 * tells how far over the limit the window is. Nothing reads a past window, so correctness never depends on expiry:
 * where nothing expires (dynalite) old items are only left over.
 */
export class RateCounters {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Counts one take in the window of `epochSecond`, whose item is `key`; the window's count, this one included. */
  async take(key: Record<string, string>, epochSecond: number): Promise<number> {
    const { Attributes } = await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'ADD #count :one SET expiresAt = :expiresAt',
        ExpressionAttributeNames: { '#count': 'count' },
        ExpressionAttributeValues: { ':one': 1, ':expiresAt': epochSecond + COUNTER_LIFETIME_SECONDS },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(Attributes?.count);
  }
}
