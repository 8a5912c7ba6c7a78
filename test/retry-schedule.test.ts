import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETRY_SCHEDULE_SECONDS,
  delayAfterAttempt,
  MAX_VISIBILITY_SECONDS,
  parseRetrySchedule,
  worstCaseScheduleSeconds,
} from '../lambdas/core/retry-schedule.js';
import { serviceDefinition } from '../lib/definitions.js';

describe('Retry schedule', () => {
  it('defaults to eight attempts: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h', () => {
    expect(DEFAULT_RETRY_SCHEDULE_SECONDS).toEqual([0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
  });

  it('waits the next step after each failed attempt, and nothing after the last', () => {
    const schedule = [0, 10, 60];
    const noJitter = () => 0.5;
    expect(delayAfterAttempt(schedule, 1, noJitter)).toBe(10);
    expect(delayAfterAttempt(schedule, 2, noJitter)).toBe(60);
    expect(delayAfterAttempt(schedule, 3, noJitter)).toBe(0);
    expect(delayAfterAttempt(schedule, 9, noJitter)).toBe(0);
  });

  it('spreads each delay by at most ±20%', () => {
    const schedule = [0, 1000];
    expect(delayAfterAttempt(schedule, 1, () => 0)).toBe(800);
    expect(delayAfterAttempt(schedule, 1, () => 0.999999)).toBe(1200);
    for (let i = 0; i < 200; i++) {
      const delay = delayAfterAttempt(schedule, 1);
      expect(delay).toBeGreaterThanOrEqual(800);
      expect(delay).toBeLessThanOrEqual(1200);
    }
  });

  it('never asks SQS for more than its 12-hour visibility limit', () => {
    expect(() => parseRetrySchedule('0,40000')).toThrow(/visibility limit/);
    expect(delayAfterAttempt([0, 36_000], 1, () => 0.999999)).toBeLessThanOrEqual(MAX_VISIBILITY_SECONDS);
  });

  it('parses comma-separated seconds and rejects anything else', () => {
    expect(parseRetrySchedule('0, 1,2')).toEqual([0, 1, 2]);
    for (const bad of ['', '1,,2', '-1', '1.5', 'a', '1;2']) expect(() => parseRetrySchedule(bad)).toThrow();
  });

  it('knows the longest the whole schedule can take', () => {
    expect(worstCaseScheduleSeconds([0, 100, 200])).toBe(360);
  });
});

describe('Service definition: retry schedule', () => {
  it('refuses a schedule that would leave dead letters less than 7 days in the DLQ', () => {
    const twelveHours = 36_000;
    expect(() => serviceDefinition({ retryScheduleSeconds: Array(14).fill(twelveHours) })).not.toThrow();
    expect(() => serviceDefinition({ retryScheduleSeconds: Array(15).fill(twelveHours) })).toThrow(
      /within 7 days/,
    );
  });
});
