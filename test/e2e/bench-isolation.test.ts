import { describe, expect, it } from 'vitest';
import {
  checkTargets,
  summarise,
  type VariantResult,
  type VariantSample,
} from '../../bench/isolation-report.js';
import { percentiles } from '../../bench/pipeline.js';

/** The isolation section's arithmetic, on made-up samples: the bench measures, these pin how it counts. */
const sample = (overrides: Partial<VariantSample> = {}): VariantSample => ({
  variant: 'hanging',
  expected: 4,
  publishFailures: 0,
  complete: true,
  since: 1_000,
  end: 9_000,
  arrivals: [
    { id: 'e0', path: '/h/0', at: 1_100 },
    { id: 'e0', path: '/h/1', at: 1_200 },
    { id: 'e1', path: '/h/0', at: 2_300 },
    // A duplicate: counted once, at its first arrival.
    { id: 'e1', path: '/h/0', at: 2_900 },
    { id: 'e1', path: '/h/1', at: 3_000 },
  ],
  publishedAt: new Map([
    ['e0', 1_000],
    ['e1', 2_000],
  ]),
  billed: { invocations: 2, billedMs: 2_000 },
  memoryMb: 1024,
  misbehaving: { messages: 4, requests: 1 },
  ...overrides,
});

const variant = (name: VariantResult['variant'], fields: Partial<VariantResult>): VariantResult => ({
  ...summarise(sample({ variant: name })),
  ...fields,
});

describe('bench isolation figures', () => {
  it('takes nearest-rank percentiles and leaves out values that are not numbers', () => {
    const values = [...Array.from({ length: 100 }, (_, index) => index + 1), Number.NaN];
    expect(percentiles(values)).toEqual({ p50: 50, p95: 95, p99: 99 });
    expect(percentiles([])).toEqual({ p50: 0, p95: 0, p99: 0 });
  });

  it('counts each delivery once, from its publish to its first arrival', () => {
    const result = summarise(sample());
    expect(result.arrived).toBe(4);
    expect(result.duplicates).toBe(1);
    expect(result.latencyMs).toEqual({ p50: 200, p95: 1_000, p99: 1_000 });
    // From the first publish to the last arrival: 4 deliveries in 2 s.
    expect(result.seconds).toBe(2);
    expect(result.deliveriesPerSecond).toBe(2);
  });

  it('runs an incomplete variant to its end and bills per delivery that arrived', () => {
    const result = summarise(sample({ complete: false, expected: 8 }));
    expect(result.seconds).toBe(8);
    expect(result.deliver.secondsPerDelivery).toBe(0.5);
    // 2 requests at $0.20 per million, 2 GB-s at $0.0000133334, over 4 deliveries, per million.
    expect(result.deliver.usdPerMillion).toBeCloseTo(((2 * 0.2e-6 + 2 * 0.0000133334) / 4) * 1e6, 6);
    expect(result.misbehaving).toEqual({ messages: 4, requests: 1, perMessage: 0.25 });
  });

  it('has nothing per delivery when nothing arrived', () => {
    const result = summarise(sample({ arrivals: [], complete: false }));
    expect(result.arrived).toBe(0);
    expect(result.deliver.secondsPerDelivery).toBeNaN();
    expect(result.latencyMs.p99).toBe(0);
  });

  it('checks each variant against the baseline of the same run', () => {
    const latency = (p99: number) => ({ p50: p99 / 2, p95: p99, p99 });
    const checks = checkTargets([
      variant('all healthy', { deliveriesPerSecond: 400, latencyMs: latency(500) }),
      variant('failing', { deliveriesPerSecond: 360, latencyMs: latency(1_500) }),
      variant('hanging', {
        deliveriesPerSecond: 359,
        latencyMs: latency(1_501),
        complete: false,
        misbehaving: { messages: 400, requests: 101, perMessage: 101 / 400 },
      }),
      variant('bursting tenant', { latencyMs: latency(1_999) }),
    ]);
    const met = Object.fromEntries(checks.map((check) => [`${check.variant}: ${check.target}`, check.met]));
    expect(met).toEqual({
      'failing: every healthy delivery arrives': true,
      'failing: healthy throughput ≥ 90% of baseline': true,
      'failing: healthy p99 ≤ max(3 × baseline, 1,000 ms) = 1,500 ms': true,
      'hanging: every healthy delivery arrives': false,
      'hanging: healthy throughput ≥ 90% of baseline': false,
      'hanging: healthy p99 ≤ max(3 × baseline, 1,000 ms) = 1,500 ms': false,
      'hanging: ≤ 1 request per 4 messages to a hanging endpoint': false,
      'bursting tenant: other tenant p99 < 2,000 ms': true,
    });
  });

  it('uses the 1 s floor when three times the baseline p99 is less', () => {
    const p99 = checkTargets([
      variant('all healthy', { latencyMs: { p50: 10, p95: 20, p99: 30 } }),
      variant('slow', { latencyMs: { p50: 10, p95: 20, p99: 1_000 } }),
    ]).find((check) => check.target.startsWith('healthy p99'));
    expect(p99?.target).toBe('healthy p99 ≤ max(3 × baseline, 1,000 ms) = 1,000 ms');
    expect(p99?.met).toBe(true);
  });
});
