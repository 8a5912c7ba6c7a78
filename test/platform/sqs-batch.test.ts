import { setTimeout as sleep } from 'node:timers/promises';
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { processSqsBatch } from '../../lambdas/platform/sqs-batch.js';
import { sqsEvent, sqsRecord } from '../support/sqs-records.js';

describe('processSqsBatch', () => {
  /** Each record's body says how long it takes and whether it fails. */
  const handleRecord = async (record: SQSRecord) => {
    const { ms, fails } = JSON.parse(record.body) as { ms: number; fails: boolean };
    await sleep(ms);
    if (fails) throw new Error(`${record.messageId} failed`);
  };
  const record = (messageId: string, ms: number, fails = false) =>
    sqsRecord(JSON.stringify({ ms, fails }), { messageId });

  it('reports each of two batches handled at once with its own failures only', async () => {
    // Batch B starts after A's failure and ends before A does: a processor shared between them would lose
    // A's failure (B's start resets it) and so let SQS delete a message that failed.
    const a = processSqsBatch(
      sqsEvent(record('a-fails', 5, true), record('a-slow', 60)),
      handleRecord,
      undefined,
    );
    await sleep(20);
    const b = processSqsBatch(sqsEvent(record('b-fast', 5)), handleRecord, undefined);
    expect(await b).toEqual({ batchItemFailures: [] });
    expect(await a).toEqual({ batchItemFailures: [{ itemIdentifier: 'a-fails' }] });
  });
});
