import { Validations } from 'aws-cdk-lib';
import type { ServiceDefinition } from './definitions.js';
import type { FanoutStack } from './fanout-stack.js';

/**
 * The cdk-nag AwsSolutions findings the stack accepts, each on the one construct it concerns and with why it
 * is acceptable there. Everything else the checks report is fixed in the constructs instead (TLS-only queues
 * and topic, encryption at rest, DLQs with alarms, API access logs, log retention, a role per function that may
 * write only its own log group instead of AWSLambdaBasicExecutionRole). bin/app.ts runs the checks on every
 * synth; test/infra/nag.test.ts lists the acknowledged ids, so a new finding fails the tests.
 */
export function acknowledgeNagFindings(stack: FanoutStack, definition: ServiceDefinition): void {
  const { storage, ingestion } = stack;

  // Only where the definition turns point-in-time recovery off: tenants and subscriptions keep it.
  const withoutRecovery = {
    events: `Stored events are a claim-check and replay window that TTL empties after ${definition.eventRetentionDays} days; restoring them to a point in time would bring back a window that is expiring anyway, for a backup cost that grows with event volume.`,
    attempts: `The attempt log is a delivery history that TTL empties after ${definition.attemptRetentionDays} days and that no delivery depends on; point-in-time recovery would cost more than the history is worth.`,
  } as const;
  for (const [name, reason] of Object.entries(withoutRecovery) as [keyof typeof withoutRecovery, string][]) {
    if (!definition.tables[name].pointInTimeRecovery) {
      Validations.of(storage[name]).acknowledge({ id: 'AwsSolutions-DDB3', reason });
    }
  }

  Validations.of(ingestion.deadLetterQueue.queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason:
      'This queue is the dead-letter queue of the EventBridge rule target (DeadLetterConfig), which the rule only recognizes in SQS redrive policies and Lambda DLQ settings; a dead-letter queue needs no DLQ of its own, keeps messages for 14 days and alarms on the first one.',
  });
}
