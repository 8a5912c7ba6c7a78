import { describe, expect, inject, it } from 'vitest';
import { CHAOS_DEFAULTS, type ChaosSettings, runChaos } from '../../chaos/scenario.js';

/**
 * `npm run chaos` in small and seeded: the same scenario, receivers and faults, 30 events instead of 1,000.
 * Retries follow at once. Receivers, pollers and handlers share one process, so on a loaded machine an
 * answer can wait a second to be read: attempts time out after 2 s, so only hangs meet the timeout, and
 * the visibility timeout stays six times that bound. Deliver crashes are rarer than in the full run (1%
 * against 5%), since each one hides its batch for the visibility timeout, and fan-out crashes more
 * frequent (6% against 3%). Fault rates are kept with bounded random gaps (chaos/faults.ts), and with seed
 * 1 each kind's first fault falls within the fewest opportunities any timing gives (fan-out's 8th of at
 * least 9 invocations, deliver's 42nd of at least 147 for 1,470 receives, the first surfaced throttle at
 * the 229th DynamoDB call, of one or more per invocation and per publish), so every kind is injected however fast the machine. The odds that a healthy
 * pipeline fails the checks are about 1e-4 (ChaosMath).
 */
const SMALL: ChaosSettings = {
  ...CHAOS_DEFAULTS,
  events: 30,
  // One publisher: fan-out then takes events one or two at a time, so there are enough invocations to crash.
  publishers: 1,
  retryScheduleSeconds: Array.from({ length: 16 }, () => 0),
  attemptTimeoutMs: 2_000,
  visibilityTimeoutSeconds: 12,
  throttledRetryMinSeconds: 0,
  faults: { ...CHAOS_DEFAULTS.faults, crash: { fanout: 0.06, deliver: 0.01 } },
  // A bound for a loaded machine; alone the run drains in well under a minute.
  timeoutSeconds: 240,
};

describe('Chaos: nothing is lost under load and faults (seeded, small)', () => {
  it('delivers or dead-letters every pair, disables the 410 subscription, and balances the books', async () => {
    const result = await runChaos(
      { dynamoEndpoint: inject('dynamoEndpoint'), sqsEndpoint: inject('sqsEndpoint') },
      SMALL,
    );

    // Failed checks come with their figures.
    expect(result.checks.filter((check) => !check.passed)).toEqual([]);
    expect(result.checks).toHaveLength(8);
    expect(result.pollerErrors).toEqual([]);
    const { crashes, sendBatch, dynamo } = result.faults;
    expect(crashes.fanout).toBeGreaterThan(0);
    expect(crashes.deliver).toBeGreaterThan(0);
    expect(sendBatch.partialFailures).toBeGreaterThan(0);
    expect(dynamo.absorbed).toBeGreaterThan(0);
    expect(dynamo.surfaced).toBeGreaterThan(0);
    const flaky = result.receivers.filter((receiver) => receiver.kind === 'flaky');
    for (const answer of ['error', 'hang', 'reset', 'slow'] as const) {
      expect(flaky.reduce((sum, receiver) => sum + receiver.answers[answer], 0)).toBeGreaterThan(0);
    }
  }, 300_000);
});
