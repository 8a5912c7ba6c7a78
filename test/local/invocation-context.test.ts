import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueFunctionName } from '../../local/service.js';
import { startTestService } from '../support/service.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

/**
 * Local mode invokes the queue handlers as the event source mapping does, with a Lambda context of their own:
 * without one, their log lines would carry whichever context the shared logger saw last (an API request's).
 */
describe('Local mode: each queue invocation gets its own Lambda context', () => {
  let service: Service;
  const invocations: { name: QueueFunctionName; context: Context | undefined }[] = [];

  beforeAll(async () => {
    service = await startTestService({
      wrapQueueHandler: (name, handler) => (event, context) => {
        invocations.push({ name, context });
        return handler(event, context);
      },
    });
  });
  afterAll(async () => {
    await service.close();
  });

  it('names the function and a fresh request id on every fan-out and deliver invocation', async () => {
    const send = (queueUrl: string) =>
      service.clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'not json' }));
    for (const round of [1, 2]) {
      await send(service.resources.queues.fanout.url);
      await send(service.resources.queues.delivery.url);
      expect((await service.pollFanout()).received, `fan-out, round ${round}`).toBe(1);
      expect((await service.pollDelivery()).received, `delivery, round ${round}`).toBe(1);
    }

    expect(invocations.map(({ name, context }) => [name, context?.functionName])).toEqual([
      ['fanout', 'fanout'],
      ['deliver', 'deliver'],
      ['fanout', 'fanout'],
      ['deliver', 'deliver'],
    ]);
    const requestIds = invocations.map(({ context }) => context?.awsRequestId);
    expect(new Set(requestIds).size).toBe(4);
    for (const id of requestIds) expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });
});
