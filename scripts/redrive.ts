import { redriveCommand } from './dead-letters.js';

/**
 * Operator command: moves a DLQ's messages back to the queue that dead-lettered them, or to --destination.
 *   npm run redrive -- --dlq <DeliveryDeadLetterQueueArn output> [--region eu-west-1]
 *   npm run redrive -- --dlq <RuleDeadLetterQueueUrl output> --destination <FanoutQueueArn output>
 * On AWS, without --destination, it starts an SQS message move task (StartMessageMoveTask) to the DLQ's one
 * source queue (ListDeadLetterSourceQueues) with the standard credential chain; with --destination, or with --endpoint <url> (local mode's SQS), it moves the messages
 * itself, message by message (see scripts/dead-letters.ts).
 */
process.exitCode = await redriveCommand(process.argv.slice(2), { log: console.log, error: console.error });
