import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { AcceptedEvent } from './bus-events.js';
import type { DeliveryMessage } from './delivery-message.js';
import type { EventClaims } from './event-claims.js';
import { candidateFilters } from './event-types.js';
import type { SubscriptionStore } from './subscriptions.js';

export interface FanoutDependencies {
  sqs: SQSClient;
  subscriptions: SubscriptionStore;
  claims: EventClaims;
  deliveryQueueUrl: string;
}

export type FanoutResult = { outcome: 'fanned_out'; deliveries: number } | { outcome: 'duplicate' };

const SQS_BATCH_LIMIT = 10;
const BATCHES_IN_FLIGHT = 8;
const SEND_ROUNDS = 4;

/**
 * Turns one accepted event into one delivery message per matching active subscription. Throws if any
 * message could not be queued, so SQS redelivers the event and the retry re-sends with the same ids.
 */
export async function fanOutEvent(deps: FanoutDependencies, event: AcceptedEvent): Promise<FanoutResult> {
  if (!(await deps.claims.claim(event))) return { outcome: 'duplicate' };
  let deliveries = 0;
  const { tenantId } = event;
  const webhookEvent = { id: event.id, type: event.type, timestamp: event.timestamp, data: event.data };
  for (const filter of candidateFilters(event.type)) {
    for await (const subscriptionIds of deps.subscriptions.routedSubscriptionIds(tenantId, filter)) {
      const messages = subscriptionIds.map(
        (subscriptionId): DeliveryMessage => ({ v: 1, tenantId, subscriptionId, event: webhookEvent }),
      );
      await sendAll(deps.sqs, deps.deliveryQueueUrl, messages);
      deliveries += messages.length;
    }
  }
  await deps.claims.markFannedOut(event, deliveries);
  return { outcome: 'fanned_out', deliveries };
}

async function sendAll(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly DeliveryMessage[],
): Promise<void> {
  const batches: SendMessageBatchRequestEntry[][] = [];
  for (let start = 0; start < messages.length; start += SQS_BATCH_LIMIT) {
    batches.push(
      messages.slice(start, start + SQS_BATCH_LIMIT).map((message, index) => ({
        Id: String(index),
        MessageBody: JSON.stringify(message),
      })),
    );
  }
  for (let start = 0; start < batches.length; start += BATCHES_IN_FLIGHT) {
    // Settle every batch before failing, so no send is still in flight when the handler returns.
    const results = await Promise.allSettled(
      batches.slice(start, start + BATCHES_IN_FLIGHT).map((batch) => sendBatch(sqs, queueUrl, batch)),
    );
    const failure = results.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  }
}

/** SendMessageBatch can succeed as a call while single entries fail: re-send just those, then give up loudly. */
async function sendBatch(
  sqs: SQSClient,
  queueUrl: string,
  entries: SendMessageBatchRequestEntry[],
): Promise<void> {
  let pending = entries;
  for (let round = 1; ; round++) {
    const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending }));
    const failed = new Set((result.Failed ?? []).map((failure) => failure.Id));
    if (failed.size === 0) return;
    if (round === SEND_ROUNDS) {
      const reasons = (result.Failed ?? []).map((failure) => failure.Code).join(', ');
      throw new Error(`SendMessageBatch failed for ${failed.size} delivery messages (${reasons})`);
    }
    pending = pending.filter((entry) => failed.has(entry.Id));
    await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** round));
  }
}
