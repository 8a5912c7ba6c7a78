import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deliveryMessage } from '../../lambdas/contract/delivery-message.js';
import { REPO_ROOT } from '../../lib/constructs/fanout-function.js';
import { peekAll, queueDepth } from '../../local/emulators/queue-metrics.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import { waitFor } from '../../local/wait.js';
import { messageByMessageMove, redriveCommand } from '../../scripts/dead-letters.js';
import { publishEvent } from '../support/events.js';
import { localClient } from '../support/local.js';
import { startReceiver } from '../support/receiver.js';
import { startTestService } from '../support/service.js';
import { subscribeReceiver } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

const run = promisify(execFile);

/** Subscribes the receiver and publishes one event through the API; returns the event id. */
async function subscribeAndPublish(service: Service, receiver: Receiver): Promise<string> {
  const tenant = await service.createTenant('acme');
  await subscribeReceiver(service.api, tenant.apiKey, receiver, { eventTypes: ['order.*'] });
  return publishEvent(service.api, tenant.apiKey, { type: 'order.created', data: { orderId: 7 } });
}

describe('Redrive: a dead-lettered delivery goes back to the delivery queue', () => {
  let service: Service;
  let receiver: Receiver;

  beforeAll(async () => {
    // One attempt: the first failure dead-letters the delivery.
    service = await startTestService({ retryScheduleSeconds: [0] });
    receiver = await startReceiver({ status: 500 });
  });
  afterAll(async () => {
    await receiver.close();
    await service.close();
  });

  it('moves the DLQ to the queue that dead-lettered it, and the next poll delivers it, signed', async () => {
    const { sqs } = service.clients;
    const delivery = service.resources.queues.delivery;
    const eventId = await subscribeAndPublish(service, receiver);
    expect(await service.pollFanout()).toMatchObject({ received: 1, succeeded: 1 });

    // The failed attempt makes the message visible again at once; the next receive moves it to the DLQ.
    await waitFor(
      async () => {
        await service.pollDelivery();
        return (await queueDepth(sqs, delivery.deadLetterUrl)).visible === 1 ? true : undefined;
      },
      { what: 'the delivery in the DLQ' },
    );
    expect(receiver.received.map((attempt) => attempt.status)).toEqual([500]);
    expect(await queueDepth(sqs, delivery.url)).toEqual({ visible: 0, inFlight: 0 });

    receiver.respondWith(204);
    const dlqArn = await queueArn(sqs, delivery.deadLetterUrl);
    expect(await messageByMessageMove(sqs).redrive({ source: dlqArn })).toEqual({
      kind: 'moved',
      moved: 1,
      sourceUrl: delivery.deadLetterUrl,
      destinationUrl: delivery.url,
    });

    expect(await service.pollDelivery()).toMatchObject({ received: 1, succeeded: 1, failed: 0 });
    const redelivered = receiver.received.at(-1);
    expect(redelivered?.status).toBe(204);
    expect(redelivered?.verificationError).toBeUndefined();
    expect(redelivered?.headers['webhook-id']).toBe(eventId);
    expect(redelivered?.verified).toMatchObject({ type: 'order.created', data: { orderId: 7 } });
    expect(await queueDepth(sqs, delivery.deadLetterUrl)).toEqual({ visible: 0, inFlight: 0 });
    expect(await queueDepth(sqs, delivery.url)).toEqual({ visible: 0, inFlight: 0 });
  });
});

