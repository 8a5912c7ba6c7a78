import { SQSClient, type StartMessageMoveTaskCommandInput } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { redriveCommand, sourceQueueArn } from '../../scripts/dead-letters.js';

describe('Redrive: npm run redrive on AWS (a fake SQS in a client middleware, no AWS account needed)', () => {
  const account = 'arn:aws:sqs:eu-west-1:123456789012';
  const urlOf = (arn: string) =>
    `https://sqs.eu-west-1.amazonaws.com/123456789012/${arn.split(':').at(-1) ?? ''}`;
  /** A real DLQ: the delivery queue's redrive policy names it, so a move task can take it. */
  const deliveryDlqArn = `${account}:WebhookFanout-DeliveryQueueDeadLetterQueue-abc`;
  const deliveryArn = `${account}:WebhookFanout-DeliveryQueue-def`;
  /** The bus rule's DLQ: EventBridge fills it, no queue dead-letters to it, so a move task refuses it. */
  const ruleDlqArn = `${account}:WebhookFanout-RuleDeadLetterQueue-ghi`;
  const fanoutArn = `${account}:WebhookFanout-FanoutQueue-jkl`;
  /** A DLQ two queues dead-letter to: which one a message came from is not known. */
  const sharedDlqArn = `${account}:shared-dlq`;
  const queueArns = [deliveryDlqArn, deliveryArn, ruleDlqArn, fanoutArn, sharedDlqArn];
  /** ListDeadLetterSourceQueues: the queues whose redrive policy names each DLQ. */
  const sourcesOf = new Map([
    [deliveryDlqArn, [deliveryArn]],
    [sharedDlqArn, [deliveryArn, fanoutArn]],
  ]);

  let sqs: SQSClient;
  /** What SQS was asked, in order, as command names. */
  let calls: string[];
  let moveTasks: StartMessageMoveTaskCommandInput[];
  /** The rule DLQ's messages, by id, and which of them a receive has hidden. */
  let ruleDlq: Map<string, string>;
  let hidden: Set<string>;
  let sent: { queueUrl: string; body: string }[];

  beforeEach(() => {
    calls = [];
    moveTasks = [];
    ruleDlq = new Map([1, 2, 3].map((n) => [`m${n}`, JSON.stringify({ id: `evt_${n}` })]));
    hidden = new Set();
    sent = [];
  });

  beforeAll(() => {
    sqs = new SQSClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'none', secretAccessKey: 'none' },
    });
    // Answers every request before anything is sent, and records it.
    sqs.middlewareStack.add(
      (_next, context) => async (args) => {
        const name = String(context.commandName).replace(/Command$/, '');
        const input = args.input as Record<string, unknown>;
        calls.push(name);
        const answer = (output: object) => ({ output: { ...output, $metadata: {} }, response: {} });
        switch (name) {
          case 'StartMessageMoveTask': {
            const task = args.input as StartMessageMoveTaskCommandInput;
            moveTasks.push(task);
            if (task.SourceArn !== deliveryDlqArn && task.SourceArn !== sharedDlqArn) {
              throw Object.assign(new Error('Source queue must be configured as a Dead Letter Queue.'), {
                name: 'InvalidParameterValue',
              });
            }
            return answer({ TaskHandle: 'task-handle-1' });
          }
          case 'ListDeadLetterSourceQueues': {
            const dlq = queueArns.find((candidate) => urlOf(candidate) === input.QueueUrl) ?? '';
            return answer({ queueUrls: (sourcesOf.get(dlq) ?? []).map(urlOf) });
          }
          case 'GetQueueUrl':
            return answer({ QueueUrl: urlOf(`${account}:${input.QueueName}`) });
          case 'GetQueueAttributes': {
            const arn = queueArns.find((candidate) => urlOf(candidate) === input.QueueUrl);
            if ((input.AttributeNames as string[]).includes('QueueArn'))
              return answer({ Attributes: { QueueArn: arn } });
            return answer({
              Attributes: {
                ApproximateNumberOfMessages: String(ruleDlq.size - hidden.size),
                ApproximateNumberOfMessagesNotVisible: String(hidden.size),
              },
            });
          }
          case 'ReceiveMessage': {
            const ids = [...ruleDlq.keys()]
              .filter((id) => !hidden.has(id))
              .slice(0, Number(input.MaxNumberOfMessages));
            for (const id of ids) hidden.add(id);
            return answer({ Messages: ids.map((id) => ({ ReceiptHandle: id, Body: ruleDlq.get(id) })) });
          }
          case 'SendMessageBatch': {
            const entries = input.Entries as { Id: string; MessageBody: string }[];
            for (const entry of entries)
              sent.push({ queueUrl: String(input.QueueUrl), body: entry.MessageBody });
            return answer({ Successful: entries.map(({ Id }) => ({ Id })), Failed: [] });
          }
          case 'DeleteMessageBatch': {
            const entries = input.Entries as { Id: string; ReceiptHandle: string }[];
            for (const entry of entries) ruleDlq.delete(entry.ReceiptHandle);
            return answer({ Successful: entries.map(({ Id }) => ({ Id })), Failed: [] });
          }
          default:
            throw new Error(`unexpected ${name}`);
        }
      },
      { step: 'initialize' },
    );
  });
  afterAll(() => sqs.destroy());

  const command = async (args: string[]) => {
    const lines: string[] = [];
    const errors: string[] = [];
    const code = await redriveCommand(args, {
      log: (line) => lines.push(line),
      error: (line) => errors.push(line),
      sqs,
    });
    return { code, output: lines.join('\n'), errors: errors.join('\n') };
  };

  it('starts a move task from a real DLQ to the one queue that dead-letters to it, and says how to watch it', async () => {
    const { code, output, errors } = await command(['--dlq', deliveryDlqArn]);
    expect(errors).toBe('');
    expect(code).toBe(0);
    expect(calls).toEqual(['GetQueueUrl', 'ListDeadLetterSourceQueues', 'StartMessageMoveTask']);
    // Named, so the messages fan-out sent to its DLQ itself (which have no "original source") go back too.
    expect(moveTasks).toEqual([{ SourceArn: deliveryDlqArn, DestinationArn: deliveryArn }]);
    expect(output).toContain(`Started a message move task from ${deliveryDlqArn} to ${deliveryArn}.`);
    expect(output).toContain('task handle  task-handle-1');
    expect(output).toContain(
      `aws sqs list-message-move-tasks --source-arn ${deliveryDlqArn} --region eu-west-1`,
    );
  });

  it('resolves a DLQ URL to its ARN for the move task', async () => {
    const { code } = await command(['--dlq', urlOf(deliveryDlqArn)]);
    expect(code).toBe(0);
    expect(calls).toEqual(['GetQueueAttributes', 'ListDeadLetterSourceQueues', 'StartMessageMoveTask']);
    expect(moveTasks).toEqual([{ SourceArn: deliveryDlqArn, DestinationArn: deliveryArn }]);
  });

  it('starts no move task for a DLQ several queues dead-letter to, asking for --destination (exit 1)', async () => {
    const { code, output, errors } = await command(['--dlq', sharedDlqArn]);
    expect(code).toBe(1);
    expect(output).toBe('');
    expect(moveTasks).toEqual([]);
    expect(errors).toBe(
      `redrive failed: several queues dead-letter to ${sharedDlqArn}; name the queue to move to with --destination`,
    );
    const named = await command(['--dlq', sharedDlqArn, '--destination', fanoutArn]);
    expect(named.code).toBe(0);
  });

  it("derives a source queue's ARN from its URL and the DLQ's partition and region", () => {
    expect(sourceQueueArn(deliveryDlqArn, urlOf(deliveryArn))).toBe(deliveryArn);
    expect(
      sourceQueueArn(
        'arn:aws-cn:sqs:cn-north-1:123456789012:dlq',
        'https://sqs.cn-north-1.amazonaws.com.cn/123456789012/source',
      ),
    ).toBe('arn:aws-cn:sqs:cn-north-1:123456789012:source');
  });

  it('moves the bus rule DLQ to --destination message by message, with no move task, and says so', async () => {
    const { code, output, errors } = await command(['--dlq', urlOf(ruleDlqArn), '--destination', fanoutArn]);
    expect(errors).toBe('');
    expect(code).toBe(0);
    expect(calls).not.toContain('StartMessageMoveTask');
    expect(calls).toEqual([
      'GetQueueUrl',
      'GetQueueAttributes',
      'ReceiveMessage',
      'SendMessageBatch',
      'DeleteMessageBatch',
    ]);
    expect(sent).toEqual(
      [1, 2, 3].map((n) => ({ queueUrl: urlOf(fanoutArn), body: JSON.stringify({ id: `evt_${n}` }) })),
    );
    expect(ruleDlq.size).toBe(0);
    expect(output).toBe(
      `Moved 3 messages from ${urlOf(ruleDlqArn)} to ${urlOf(fanoutArn)}, message by message (receive, send, delete).`,
    );
  });

  it('moves a real DLQ named by ARN to --destination message by message too', async () => {
    const { code, output } = await command(['--dlq', deliveryDlqArn, '--destination', fanoutArn]);
    expect(code).toBe(0);
    expect(calls.slice(0, 2)).toEqual(['GetQueueUrl', 'GetQueueUrl']);
    expect(calls).not.toContain('StartMessageMoveTask');
    expect(output).toContain('message by message');
  });

  it('exits 1 for a DLQ no queue dead-letters to, with no move task, pointing at --destination', async () => {
    const { code, output, errors } = await command(['--dlq', ruleDlqArn]);
    expect(code).toBe(1);
    expect(output).toBe('');
    expect(calls).toEqual(['GetQueueUrl', 'ListDeadLetterSourceQueues']);
    expect(errors).toContain(
      `redrive failed: no queue dead-letters to ${ruleDlqArn}; name the queue to move to with --destination`,
    );
    expect(ruleDlq.size).toBe(3);
  });

  it('exits 1 when the move task itself is refused, pointing at --destination', async () => {
    sourcesOf.set(ruleDlqArn, [fanoutArn]);
    try {
      const { code, errors } = await command(['--dlq', ruleDlqArn]);
      expect(code).toBe(1);
      expect(errors).toContain('redrive failed: Source queue must be configured as a Dead Letter Queue.');
      expect(errors).toContain('name the queue to move to with --destination');
    } finally {
      sourcesOf.delete(ruleDlqArn);
    }
  });

  it('prints the usage without --dlq and exits 2', async () => {
    const { code, errors } = await command([]);
    expect(code).toBe(2);
    expect(errors).toMatch(/^missing --dlq\. usage: npm run redrive -- --dlq <DLQ ARN or URL>/);
  });
});
