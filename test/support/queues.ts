import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/**
 * Reads every message currently on a queue without consuming it for good: each is hidden for
 * `hideSeconds`, long enough for the test to inspect the lot.
 */
export async function peekAll(sqs: SQSClient, queueUrl: string, hideSeconds = 30) {
  const messages: { body: string; receiveCount: number }[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: hideSeconds,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    if (Messages.length === 0) return messages;
    for (const message of Messages) {
      messages.push({
        body: message.Body ?? '',
        receiveCount: Number(message.Attributes?.ApproximateReceiveCount),
      });
    }
  }
}
