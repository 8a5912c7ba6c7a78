import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DeliveryMessage } from '../../lambdas/contract/delivery-message.js';
import { parseFanoutJob } from '../../lambdas/fanout/jobs.js';
import { fanoutFunction } from '../../lambdas/wiring.js';
import { pollOnce } from '../../local/emulators/event-source.js';
import { peekAll } from '../../local/emulators/queue-metrics.js';
import { seedSubscriptions } from '../../local/seed.js';
import { publishEvent } from '../support/events.js';
import { startTestService } from '../support/service.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

const PAGE_SIZE = 2_000;

/** Subscriptions per event-type filter, loaded in bulk. */
function seed(service: Service, tenantId: string, plan: Record<string, number>): Promise<string[]> {
  const inputs = Object.entries(plan).flatMap(([eventType, count]) =>
    Array.from({ length: count }, (_, i) => ({
      url: `https://hooks.example.com/${i}`,
      eventTypes: [eventType],
    })),
  );
  return seedSubscriptions(service.clients.db, service.config.subscriptionsTable, tenantId, inputs);
}

/** Receives and deletes everything on a queue with several receivers at once; peekAll is too slow for 10,000. */
async function drain(sqs: SQSClient, queueUrl: string): Promise<DeliveryMessage[]> {
  const messages: DeliveryMessage[] = [];
  await Promise.all(
    Array.from({ length: 12 }, async () => {
      for (;;) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60 }),
        );
        if (Messages.length === 0) return;
        for (const message of Messages) messages.push(JSON.parse(message.Body ?? '') as DeliveryMessage);
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: Messages.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle,
            })),
          }),
        );
      }
    }),
  );
  return messages;
}

describe('Function: fan-out of one event to 10,000 subscriptions', () => {
  let service: Service;
  let flakySqs: SQSClient;
  /** Counts down the SendMessageBatch calls of the flaky client; the one that reaches zero fails. */
  let batchesUntilFailure = Number.POSITIVE_INFINITY;

  beforeAll(async () => {
    service = await startTestService({ fanoutPageSize: PAGE_SIZE });
    // A real SQS client that fails one SendMessageBatch call when told to, as a crash mid-page would.
    flakySqs = new SQSClient({
      endpoint: inject('sqsEndpoint'),
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    flakySqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'SendMessageBatchCommand' && --batchesUntilFailure === 0) {
          throw new Error('injected failure');
        }
        return next(args);
      },
      { step: 'initialize' },
    );
  });
  afterAll(async () => {
    flakySqs.destroy();
    await service.close();
  });

  it('sends one delivery to each, in bounded pages; a retried page re-sends only itself', async () => {
    const tenant = await service.createTenant('big');
    // Several route keys, so pages cross from one key's query to the next.
    const subscribers = await seed(service, tenant.tenantId, {
      '*': 4_000,
      'order.*': 3_500,
      'order.created': 2_500,
    });
    const bystanders = await seed(service, tenant.tenantId, {
      'user.*': 20,
      'order.created.v2': 20,
    });
    const otherTenant = await service.createTenant('other');
    await seed(service, otherTenant.tenantId, { '*': 20 });
    expect(subscribers).toHaveLength(10_000);

    const eventId = await publishEvent(service.api, tenant.apiKey, {
      type: 'order.created',
      data: { orderId: 1 },
    });

    const fanoutQueue = service.resources.queues.fanout;
    const deliveryQueueUrl = service.resources.queues.delivery.url;
    const handler = fanoutFunction(service.config, service.clients);
    const flakyHandler = fanoutFunction(service.config, { db: service.clients.db, sqs: flakySqs });
    const CRASHING_PAGE = 3;
    const pages: DeliveryMessage[][] = [];
    let crash: { partial: DeliveryMessage[]; continuationsQueued: number } | undefined;

    // Each poll takes the one message on the fan-out queue (the bus event, then each continuation), as the
    // event source mapping would. The third page first crashes part-way and is then run again, as SQS
    // redelivers a record whose invocation failed.
    for (let page = 1; ; page++) {
      const result = await pollOnce(
        service.clients.sqs,
        async (event: SQSEvent) => {
          if (page === CRASHING_PAGE) {
            expect(parseFanoutJob(JSON.parse(event.Records[0]?.body ?? ''))).toMatchObject({
              job: 'event',
              eventId,
              replay: false,
            });
            // Let some batches through first, so the page is interrupted part-way.
            batchesUntilFailure = 25;
            await expect(flakyHandler(event)).rejects.toThrow(/All records failed/);
            crash = {
              partial: await drain(service.clients.sqs, deliveryQueueUrl),
              continuationsQueued: (await peekAll(service.clients.sqs, fanoutQueue.url, 1)).length,
            };
          }
          return handler(event);
        },
        { functionName: 'fanout', queueUrl: fanoutQueue.url, queueArn: fanoutQueue.arn, batchSize: 10 },
      );
      if (result.received === 0) break;
      expect(result.handlerError).toBeUndefined();
      expect(result).toMatchObject({ received: 1, succeeded: 1 });
      pages.push(await drain(service.clients.sqs, deliveryQueueUrl));
    }

    // Five full pages, whose continuations' query positions leave no gap and no overlap. The fifth stopped at
    // its limit with the last route key read to the end, which DynamoDB cannot tell yet, so a sixth page
    // finds nothing left.
    expect(pages.map((page) => page.length)).toEqual([
      PAGE_SIZE,
      PAGE_SIZE,
      PAGE_SIZE,
      PAGE_SIZE,
      PAGE_SIZE,
      0,
    ]);
    const all = pages.flat();
    expect(all).toHaveLength(10_000);
    const ids = new Set(all.map((message) => message.subscriptionId));
    expect(ids.size).toBe(10_000);
    expect(ids).toEqual(new Set(subscribers));
    for (const bystander of bystanders) expect(ids.has(bystander)).toBe(false);
    for (const message of all) {
      expect(message).toEqual({
        v: 2,
        tenantId: tenant.tenantId,
        subscriptionId: message.subscriptionId,
        eventId,
        event: { type: 'order.created', timestamp: expect.any(String), data: { orderId: 1 } },
      });
    }

    // The crashed try of page 3 sent part of page 3 and no continuation; its retry sent page 3 whole, and
    // nothing from the pages before it.
    if (!crash) throw new Error('page 3 did not run');
    expect(crash.continuationsQueued).toBe(0);
    expect(crash.partial.length).toBeGreaterThan(0);
    expect(crash.partial.length).toBeLessThan(PAGE_SIZE);
    const retriedPage = new Set(pages[CRASHING_PAGE - 1]?.map((message) => message.subscriptionId));
    for (const message of crash.partial) expect(retriedPage.has(message.subscriptionId)).toBe(true);
  });
});
