import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';

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

/** Of one invocation's Lambda context, the fields that Powertools puts on log lines. */
export function lambdaContext(functionName: string, awsRequestId: string): Context {
  return {
    functionName,
    awsRequestId,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
  } as Context;
}
