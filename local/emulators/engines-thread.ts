import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { type Engines, startEngines } from './engines.js';

/**
 * dynalite and fauxqs on a thread of their own, for `npm run bench` and `npm run chaos`. On AWS, DynamoDB and
 * SQS do their work on other machines; in local mode they share the handlers' event loop, which would charge
 * the engines' CPU to the pipeline.
 */
if (!isMainThread && (workerData as { enginesThread?: boolean } | undefined)?.enginesThread) {
  const engines = await startEngines();
  parentPort?.postMessage({ dynamoEndpoint: engines.dynamoEndpoint, sqsEndpoint: engines.sqsEndpoint });
}

export async function startEnginesThread(): Promise<Engines> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { enginesThread: true } });
  const endpoints = await new Promise<{ dynamoEndpoint: string; sqsEndpoint: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    ...endpoints,
    stop: async () => void (await worker.terminate()),
  };
}
