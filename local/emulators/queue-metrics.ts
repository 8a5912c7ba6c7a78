import { GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ServiceResources } from './provision.js';

/** What CloudWatch would chart for a queue, read the way its metrics are: from the queue's attributes. */
export interface QueueDepth {
  /** ApproximateNumberOfMessages, the metric ApproximateNumberOfMessagesVisible. */
  visible: number;
  /** ApproximateNumberOfMessagesNotVisible: received and not yet deleted, or waiting for a retry. */
  inFlight: number;
}

export interface NamedQueue {
  name: string;
  url: string;
  deadLetter: boolean;
}

/** Every queue of the service with a short name: "fanout", "fanout-dlq", "delivery", "delivery-dlq". */
export function namedQueues(resources: ServiceResources): NamedQueue[] {
  return Object.entries(resources.queues).flatMap(([name, queue]) => [
    { name, url: queue.url, deadLetter: false },
    { name: `${name}-dlq`, url: queue.deadLetterUrl, deadLetter: true },
  ]);
}

export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}

/**
 * Reads every message currently on a queue without consuming it for good: each is hidden for
 * `hideSeconds`, long enough to inspect the lot (tests, the chaos run's dead-letter count).
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
