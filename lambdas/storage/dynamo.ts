import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { retryPartial } from '../platform/retry.js';

type WriteRequest = NonNullable<
  NonNullable<ConstructorParameters<typeof BatchWriteCommand>[0]['RequestItems']>[string]
>[number];

const BATCH_WRITE_LIMIT = 25;
const BATCH_GET_LIMIT = 100;
/** Six calls in all, 50 ms before the second and doubling: about 1.5 s of waiting at most. */
const BACKOFF = { rounds: 6, baseDelayMs: 50 };

/**
 * Writes every request with BatchWriteItem, re-sending UnprocessedItems (throttling leaves some behind) with
 * exponential backoff. Throws if any are still unprocessed, so callers never believe a partial write worked.
 */
export async function batchWriteAll(
  db: DynamoDBDocumentClient,
  tableName: string,
  requests: readonly WriteRequest[],
): Promise<void> {
  for (let start = 0; start < requests.length; start += BATCH_WRITE_LIMIT) {
    await retryPartial(
      requests.slice(start, start + BATCH_WRITE_LIMIT),
      async (pending) => {
        const result = await db.send(new BatchWriteCommand({ RequestItems: { [tableName]: [...pending] } }));
        return result.UnprocessedItems?.[tableName] as WriteRequest[] | undefined;
      },
      {
        ...BACKOFF,
        giveUp: (left) => new Error(`BatchWriteItem left ${left.length} items unprocessed`),
      },
    );
  }
}

/**
 * Reads every key with BatchGetItem, re-reading UnprocessedKeys with exponential backoff. Returns the items
 * found, in no particular order; throws if any key is still unread, so a missing item always means absent.
 */
export async function batchGetAll(
  db: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Record<string, unknown>[],
  options: { consistent: boolean },
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for (let start = 0; start < keys.length; start += BATCH_GET_LIMIT) {
    await retryPartial(
      keys.slice(start, start + BATCH_GET_LIMIT),
      async (pending) => {
        const result: BatchGetCommandOutput = await db.send(
          new BatchGetCommand({
            RequestItems: { [tableName]: { Keys: [...pending], ConsistentRead: options.consistent } },
          }),
        );
        items.push(...(result.Responses?.[tableName] ?? []));
        return result.UnprocessedKeys?.[tableName]?.Keys;
      },
      { ...BACKOFF, giveUp: (left) => new Error(`BatchGetItem left ${left.length} keys unread`) },
    );
  }
  return items;
}

export function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}