describe('Redrive: npm run redrive against a local SQS (--endpoint)', () => {
  let service: Service;

  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(async () => {
    await service.close();
  });

  it('moves every dead letter, in batches of ten, to the source queue and prints the count', async () => {
    const { sqs } = service.clients;
    const fanout = service.resources.queues.fanout;
    const bodies = Array.from({ length: 12 }, (_, i) => JSON.stringify({ job: i }));
    for (const batch of [bodies.slice(0, 10), bodies.slice(10)]) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: fanout.deadLetterUrl,
          Entries: batch.map((body, i) => ({ Id: String(i), MessageBody: body })),
        }),
      );
    }

    const { stdout } = await run(
      join(REPO_ROOT, 'node_modules', '.bin', 'tsx'),
      ['scripts/redrive.ts', '--dlq', fanout.deadLetterUrl, '--endpoint', inject('sqsEndpoint')],
      { cwd: REPO_ROOT, timeout: 60_000 },
    );

    expect(stdout).toContain(
      `Moved 12 messages from ${fanout.deadLetterUrl} to ${fanout.url}, message by message (receive, send, delete).`,
    );
    expect((await peekAll(sqs, fanout.url)).map((message) => message.body).sort()).toEqual(
      [...bodies].sort(),
    );
    expect(await queueDepth(sqs, fanout.deadLetterUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('moves to the --destination queue when one is named, and refuses one that is not an ARN', async () => {
    const { sqs } = service.clients;
    const { fanout, delivery } = service.resources.queues;
    const body = JSON.stringify(deliveryMessage('ten_1', 'sub_1', 'evt_1'));
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: delivery.deadLetterUrl,
        Entries: [{ Id: '1', MessageBody: body }],
      }),
    );
    const lines: string[] = [];
    const errors: string[] = [];
    const io = { log: (line: string) => lines.push(line), error: (line: string) => errors.push(line), sqs };

    expect(
      await redriveCommand(
        ['--dlq', delivery.deadLetterUrl, '--destination', fanout.url, '--endpoint', 'x'],
        io,
      ),
    ).toBe(2);
    expect(errors.join('\n')).toMatch(/--destination must be a queue ARN/);

    // Somewhere the first test left empty.
    const destination = await queueArn(sqs, fanout.deadLetterUrl);
    const args = ['--dlq', delivery.deadLetterUrl, '--destination', destination, '--endpoint', 'x'];
    expect(await redriveCommand(args, io)).toBe(0);
    expect(lines.at(-1)).toBe(
      `Moved 1 message from ${delivery.deadLetterUrl} to ${fanout.deadLetterUrl}, message by message (receive, send, delete).`,
    );
    expect((await peekAll(sqs, fanout.deadLetterUrl)).map((message) => message.body)).toEqual([body]);
    expect(await queueDepth(sqs, delivery.deadLetterUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('keeps each message group, so a redriven delivery is still its tenant in the fair queue', async () => {
    const { sqs } = service.clients;
    const { delivery } = service.resources.queues;
    const grouped = JSON.stringify(deliveryMessage('ten_1', 'sub_1', 'evt_grouped'));
    const ungrouped = JSON.stringify({ note: 'sent without a group' });
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: delivery.deadLetterUrl,
        Entries: [
          { Id: '1', MessageBody: grouped, MessageGroupId: 'ten_1' },
          { Id: '2', MessageBody: ungrouped },
        ],
      }),
    );
    const io = { log: () => undefined, error: () => undefined, sqs };
    expect(await redriveCommand(['--dlq', delivery.deadLetterUrl, '--endpoint', 'x'], io)).toBe(0);

    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: delivery.url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['MessageGroupId'],
      }),
    );
    expect(
      Messages.map((message) => ({ body: message.Body, group: message.Attributes?.MessageGroupId })),
    ).toEqual([
      { body: grouped, group: 'ten_1' },
      { body: ungrouped, group: undefined },
    ]);
  });
});

describe('Redrive: POST /_local/redrive in local mode', () => {
  let runtime: LocalRuntime;
  let receiver: Receiver;
  const post = async (body: string, method = 'POST') => {
    const response = await fetch(`${runtime.url}/_local/redrive`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(method === 'POST' ? { body } : {}),
    });
    return { status: response.status, body: await response.json() };
  };
  const dlqDepth = async () => {
    const status = (await runtime.status()) as { queues: Record<string, { visible: number }> };
    return status.queues['delivery-dlq']?.visible;
  };

  beforeAll(async () => {
    runtime = await startLocalRuntime({ port: 0, retryScheduleSeconds: [0], log: () => undefined });
    receiver = await startReceiver({ status: 500 });
  });
  afterAll(async () => {
    await receiver.close();
    await runtime.stop();
  });

  it('moves the delivery DLQ back, answering {moved}, and the pollers deliver it to the recovered receiver', async () => {
    const api = localClient(runtime, runtime.tenants[0]?.apiKey ?? '');
    await api.subscribe(receiver, ['order.*']);
    const id = await api.publish({ type: 'order.created', data: { orderId: 9 } });
    await waitFor(async () => ((await dlqDepth()) === 1 ? true : undefined), { what: 'the dead letter' });

    receiver.respondWith(204);
    expect(await post(JSON.stringify({ queue: 'delivery' }))).toEqual({ status: 200, body: { moved: 1 } });

    const delivered = await waitFor(
      () =>
        receiver.received.find((attempt) => attempt.status === 204 && attempt.headers['webhook-id'] === id),
      { what: 'the redriven delivery' },
    );
    expect(delivered.verificationError).toBeUndefined();
    expect(await dlqDepth()).toBe(0);
    expect(await post(JSON.stringify({ queue: 'fanout' }))).toEqual({ status: 200, body: { moved: 0 } });
  });

  it('answers a bad request with a JSON 4xx error', async () => {
    expect(await post(JSON.stringify({ queue: 'rule' }))).toEqual({
      status: 422,
      body: { error: { code: 'validation_error', message: 'queue: must be one of delivery, fanout' } },
    });
    expect(await post('{')).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    expect(await post('', 'GET')).toMatchObject({
      status: 405,
      body: { error: { code: 'method_not_allowed' } },
    });
  });
});

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  return Attributes?.QueueArn ?? '';
}
