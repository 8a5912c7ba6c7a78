import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { lambdaContext as localLambdaContext } from '../../local/emulators/lambda-context.js';

/** An SQS record as the event source mapping hands it to a function, at its first receive. */
export function sqsRecord(
  body: string,
  { messageId = 'm-1', queueArn = 'arn:aws:sqs:us-east-1:000000000000:queue' } = {},
): SQSRecord {
  return {
    messageId,
    receiptHandle: `r-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'local',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  };
}

export function sqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

/** The Lambda context local mode gives an invocation, with a request id a test can look for. */
export function lambdaContext(functionName: string, awsRequestId: string): Context {
  return { ...localLambdaContext(functionName), awsRequestId };
}
