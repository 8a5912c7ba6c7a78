import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchWriteAll } from '../lambdas/storage/dynamo.js';
import { type NewSubscription, newSubscription, storedItems } from '../lambdas/storage/subscriptions.js';

const ITEMS_PER_WRITER_TURN = 250;
const WRITERS = 16;

/**
 * Loads many subscriptions at once for benchmarks and large-fan-out tests: the items SubscriptionStore.create
 * writes, sent with BatchWriteItem from several writers, so 10,000 take seconds instead of 30,000 single
 * writes. It bypasses the per-tenant subscription count, so it is not part of the API. Returns the new ids.
 */
export async function seedSubscriptions(
  db: DynamoDBDocumentClient,
  tableName: string,
  tenantId: string,
  inputs: readonly NewSubscription[],
): Promise<string[]> {
  const subscriptions = inputs.map((input) => newSubscription(tenantId, input));
  const puts = subscriptions.flatMap(storedItems).map((Item) => ({ PutRequest: { Item } }));
  const turns: (typeof puts)[] = [];
  for (let start = 0; start < puts.length; start += ITEMS_PER_WRITER_TURN) {
    turns.push(puts.slice(start, start + ITEMS_PER_WRITER_TURN));
  }
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      for (let turn = turns.pop(); turn; turn = turns.pop()) await batchWriteAll(db, tableName, turn);
    }),
  );
  return subscriptions.map((subscription) => subscription.id);
}
