import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { OPERATIONS_SOURCE } from '../../lambdas/delivery/operational-events.js';
import { AttemptLog } from '../../lambdas/storage/attempts.js';
import { peekAll } from '../../local/emulators/queue-metrics.js';
import { waitFor } from '../../local/wait.js';
import { publishEvent } from '../support/events.js';
import { bearer, startTestService } from '../support/service.js';
import { createSubscription } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
type Reply = (request: IncomingMessage, response: ServerResponse) => void;

/** A receiver whose answer each test scripts: status, headers, body, or no answer at all. */
async function startEndpoint() {
  let reply: Reply = (_request, response) => response.writeHead(204).end();
  let requests = 0;
  const server = createServer((request, response) => {
    requests++;
    request.resume();
    reply(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests: () => requests,
    replyWith(next: Reply) {
      reply = next;
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const answer =
  (status: number, headers: Record<string, string> = {}, body = ''): Reply =>
  (_request, response) =>
    response.writeHead(status, headers).end(body);

describe('Function: deliver, response handling', () => {
  // Four attempts; steps of 10 s, 200 s, 400 s without jitter, so every clamp and minimum shows exactly.
  // No test waits for a step: it reads the visibility timeout deliver set, then fast-forwards or discards.
  const schedule = [0, 10, 200, 400];
  let service: Service;
  let apiKey: string;
  let tenantId: string;
  let attempts: AttemptLog;
  let endpoint: Awaited<ReturnType<typeof startEndpoint>>;
  /** The test's own SQS calls go through this client, so the capture below sees only deliver's. */
  let testSqs: SQSClient;
  const visibilityChanges: { timeout: number; receiptHandle: string }[] = [];

  beforeAll(async () => {
    service = await startTestService({
      retryScheduleSeconds: schedule,
      random: () => 0.5,
      attemptTimeoutMs: 500,
    });
    ({ apiKey, tenantId } = await service.createTenant('responses'));
    attempts = new AttemptLog(service.clients.db, service.resources.tables.attempts);
    endpoint = await startEndpoint();
    testSqs = new SQSClient({
      endpoint: inject('sqsEndpoint'),
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    service.clients.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ChangeMessageVisibilityCommand') {
          const input = args.input as { VisibilityTimeout: number; ReceiptHandle: string };
          visibilityChanges.push({ timeout: input.VisibilityTimeout, receiptHandle: input.ReceiptHandle });
        }
        return next(args);
      },
      { step: 'initialize' },
    );
  });
  afterAll(async () => {
    await endpoint.close();
    testSqs.destroy();
    await service.close();
  });
  const created: string[] = [];
  beforeEach(async () => {
    // Each test starts alone: earlier subscriptions gone, and messages left waiting for a retry discarded
    // so they do not come back in this one.
    for (const id of created.splice(0)) {
      await service.api({ method: 'DELETE', path: `/subscriptions/${id}`, headers: bearer(apiKey) });
    }
    for (const { receiptHandle } of visibilityChanges.splice(0)) {
      await testSqs.send(
        new DeleteMessageCommand({
          QueueUrl: service.resources.queues.delivery.url,
          ReceiptHandle: receiptHandle,
        }),
      );
    }
  });

  const subscribe = async (url = endpoint.url) => {
    const subscription = await createSubscription(service.api, apiKey, { url });
    created.push(subscription.id);
    return subscription;
  };
  const publish = async () => {
    const id = await publishEvent(service.api, apiKey, { type: 'order.created', data: { n: 1 } });
    await service.pollFanout();
    return id;
  };
  const getSubscription = async (id: string) =>
    JSON.parse(
      (await service.api({ method: 'GET', path: `/subscriptions/${id}`, headers: bearer(apiKey) })).body,
    );
  const attemptsOf = async (subscriptionId: string) =>
    (await attempts.listBySubscription(tenantId, subscriptionId, { limit: 50 })).items;

  it('disables the subscription on 410 Gone, reports it, and does not retry', async () => {
    endpoint.replyWith(answer(410, { 'content-type': 'text/plain' }, 'endpoint removed'));
    // A Slack-style hook: the token is in the path and the query, so only the origin may be reported.
    const subscription = await subscribe(`${endpoint.url}/T0001/B0002/s3cr3tPath?token=s3cr3tQuery`);
    const eventId = await publish();

    // The record succeeds, so SQS deletes the message: no retry and nothing for the DLQ.
    expect(await service.pollDelivery()).toMatchObject({ received: 1, succeeded: 1, failed: 0 });
    expect(visibilityChanges).toEqual([]);
    expect(await peekAll(service.clients.sqs, service.resources.queues.delivery.url, 1)).toEqual([]);

    expect(await getSubscription(subscription.id)).toMatchObject({
      status: 'disabled',
      disabledReason: 'endpoint_gone',
    });
    const disabled = service.operationalEvents.filter(
      (event) => (event.detail as { subscriptionId?: string }).subscriptionId === subscription.id,
    );
    expect(disabled).toEqual([
      expect.objectContaining({
        source: OPERATIONS_SOURCE,
        'detail-type': 'webhook.subscription.disabled',
        detail: {
          tenantId,
          subscriptionId: subscription.id,
          endpoint: new URL(endpoint.url).origin,
          reason: 'endpoint_gone',
          eventId,
          at: expect.any(String),
        },
      }),
    ]);
    expect(new URL(endpoint.url).origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(JSON.stringify(disabled)).not.toMatch(/s3cr3t|T0001|\/hook/);
    // The attempt is logged as final: the 410, its body, and no next attempt.
    const [attempt, ...others] = await attemptsOf(subscription.id);
    expect(others).toEqual([]);
    expect(attempt).toMatchObject({
      attempt: 1,
      result: 'failed',
      statusCode: 410,
      responseBody: 'endpoint removed',
    });
    expect(attempt?.nextAttemptAt).toBeUndefined();

    // A disabled subscription has no routes: later events do not even reach the delivery queue.
    const requestsBefore = endpoint.requests();
    await publish();
    expect(await service.pollDelivery()).toMatchObject({ received: 0 });
    expect(endpoint.requests()).toBe(requestsBefore);
  });

  const inOneHour = () => new Date(Date.now() + 3_600_000).toUTCString();
  const anHourAgo = () => new Date(Date.now() - 3_600_000).toUTCString();
  it.each<[number, string, number, () => string]>([
    [503, 'delta-seconds within the clamp', 15, () => '15'],
    [503, 'delta-seconds below the step', 10, () => '1'],
    [503, 'delta-seconds above twice the step', 20, () => '3600'],
    [503, 'an HTTP-date beyond twice the step', 20, inOneHour],
    [503, 'an HTTP-date in the past', 10, anHourAgo],
    [503, 'an unreadable value (counts as none)', 10, () => 'later'],
    // The step's clamp (10–20 s) stays below the throttled minimum, so a 429 waits 60 s whatever it names:
    // Retry-After may slow retries down, never speed them up.
    [429, 'delta-seconds within the clamp', 60, () => '15'],
    [429, 'delta-seconds below the step', 60, () => '1'],
    [429, 'delta-seconds above twice the step', 60, () => '120'],
    [429, 'an HTTP-date beyond twice the step', 60, inOneHour],
    [429, 'an HTTP-date in the past', 60, anHourAgo],
    [429, 'an unreadable value (counts as none)', 60, () => 'later'],
  ])('a %i with Retry-After as %s waits %i s', async (status, _form, expected, retryAfter) => {
    endpoint.replyWith((request, response) =>
      answer(status, { 'retry-after': retryAfter() })(request, response),
    );
    await subscribe();
    await publish();
    expect(await service.pollDelivery()).toMatchObject({ received: 1, failed: 1 });
    expect(visibilityChanges.map((change) => change.timeout)).toEqual([expected]);
  });

  it('honours an HTTP-date within the clamp, counted from the start of the attempt', async () => {
    // 16 s after the whole second in webhook-timestamp: deliver started the attempt within that second, so
    // the wait rounds up to exactly 16 s whatever the time is now.
    endpoint.replyWith((request, response) => {
      const signedAt = Number(request.headers['webhook-timestamp']) * 1000;
      answer(503, { 'retry-after': new Date(signedAt + 16_000).toUTCString() })(request, response);
    });
    await subscribe();
    await publish();
    expect(await service.pollDelivery()).toMatchObject({ received: 1, failed: 1 });
    expect(visibilityChanges.map((change) => change.timeout)).toEqual([16]);
  });

  it.each([
    ['a 429 without Retry-After waits the throttled minimum', answer(429), 60],
    ['a 503 without Retry-After waits the step', answer(503), 10],
    ['a 500 with Retry-After ignores it', answer(500, { 'retry-after': '15' }), 10],
    ['a timeout waits the throttled minimum', () => undefined, 60],
  ] as const)('%s', async (_name, reply, expected) => {
    endpoint.replyWith(reply);
    await subscribe();
    await publish();
    expect(await service.pollDelivery()).toMatchObject({ received: 1, failed: 1 });
    expect(visibilityChanges.map((change) => change.timeout)).toEqual([expected]);
  });

  it('retries timeouts, refused connections and DNS failures, recording each error class', async () => {
    endpoint.replyWith(() => undefined);
    const hung = await subscribe();
    const closed = await startEndpoint();
    await closed.close();
    const refused = await subscribe(closed.url);
    // .invalid never resolves (RFC 6761); without a resolver the lookup fails with EAI_AGAIN, also a DNS error.
    const unresolvable = await subscribe('http://nothing-here.invalid/hook');
    await publish();

    expect(await service.pollDelivery()).toMatchObject({ received: 3, failed: 3 });
    expect(visibilityChanges.map((change) => change.timeout).sort((a, b) => a - b)).toEqual([10, 10, 60]);
    const errorClassOf = async (id: string) => (await attemptsOf(id)).map((attempt) => attempt.errorClass);
    expect(await errorClassOf(hung.id)).toEqual(['timeout']);
    expect(await errorClassOf(refused.id)).toEqual(['connection_error']);
    expect(await errorClassOf(unresolvable.id)).toEqual(['dns_error']);
    for (const attempt of [...(await attemptsOf(refused.id)), ...(await attemptsOf(unresolvable.id))]) {
      expect(attempt).toMatchObject({ result: 'failed', nextAttemptAt: expect.any(String) });
      expect(attempt.statusCode).toBeUndefined();
    }
  });

  it('records a redirect as a failure with its status, without following it', async () => {
    const target = await startEndpoint();
    endpoint.replyWith(answer(307, { location: target.url }));
    const subscription = await subscribe();
    await publish();
    expect(await service.pollDelivery()).toMatchObject({ received: 1, failed: 1 });
    expect(target.requests()).toBe(0);
    expect(await attemptsOf(subscription.id)).toEqual([
      expect.objectContaining({ result: 'failed', statusCode: 307 }),
    ]);
    await target.close();
  });

  it('after the last attempt sets no delay whatever Retry-After says, so the message is dead-lettered', async () => {
    endpoint.replyWith(answer(429, { 'retry-after': '40000' }));
    const subscription = await subscribe();
    const eventId = await publish();
    const requestsBefore = endpoint.requests();

    for (let attempt = 1; attempt <= schedule.length; attempt++) {
      expect(await service.pollDelivery()).toMatchObject({ received: 1, failed: 1 });
      if (attempt === schedule.length) break;
      // Fast-forward SQS: make the retry due now instead of after the delay deliver asked for.
      await testSqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: service.resources.queues.delivery.url,
          ReceiptHandle: visibilityChanges.at(-1)?.receiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    }
    // Each Retry-After clamped to 2× its step (20, 400, 800), the first raised to the throttled minimum of
    // 60 s; after the fourth and last attempt, 0.
    expect(visibilityChanges.map((change) => change.timeout)).toEqual([60, 400, 800, 0]);
    const dlq = await waitFor(
      async () => {
        await service.pollDelivery();
        const messages = await peekAll(
          service.clients.sqs,
          service.resources.queues.delivery.deadLetterUrl,
          1,
        );
        return messages.length > 0 ? messages : undefined;
      },
      { what: 'the message to reach the DLQ' },
    );
    expect(JSON.parse(dlq[0]?.body ?? '')).toEqual({
      v: 2,
      tenantId,
      subscriptionId: subscription.id,
      eventId,
      event: { type: 'order.created', timestamp: expect.any(String), data: { n: 1 } },
    });
    expect(endpoint.requests() - requestsBefore).toBe(schedule.length);

    // Newest first: the last attempt has no next one; each earlier one is due its delay later.
    const logged = await attemptsOf(subscription.id);
    expect(logged.map((attempt) => attempt.attempt)).toEqual([4, 3, 2, 1]);
    expect(logged[0]?.nextAttemptAt).toBeUndefined();
    for (const [attempt, delay] of [
      [logged[1], 800],
      [logged[2], 400],
      [logged[3], 60],
    ] as const) {
      expect(Date.parse(attempt?.nextAttemptAt ?? '') - Date.parse(attempt?.attemptedAt ?? '')).toBe(
        delay * 1000,
      );
    }
    // Those messages are in the DLQ now; there is nothing left to discard.
    visibilityChanges.length = 0;
  });
});
