import { describe, expect, inject, it } from 'vitest';
import { CHAOS_DEFAULTS, type ChaosSettings, runChaos } from '../chaos/scenario.js';

/**
 * `npm run chaos` in small and seeded: the same scenario, receivers and faults, 30 events instead of 1,000.
 * Retries follow at once and attempts time out after 500 ms, so the always-failing receivers' 16 attempts
 * take seconds. Deliver crashes are rarer than in the full run (1% against 5%), since each one hides its
 * batch for the visibility timeout, and fan-out crashes more frequent (5% against 3%), so that its few
 * dozen invocations see some. Fault rates are kept with bounded random gaps (local/faults.ts), so at these
 * volumes every kind of fault is injected; the odds that a healthy pipeline fails the checks are about 1e-4
 * (ChaosMath).
 */
const SMALL: ChaosSettings = {
  ...CHAOS_DEFAULTS,
  events: 30,
  // One publisher: fan-out then takes events one or two at a time, so there are enough invocations to crash.
  publishers: 1,
  retryScheduleSeconds: Array.from({ length: 16 }, () => 0),
  attemptTimeoutMs: 500,
  throttledRetryMinSeconds: 0,
  faults: { ...CHAOS_DEFAULTS.faults, crash: { fanout: 0.05, deliver: 0.01 } },
  timeoutSeconds: 90,
};

describe('Chaos: nothing is lost under load and faults (seeded, small)', () => {
  it('delivers or dead-letters every pair, disables the 410 subscription, and balances the books', async () => {
    const result = await runChaos(
      { dynamoEndpoint: inject('dynamoEndpoint'), sqsEndpoint: inject('sqsEndpoint') },
      SMALL,
    );

    // Failed checks come with their figures.
    expect(result.checks.filter((check) => !check.passed)).toEqual([]);
    expect(result.checks).toHaveLength(6);
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
  }, 150_000);
});
