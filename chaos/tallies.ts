import type {
  SendMessageBatchCommandInput,
  SendMessageBatchCommandOutput,
  SendMessageCommandInput,
} from '@aws-sdk/client-sqs';
import type { QueueHandler } from '../lambdas/contract/handlers.js';
import type { LocalService, QueueFunctionName } from '../local/service.js';
import { pairKey, pairKeyOf, pairOf, type Queued } from './checks.js';
import { InjectedCrash } from './faults.js';

// What the chaos scenario counts while it runs, for the checks to judge afterwards.

/**
 * The (subscription, event) pairs fan-out put on the delivery queue, and when each event's last one was put:
 * the entries SendMessageBatch accepted, as the caller saw the answer (outside the fault middleware).
 */
export function recordQueued(service: LocalService, queued: Queued) {
  const deliveryUrl = service.resources.queues.delivery.url;
  service.clients.sqs.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const input = args.input as SendMessageBatchCommandInput;
      if (context.commandName !== 'SendMessageBatchCommand' || input.QueueUrl !== deliveryUrl) return result;
      const accepted = new Set(
        ((result.output as SendMessageBatchCommandOutput).Successful ?? []).map((entry) => entry.Id),
      );
      for (const entry of input.Entries ?? []) {
        const pair = accepted.has(entry.Id) ? pairOf(entry.MessageBody ?? '') : undefined;
        if (!pair) continue;
        queued.pairs.add(pairKey(pair.subscriptionId, pair.eventId));
        queued.lastAt.set(pair.eventId, performance.now());
      }
      return result;
    },
    { step: 'initialize', priority: 'high', name: 'chaosQueuedDeliveries' },
  );
}

export function countFailedBatches(
  name: QueueFunctionName,
  handler: QueueHandler,
  failedBatches: Record<QueueFunctionName, number>,
): QueueHandler {
  return async (event, context) => {
    try {
      return await handler(event, context);
    } catch (error) {
      if (!(error instanceof InjectedCrash)) failedBatches[name]++;
      throw error;
    }
  };
}

/**
 * Deliveries the deliver handler finished without a failure, per (subscription, event): the event source
 * mapping deletes those messages. For the gone subscription these are the messages it dropped (the 410 and
 * the skips once disabled); a crashed invocation finishes nothing.
 */
export function countCompletions(handler: QueueHandler, completions: Map<string, number>): QueueHandler {
  return async (event, context) => {
    const response = await handler(event, context);
    const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
    for (const record of event.Records) {
      if (failed.has(record.messageId)) continue;
      const key = pairKeyOf(record.body);
      if (key) completions.set(key, (completions.get(key) ?? 0) + 1);
    }
    return response;
  };
}

/**
 * Receives per (subscription, event): every record handed to the deliver function, crashed batches included,
 * since each one counts in the message's ApproximateReceiveCount.
 */
export function countReceives(handler: QueueHandler, receives: Map<string, number>): QueueHandler {
  return async (event, context) => {
    for (const record of event.Records) {
      const key = pairKeyOf(record.body);
      if (key) receives.set(key, (receives.get(key) ?? 0) + 1);
    }
    return await handler(event, context);
  };
}

/**
 * Waiting copies per (subscription, event): deliver's single SendMessage to the delivery queue, in place of a
 * receive that made no attempt (fan-out only sends batches).
 */
export function recordWaitingCopies(service: LocalService, waits: Map<string, number>) {
  const deliveryUrl = service.resources.queues.delivery.url;
  service.clients.sqs.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const input = args.input as SendMessageCommandInput;
      if (context.commandName !== 'SendMessageCommand' || input.QueueUrl !== deliveryUrl) return result;
      const key = pairKeyOf(input.MessageBody ?? '');
      if (key) waits.set(key, (waits.get(key) ?? 0) + 1);
      return result;
    },
    { step: 'initialize', priority: 'high', name: 'chaosWaitingCopies' },
  );
}
