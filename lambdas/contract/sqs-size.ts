import type { MessageAttributeValue } from '@aws-sdk/client-sqs';

/** SQS's largest message since 2026, and so the size our queues are given (a queue defaults to 256 KiB). */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;

/**
 * A message's size as SQS counts it against the limit: the body's UTF-8 bytes and, for each message
 * attribute, the bytes of its name, its data type and its value.
 */
export function sqsMessageBytes(
  body: string,
  attributes: Record<string, MessageAttributeValue> = {},
): number {
  const utf8 = (text: string | undefined) => (text === undefined ? 0 : Buffer.byteLength(text, 'utf8'));
  return Object.entries(attributes).reduce(
    (sum, [name, { DataType, StringValue, BinaryValue }]) =>
      sum + utf8(name) + utf8(DataType) + utf8(StringValue) + (BinaryValue?.byteLength ?? 0),
    utf8(body),
  );
}
