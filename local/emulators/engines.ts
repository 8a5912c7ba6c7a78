import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { buildApp } from 'fauxqs';
import { applySqsFidelity } from './sqs-fidelity.js';

/** The two engines that speak the real AWS wire protocols: dynalite (DynamoDB) and fauxqs (SQS). */
export interface Engines {
  dynamoEndpoint: string;
  sqsEndpoint: string;
  stop(): Promise<void>;
}

export async function startEngines(options: { dataDir?: string; host?: string } = {}): Promise<Engines> {
  const host = options.host ?? '127.0.0.1';
  const dynamo: Server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.dataDir ? { path: options.dataDir } : {}),
  });
  await new Promise<void>((resolve) => dynamo.listen(0, host, resolve));
  // Corrects fauxqs where it and real SQS disagree (non-BMP characters, the 12-hour visibility ceiling).
  await applySqsFidelity();
  // fauxqs's own startFauxqs() listens on every interface; its app bound to loopback keeps SQS local.
  const sqs = buildApp({ logger: false });
  const sqsEndpoint = await sqs.listen({ port: 0, host });
  return {
    dynamoEndpoint: `http://${host}:${(dynamo.address() as AddressInfo).port}`,
    sqsEndpoint,
    async stop() {
      await Promise.all([new Promise((resolve) => dynamo.close(resolve)), sqs.close()]);
    },
  };
}
