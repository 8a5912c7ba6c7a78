import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

// What SQS's message move task does, for engines without one (fauxqs): local mode's /_local/redrive and the
// redrive command against any endpoint but AWS's use it.

const BATCH = 10;
/** How long a received dead letter stays hidden while it is copied; ample for one batch. */
const MOVE_VISIBILITY_SECONDS = 30;

/**
 * Moves the messages that are in `sourceUrl` when the move starts to `destinationUrl`, ten at a time, with
 * their message attributes and message group (SQS's move task gives a moved message a new id and enqueue time;
 * it keeps a FIFO message's group, and its guide says nothing of a fair queue's): each is sent, then deleted
 * from the source, so a crash in between duplicates a message rather than losing it.
 * Messages that arrive during the move are left for the next one, so a destination that dead-letters again
 * cannot keep it going forever. Returns how many were moved; throws if any could not be sent (those stay).
 */
export async function moveMessages(
  sqs: SQSClient,
  { sourceUrl, destinationUrl }: { sourceUrl: string; destinationUrl: string },
): Promise<number> {
  if (sourceUrl === destinationUrl) throw new Error('the source and destination queues are the same');
  // Hidden messages count too: nothing consumes a DLQ, and fauxqs only makes a message visible again when
  // it is next received. A receive that finds nothing ends the move early.
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: sourceUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  const waiting =
    Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  let moved = 0;
  let unsent = 0;
  while (moved + unsent < waiting) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: sourceUrl,
        MaxNumberOfMessages: Math.min(BATCH, waiting - moved - unsent),
        VisibilityTimeout: MOVE_VISIBILITY_SECONDS,
        // Long polling asks every SQS server; a short poll can come back empty while messages wait.
        WaitTimeSeconds: 1,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['MessageGroupId'],
      }),
    );
    if (Messages.length === 0) break;
    const receiptHandles = Messages.map((message) => message.ReceiptHandle ?? '');
    const { Successful = [], Failed = [] } = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: destinationUrl,
        Entries: Messages.map((message, index) => {
          const groupId = message.Attributes?.MessageGroupId;
          return {
            Id: String(index),
            MessageBody: message.Body ?? '',
            ...(message.MessageAttributes ? { MessageAttributes: message.MessageAttributes } : {}),
            // A delivery's tenant: without it each message would be a tenant of its own in the fair queue,
            // so a redriven backlog of one tenant could never count as noisy and would delay the others.
            ...(groupId ? { MessageGroupId: groupId } : {}),
          };
        }),
      }),
    );
    if (Successful.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: sourceUrl,
          Entries: Successful.map(({ Id }) => ({ Id, ReceiptHandle: receiptHandles[Number(Id)] })),
        }),
      );
    }
    moved += Successful.length;
    unsent += Failed.length;
  }
  if (unsent > 0) {
    throw new Error(
      `moved ${moved} of ${moved + unsent} messages; ${unsent} could not be sent and stay in the dead-letter queue`,
    );
  }
  return moved;
}
