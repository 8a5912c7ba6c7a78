import { randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../../local/wait.js';

/**
 * The SQS engine of local mode and the tests behaves as real SQS where the service depends on it
 * (local/emulators/sqs-fidelity.ts corrects fauxqs at start-up).
 */
describe('Local SQS engine: as real SQS', () => {
  const sqs = new SQSClient({
    endpoint: inject('sqsEndpoint'),
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  let queueUrl: string;

  beforeAll(async () => {
    const created = await sqs.send(new CreateQueueCommand({ QueueName: `engine-${randomUUID()}` }));
    queueUrl = created.QueueUrl as string;
  });
  afterAll(async () => {
    await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    sqs.destroy();
  });

  const send = (body: string) => sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  const receiveOne = async () => {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
    );
    expect(Messages).toHaveLength(1);
    return Messages[0] as { Body: string; ReceiptHandle: string };
  };

  it('accepts characters outside the Basic Multilingual Plane, and returns them intact', async () => {
    // An emoji, a CJK extension B character, a mathematical letter: each a surrogate pair in UTF-16.
    const body = JSON.stringify({ text: '\u{1F600} \u{20000} \u{1D400}' });
    await send(body);
    const message = await receiveOne();
    expect(message.Body).toBe(body);
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: message.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
  });

  it.each([
    ['U+FFFF', '\uFFFF'],
    ['U+FFFE', '\uFFFE'],
    ['a lone high surrogate', '\uD83D'],
    ['a lone low surrogate', '\uDE00'],
    ['U+0000', '\u0000'],
  ])('still refuses %s, as SQS does', async (_name, character) => {
    await expect(send(`a${character}b`)).rejects.toMatchObject({
      name: expect.stringContaining('InvalidMessageContents'),
    });
  });

  it('refuses a visibility change beyond 12 hours from the receive, with SQS error, and accepts one within', async () => {
    await send('ceiling');
    const message = await receiveOne();
    // The receive happened at or before this instant; once the clock has moved on, 43,200 s from now is
    // beyond 12 hours from the receive.
    const received = Date.now();
    const change = (seconds: number) =>
      sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    await change(43_000);
    await waitFor(() => (Date.now() > received ? true : undefined), {
      what: 'the clock to pass the receive',
      intervalMs: 1,
    });
    await expect(change(43_200)).rejects.toMatchObject({
      name: expect.stringContaining('InvalidParameterValue'),
      message: expect.stringContaining(
        'Total VisibilityTimeout for the message is beyond the limit [43200 seconds]',
      ),
    });
    await change(0);
  });
});
