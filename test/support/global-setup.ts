import type { TestProject } from 'vitest/node';
import { startEngines } from '../../local/emulators/engines.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    sqsEndpoint: string;
  }
}

/** One dynalite and one fauxqs for the whole run; each test file provisions its own tables and queues. */
export default async function setup(project: TestProject) {
  const engines = await startEngines();
  project.provide('dynamoEndpoint', engines.dynamoEndpoint);
  project.provide('sqsEndpoint', engines.sqsEndpoint);
  return () => engines.stop();
}
