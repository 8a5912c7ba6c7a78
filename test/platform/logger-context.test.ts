import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryMessage } from '../../lambdas/contract/delivery-message.js';
import type { ApiEvent } from '../../lambdas/contract/handlers.js';
import { newId } from '../../lambdas/platform/ids.js';
import { apiFunction, deliverFunction, fanoutFunction } from '../../lambdas/wiring.js';
import { startTestService } from '../support/service.js';
import { lambdaContext, sqsEvent, sqsRecord } from '../support/sqs-records.js';

/**
 * Every line a function logs while it handles an invocation carries that invocation's Lambda context, as
 * Powertools adds it (request id, cold start, function name), so a line can be traced to its request in
 * CloudWatch. The lines are captured from stdout and stderr around one invocation of each function as
 * wiring.ts builds it.
 */
describe('Logger: the Lambda context on every line', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  /** A table that is down: the functions log what they could not do, which is what is looked at here. */
  const unavailableDb = {
    send: async () => {
      throw Object.assign(new Error('injected failure'), { name: 'InternalServerError' });
    },
  } as unknown as DynamoDBDocumentClient;

  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(() => service.close());

  /** The JSON lines written to stdout and stderr while `invoke` runs. */
  async function linesDuring(invoke: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
    const written: string[] = [];
    const original = { stdout: process.stdout.write, stderr: process.stderr.write };
    for (const stream of ['stdout', 'stderr'] as const) {
      process[stream].write = ((chunk: string | Uint8Array) => {
        written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        return true;
      }) as typeof process.stdout.write;
    }
    try {
      await invoke();
    } finally {
      process.stdout.write = original.stdout;
      process.stderr.write = original.stderr;
    }
    return written
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  const expectContext = (lines: Record<string, unknown>[], functionName: string, requestId: string) => {
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).toMatchObject({
        function_request_id: requestId,
        function_name: functionName,
        cold_start: expect.any(Boolean),
      });
    }
  };

  it('an API function', async () => {
    const api = apiFunction(service.config, { db: unavailableDb, sqs: service.clients.sqs });
    const event = {
      version: '2.0',
      routeKey: 'GET /subscriptions',
      rawPath: '/subscriptions',
      rawQueryString: '',
      headers: {},
      requestContext: {
        http: { method: 'GET', path: '/subscriptions' },
        authorizer: { lambda: { tenantId: newId('ten') } },
      },
      isBase64Encoded: false,
    } as unknown as ApiEvent;
    const lines = await linesDuring(async () => {
      // The rate limit fails open and logs; the read then fails and is logged as a 500.
      expect(await api(event, lambdaContext('api', 'req-api'))).toMatchObject({
        statusCode: 500,
      });
    });
    expect(lines.map((line) => line.message)).toEqual([
      'rate limit counter unavailable; request admitted',
      'unhandled error',
    ]);
    expectContext(lines, 'api', 'req-api');
  });

  it('the fan-out function', async () => {
    const fanout = fanoutFunction(service.config, service.clients);
    const lines = await linesDuring(async () => {
      expect(await fanout(sqsEvent(sqsRecord('not json')), lambdaContext('fanout', 'req-fanout'))).toEqual({
        batchItemFailures: [],
      });
    });
    expect(lines.map((line) => line.message)).toEqual([
      'fan-out message sent to the DLQ: it can never succeed',
    ]);
    expectContext(lines, 'fanout', 'req-fanout');
  });

  it('the deliver function, from its first line (before the batch is processed)', async () => {
    const deliver = deliverFunction(service.config, { ...service.clients, db: unavailableDb });
    const message = deliveryMessage(newId('ten'), newId('sub'), newId('evt'));
    const lines = await linesDuring(() =>
      deliver(sqsEvent(sqsRecord(JSON.stringify(message))), lambdaContext('deliver', 'req-deliver')),
    );
    expect(lines.map((line) => line.message)).toContain(
      'subscriptions not read as a batch; reading one by one',
    );
    expectContext(lines, 'deliver', 'req-deliver');
  });
});
