import { redriveCommand } from './dead-letters.js';

/**
 * Operator command: moves a DLQ's messages back to the queue that dead-lettered them.
 *   npm run redrive -- --dlq <DeliveryDeadLetterQueueArn output> [--region eu-west-1]
 * On AWS it starts an SQS message move task (StartMessageMoveTask) with the standard credential chain;
 * with --endpoint <url> it works on local mode's SQS instead (see scripts/dead-letters.ts).
 */
process.exitCode = await redriveCommand(process.argv.slice(2), { log: console.log, error: console.error });
