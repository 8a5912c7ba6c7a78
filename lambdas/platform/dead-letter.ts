import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { SQS_MAX_MESSAGE_BYTES, sqsMessageBytes } from '../contract/sqs-size.js';

/**
 * Sends `body` to a dead-letter queue with attributes saying why: `reason` always, `detail` too when the
 * message still fits (SQS counts attributes in the message size; the caller's log line has everything).
 * Sent before the record is acknowledged, so a crash in between leaves a second, identical copy: harmless.
 */
export async function sendToDeadLetterQueue(
  sqs: SQSClient,
  queueUrl: string,
  body: string,
  attributes: { reason: [name: string, value: string]; detail?: [name: string, value: string] },
): Promise<void> {
  const attribute = (value: string) => ({ DataType: 'String', StringValue: value });
  const reason = { [attributes.reason[0]]: attribute(attributes.reason[1]) };
  const both = attributes.detail
    ? { ...reason, [attributes.detail[0]]: attribute(attributes.detail[1]) }
    : reason;
  const fitting = [both, reason].find(
    (candidate) => sqsMessageBytes(body, candidate) <= SQS_MAX_MESSAGE_BYTES,
  );
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: body,
      ...(fitting ? { MessageAttributes: fitting } : {}),
    }),
  );
}
