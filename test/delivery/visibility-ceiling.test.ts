import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeleteMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_VISIBILITY_SECONDS,
  VISIBILITY_CEILING_MARGIN_SECONDS,
} from '../../lambdas/contract/retry-schedule.js';
import { AttemptLog } from '../../lambdas/storage/attempts.js';
import { queueDepth } from '../../local/emulators/queue-metrics.js';
import { publishEvent } from '../support/events.js';
import { startTestService } from '../support/service.js';
import { createSubscription } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

/**
 * SQS keeps a received message invisible at most 12 hours from its receive, so the retry after a long
 * Retry-After must ask for what is left of them. The suite's SQS engine refuses more, as SQS does.
 */
describe('Function: deliver, the 12-hour visibility ceiling', () => {
  let service: Service;
  let server: ReturnType<typeof createServer>;
  let url: string;
  const changes: { timeout: number; receiptHandle: string; error?: string }[] = [];

  beforeAll(async () => {
    // Steps of 10 h, no jitter: a 503 naming a day is clamped to 2 × 10 h, then to SQS's 12 h.
    service = await startTestService({ retryScheduleSeconds: [0, 36_000, 36_000], random: () => 0.5 });
    server = createServer((request, response) => {
      request.resume();
      response.writeHead(503, { 'retry-after': '86400' }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    service.clients.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'ChangeMessageVisibilityCommand') return next(args);
        const input = args.input as { VisibilityTimeout: number; ReceiptHandle: string };
        const change: (typeof changes)[number] = {
          timeout: input.VisibilityTimeout,
          receiptHandle: input.ReceiptHandle,
        };
        changes.push(change);
        try {
          return await next(args);
        } catch (error) {
          change.error = (error as Error).message;
          throw error;
        }
      },
      { step: 'initialize' },
    );
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await service.close();
  });

  it('after a huge Retry-After asks for what is left of 12 hours since the receive, which SQS accepts', async () => {
    const { apiKey, tenantId } = await service.createTenant('ceiling');
    const { id: subscriptionId } = await createSubscription(service.api, apiKey, { url });
    await publishEvent(service.api, apiKey);
    await service.pollFanout();

    expect(await service.pollDelivery()).toMatchObject({ received: 1, failed: 1 });
    const [change] = changes;
    expect(change?.error).toBeUndefined();
    // The cap less a few seconds at most: the attempt took milliseconds.
    const cap = MAX_VISIBILITY_SECONDS - VISIBILITY_CEILING_MARGIN_SECONDS;
    expect(change?.timeout).toBeLessThanOrEqual(cap);
    expect(change?.timeout).toBeGreaterThanOrEqual(cap - 5);
    // SQS keeps the message for its retry then, and the attempt log says when that is.
    expect(await queueDepth(service.clients.sqs, service.resources.queues.delivery.url)).toEqual({
      visible: 0,
      inFlight: 1,
    });
    const log = new AttemptLog(service.clients.db, service.resources.tables.attempts);
    const [attempt] = (await log.listBySubscription(tenantId, subscriptionId, { limit: 1 })).items;
    expect(Date.parse(attempt?.nextAttemptAt ?? '') - Date.parse(attempt?.attemptedAt ?? '')).toBe(
      (change?.timeout ?? 0) * 1000,
    );

    await service.clients.sqs.send(
      new DeleteMessageCommand({
        QueueUrl: service.resources.queues.delivery.url,
        ReceiptHandle: change?.receiptHandle,
      }),
    );
  });
});
