import { AsyncLocalStorage } from 'node:async_hooks';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPutEventsEntry } from '../../lambdas/contract/bus-events.js';
import { newId } from '../../lambdas/platform/ids.js';
import type { QueueFunctionName } from '../../local/service.js';
import { waitFor } from '../../local/wait.js';
import { publishEvent } from '../support/events.js';
import { startReceiver } from '../support/receiver.js';
import { bearer, startTestService } from '../support/service.js';
import { createSubscription } from '../support/subscriptions.js';
import { type Grants, grantsOf, synthesize } from '../support/template.js';

/**
 * The stack's grants against the calls the queue consumers really make. Local engines do not enforce IAM,
 * so a call a function's role lacks passes every other test and fails only on AWS. Here the fan-out and
 * deliver handlers run through a scenario that reaches every kind of call they make (pages and
 * continuations, small and claim-checked events, a retry, failing and recovered, a 410 disable, both replays,
 * a poison message, an event of a known tenant and of an unknown one, a rate-limited subscription),
 * each call is recorded as the IAM action and resource it needs, and every one must be in the synthesized
 * role of the function that made it.
 */
describe('Stack: grants cover the calls the functions make', () => {
  let grants: Grants;
  let service: Awaited<ReturnType<typeof startTestService>>;
  const running = new AsyncLocalStorage<QueueFunctionName>();
  const calls = new Map<QueueFunctionName, Set<string>>([
    ['fanout', new Set()],
    ['deliver', new Set()],
  ]);

  beforeAll(async () => {
    grants = grantsOf(synthesize());
    service = await startTestService({
      fanoutPageSize: 1,
      retryScheduleSeconds: [0, 0, 0],
      throttledRetryMinSeconds: 0,
      wrapQueueHandler: (name, handler) => (event, context) =>
        running.run(name, () => handler(event, context)),
    });
    const { tables, queues } = service.resources;
    const tableNames = new Map(Object.entries(tables).map(([name, physical]) => [physical, name]));
    const queueNames = new Map([
      [queues.fanout.url, 'fanoutQueue'],
      [queues.delivery.url, 'deliveryQueue'],
      [queues.fanout.deadLetterUrl, 'fanoutDlq'],
      [queues.delivery.deadLetterUrl, 'deliveryDlq'],
    ]);
    const record = (action: string, resource: string | undefined) => {
      const name = running.getStore();
      if (name) calls.get(name)?.add(`${resource ?? '?'} ${action}`);
    };
    service.clients.db.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { TableName?: string; IndexName?: string; RequestItems?: object };
        const action = `dynamodb:${(context.commandName ?? '').replace(/Command$/, '')}`;
        for (const physical of input.TableName ? [input.TableName] : Object.keys(input.RequestItems ?? {})) {
          const table = tableNames.get(physical);
          record(action, input.IndexName ? `${table}/index/${input.IndexName}` : table);
        }
        return next(args);
      },
      { step: 'initialize', name: 'recordDynamoCalls' },
    );
    service.clients.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        // SendMessageBatch is authorized as sqs:SendMessage.
        const action = `sqs:${(context.commandName ?? '').replace(/(Batch)?Command$/, '')}`;
        record(action, queueNames.get((args.input as { QueueUrl?: string }).QueueUrl ?? ''));
        return next(args);
      },
      { step: 'initialize', name: 'recordSqsCalls' },
    );
    service.clients.eventBridge.middlewareStack.add(
      (next, context) => async (args) => {
        record(`events:${(context.commandName ?? '').replace(/Command$/, '')}`, 'bus');
        return next(args);
      },
      { step: 'initialize', name: 'recordEventBridgeCalls' },
    );
  });
  afterAll(() => service?.close());

  /** Runs both consumers until neither queue has anything left to do. */
  async function drain() {
    await waitFor(
      async () => {
        const fanout = await service.pollFanout();
        const delivery = await service.pollDelivery();
        return fanout.received + delivery.received === 0 ? true : undefined;
      },
      { what: 'the queues to drain', intervalMs: 10 },
    );
  }

  it('finds every call the fan-out and deliver functions make in their roles', async () => {
    const { apiKey } = await service.createTenant('grants');
    const subscribe = async (url: string, limited: { rateLimit?: number } = {}) =>
      (await createSubscription(service.api, apiKey, { url, eventTypes: ['grants.*'], ...limited })).id;
    const publish = (data: Record<string, unknown>) =>
      publishEvent(service.api, apiKey, { type: 'grants.tested', data });
    const ok = await startReceiver();
    const gone = await startReceiver({ status: 410 });
    const flaky = await startReceiver({ status: 500 });
    const since = new Date(Date.now() - 1_000).toISOString();
    const okId = await subscribe(ok.url);
    await subscribe(gone.url);
    await subscribe(flaky.url);
    // Its attempts take a slot of its rate limit first.
    await subscribe(ok.url, { rateLimit: 100 });

    // Pages of one subscription, so continuations; a small event and one too large to ride in its messages.
    const small = await publish({ n: 1 });
    await publish({ blob: 'x'.repeat(8_000) });
    await drain();
    // The flaky receiver recovers: its retries succeed and end its failure run.
    flaky.respondWith(204);
    await publish({ n: 2 });
    await drain();
    for (const path of [`/events/${small}/replay`, `/subscriptions/${okId}/replay`]) {
      const response = await service.api({
        method: 'POST',
        path,
        headers: bearer(apiKey),
        body: path.startsWith('/events') ? '{}' : JSON.stringify({ since }),
      });
      expect(response.statusCode, path).toBe(202);
    }
    // Messages that can never succeed, which fan-out sends to its DLQ itself: one that is not JSON, and an
    // event put on the bus for a tenant that does not exist (the events above checked a known tenant).
    await service.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: service.resources.queues.fanout.url, MessageBody: 'not json' }),
    );
    const unknownTenant = toPutEventsEntry(service.busName, newId('ten'), {
      id: 'evt_unknown_tenant',
      type: 'grants.tested',
      data: {},
    });
    expect(
      (await service.clients.eventBridge.send(new PutEventsCommand({ Entries: [unknownTenant] })))
        .FailedEntryCount,
    ).toBe(0);
    await drain();
    await Promise.all([ok.close(), gone.close(), flaky.close()]);

    const missing = [...calls].flatMap(([name, made]) =>
      [...made]
        .filter((call) => {
          const [resource = '', action = ''] = call.split(' ');
          return !grants[name][resource]?.includes(action);
        })
        .map((call) => `${name}: ${call}`),
    );
    expect(missing).toEqual([]);
    // The scenario reached what it is for: without these the check above would prove little.
    expect([...(calls.get('deliver') ?? [])].sort()).toEqual(
      expect.arrayContaining([
        'subscriptions dynamodb:BatchGetItem',
        'subscriptions dynamodb:UpdateItem',
        'subscriptions dynamodb:BatchWriteItem',
        'events dynamodb:GetItem',
        'attempts dynamodb:BatchWriteItem',
        'attempts dynamodb:UpdateItem',
        'deliveryQueue sqs:ChangeMessageVisibility',
        'bus events:PutEvents',
      ]),
    );
    expect([...(calls.get('fanout') ?? [])].sort()).toEqual(
      expect.arrayContaining([
        'tenants dynamodb:GetItem',
        'events dynamodb:PutItem',
        'events/index/byTime dynamodb:Query',
        'attempts/index/byEvent dynamodb:Query',
        'fanoutQueue sqs:SendMessage',
        'deliveryQueue sqs:SendMessage',
        'fanoutDlq sqs:SendMessage',
      ]),
    );
  });
});
