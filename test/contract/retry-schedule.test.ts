import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETRY_SCHEDULE_SECONDS,
  DEFAULT_THROTTLED_RETRY_MIN_SECONDS,
  delayAfterAttempt,
  MAX_VISIBILITY_SECONDS,
  parseRetryAfter,
  parseRetrySchedule,
  type RetryPolicy,
  retryDelaySeconds,
  VISIBILITY_CEILING_MARGIN_SECONDS,
  visibilityLeftSeconds,
  worstCaseScheduleSeconds,
} from '../../lambdas/contract/retry-schedule.js';
import { serviceDefinition } from '../../lib/definitions.js';

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

describe('Retry delay after a failed attempt', () => {
  // Four attempts; no jitter unless a test says so.
  const policy: RetryPolicy = {
    schedule: [0, 100, 1_000, 30_000],
    throttledRetryMinSeconds: 60,
    random: () => 0.5,
  };
  const delay = (failed: Parameters<typeof retryDelaySeconds>[1], overrides: Partial<RetryPolicy> = {}) =>
    retryDelaySeconds({ ...policy, ...overrides }, failed);

  it('waits the scheduled step after an error status, a connection error or a DNS failure', () => {
    expect(delay({ attempt: 1, statusCode: 500 })).toBe(100);
    expect(delay({ attempt: 2, statusCode: 500 })).toBe(1_000);
    expect(delay({ attempt: 3, statusCode: 302 })).toBe(30_000);
    expect(delay({ attempt: 1, errorClass: 'connection_error' })).toBe(100);
    expect(delay({ attempt: 1, errorClass: 'dns_error' })).toBe(100);
  });

  it('after a 429 or a timeout without Retry-After waits at least the throttled minimum', () => {
    const shortSteps = { schedule: [0, 5, 30, 600] };
    expect(delay({ attempt: 1, statusCode: 429 }, shortSteps)).toBe(60);
    expect(delay({ attempt: 2, errorClass: 'timeout' }, shortSteps)).toBe(60);
    // A longer step stays as it is.
    expect(delay({ attempt: 3, statusCode: 429 }, shortSteps)).toBe(600);
    expect(delay({ attempt: 3, errorClass: 'timeout' }, shortSteps)).toBe(600);
    // The minimum is for throttling and timeouts only: a 503 or a 500 without Retry-After waits the step.
    expect(delay({ attempt: 1, statusCode: 503 }, shortSteps)).toBe(5);
    expect(delay({ attempt: 1, statusCode: 500 }, shortSteps)).toBe(5);
    expect(delay({ attempt: 1, errorClass: 'connection_error' }, shortSteps)).toBe(5);
    expect(DEFAULT_THROTTLED_RETRY_MIN_SECONDS).toBe(60);
  });

  it.each([429, 503])(
    'honours the Retry-After of a %i, clamped to between 1× and 2× the step',
    (statusCode) => {
      // Steps of 100 s and 1,000 s, both above the throttled minimum of 60 s.
      expect(delay({ attempt: 1, statusCode, retryAfterSeconds: 150 })).toBe(150);
      expect(delay({ attempt: 1, statusCode, retryAfterSeconds: 100 })).toBe(100);
      expect(delay({ attempt: 1, statusCode, retryAfterSeconds: 200 })).toBe(200);
      expect(delay({ attempt: 1, statusCode, retryAfterSeconds: 0 })).toBe(100);
      expect(delay({ attempt: 1, statusCode, retryAfterSeconds: 99 })).toBe(100);
      expect(delay({ attempt: 1, statusCode, retryAfterSeconds: 201 })).toBe(200);
      expect(delay({ attempt: 2, statusCode, retryAfterSeconds: 86_400 })).toBe(2_000);
    },
  );

  it('never lets a Retry-After shorten the throttled minimum of a 429, but clamps a 503 to the step', () => {
    // A 5 s step clamps Retry-After to 5–10 s, below the 60 s a 429 without it waits.
    const shortSteps = { schedule: [0, 5, 10] };
    expect(delay({ attempt: 1, statusCode: 429 }, shortSteps)).toBe(60);
    for (const retryAfterSeconds of [0, 1, 5, 8, 10, 60, 120, 86_400]) {
      expect(delay({ attempt: 1, statusCode: 429, retryAfterSeconds }, shortSteps)).toBe(60);
    }
    expect(delay({ attempt: 1, statusCode: 503, retryAfterSeconds: 1 }, shortSteps)).toBe(5);
    expect(delay({ attempt: 1, statusCode: 503, retryAfterSeconds: 8 }, shortSteps)).toBe(8);
    expect(delay({ attempt: 1, statusCode: 503, retryAfterSeconds: 120 }, shortSteps)).toBe(10);
    // Where the clamp reaches above the minimum, a 429's Retry-After counts within it.
    const midSteps = { schedule: [0, 40, 100] };
    expect(delay({ attempt: 1, statusCode: 429, retryAfterSeconds: 10 }, midSteps)).toBe(60);
    expect(delay({ attempt: 1, statusCode: 429, retryAfterSeconds: 70 }, midSteps)).toBe(70);
    expect(delay({ attempt: 1, statusCode: 429, retryAfterSeconds: 120 }, midSteps)).toBe(80);
    expect(delay({ attempt: 1, statusCode: 503, retryAfterSeconds: 10 }, midSteps)).toBe(40);
  });

  it('ignores Retry-After on other statuses', () => {
    expect(delay({ attempt: 1, statusCode: 500, retryAfterSeconds: 150 })).toBe(100);
    expect(delay({ attempt: 1, statusCode: 301, retryAfterSeconds: 150 })).toBe(100);
  });

  it('clamps to the jittered step, not the configured one', () => {
    const low = { random: () => 0 }; // step 100 → 80
    const high = { random: () => 0.999999 }; // step 100 → 120
    expect(delay({ attempt: 1, statusCode: 429, retryAfterSeconds: 10 }, low)).toBe(80);
    expect(delay({ attempt: 1, statusCode: 429, retryAfterSeconds: 1_000 }, low)).toBe(160);
    // The throttled minimum is not jittered: a 429 whose clamp stays below it waits exactly the minimum.
    expect(
      delay({ attempt: 1, statusCode: 429, retryAfterSeconds: 1_000 }, { ...low, schedule: [0, 30] }),
    ).toBe(60);
    expect(delay({ attempt: 1, statusCode: 503, retryAfterSeconds: 10 }, high)).toBe(120);
    expect(delay({ attempt: 1, statusCode: 503, retryAfterSeconds: 1_000 }, high)).toBe(240);
  });

  it('leaves what is left of 12 hours since the invocation, less a margin that covers receive to retry', () => {
    const invokedAt = new Date('2026-12-01T00:00:00Z');
    const at = (seconds: number) => new Date(invokedAt.getTime() + seconds * 1000);
    expect(visibilityLeftSeconds(invokedAt, invokedAt)).toBe(
      MAX_VISIBILITY_SECONDS - VISIBILITY_CEILING_MARGIN_SECONDS,
    );
    expect(visibilityLeftSeconds(invokedAt, at(10.2))).toBe(
      MAX_VISIBILITY_SECONDS - VISIBILITY_CEILING_MARGIN_SECONDS - 11,
    );
    expect(visibilityLeftSeconds(invokedAt, at(50_000))).toBe(0);
    // The receive can precede the invocation by up to the queue's visibility timeout (later, the receipt is
    // stale), and the attempt runs up to the function's timeout before the visibility is changed.
    const { queues, functions } = serviceDefinition();
    expect(VISIBILITY_CEILING_MARGIN_SECONDS).toBeGreaterThan(
      queues.delivery.visibilityTimeoutSeconds + functions.deliver.timeoutSeconds,
    );
  });

  it('never asks SQS for more than its 12-hour visibility limit', () => {
    const longSteps = { schedule: [0, 36_000, 36_000] };
    expect(delay({ attempt: 1, statusCode: 429, retryAfterSeconds: 100_000 }, longSteps)).toBe(
      MAX_VISIBILITY_SECONDS,
    );
    expect(delay({ attempt: 1, statusCode: 429 }, { throttledRetryMinSeconds: 50_000 })).toBe(
      MAX_VISIBILITY_SECONDS,
    );
    expect(
      delay({ attempt: 1, statusCode: 429, retryAfterSeconds: 100 }, { throttledRetryMinSeconds: 50_000 }),
    ).toBe(MAX_VISIBILITY_SECONDS);
    expect(delay({ attempt: 1, errorClass: 'timeout' }, { throttledRetryMinSeconds: 50_000 })).toBe(
      MAX_VISIBILITY_SECONDS,
    );
  });

  it('keeps a zero step at zero for a 503 even when Retry-After asks for more, but not for a 429', () => {
    const zeroStep = { schedule: [0, 0, 10] };
    expect(delay({ attempt: 1, statusCode: 503, retryAfterSeconds: 30 }, zeroStep)).toBe(0);
    expect(delay({ attempt: 1, statusCode: 500 }, zeroStep)).toBe(0);
    expect(delay({ attempt: 1, statusCode: 429 }, zeroStep)).toBe(60);
    expect(delay({ attempt: 1, statusCode: 429, retryAfterSeconds: 30 }, zeroStep)).toBe(60);
    expect(delay({ attempt: 1, errorClass: 'timeout' }, zeroStep)).toBe(60);
  });

  it('is 0 after the last attempt whatever the receiver asked, so SQS dead-letters the message at once', () => {
    for (const attempt of [4, 5, 9]) {
      expect(delay({ attempt, statusCode: 500 })).toBe(0);
      expect(delay({ attempt, statusCode: 429 })).toBe(0);
      expect(delay({ attempt, statusCode: 429, retryAfterSeconds: 3_600 })).toBe(0);
      expect(delay({ attempt, statusCode: 503, retryAfterSeconds: 3_600 })).toBe(0);
      expect(delay({ attempt, errorClass: 'timeout' })).toBe(0);
    }
    // The attempt before the last still honours it.
    expect(delay({ attempt: 3, statusCode: 429, retryAfterSeconds: 40_000 })).toBe(40_000);
  });
});

describe('Retry-After header', () => {
  const now = new Date('2015-10-21T07:26:00.000Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter(' 5 ', now)).toBe(5);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('86400', now)).toBe(86_400);
  });

  it("reads an HTTP-date in each of RFC 9110's three forms, as seconds from now", () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', now)).toBe(120);
    expect(parseRetryAfter('Wednesday, 21-Oct-15 07:28:00 GMT', now)).toBe(120);
    // asctime carries no zone and means GMT, whatever the local time zone.
    expect(parseRetryAfter('Wed Oct 21 07:28:00 2015', now)).toBe(120);
  });

  it('rounds part of a second up and counts a past date as 0', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', new Date('2015-10-21T07:25:59.500Z'))).toBe(121);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:20:00 GMT', now)).toBe(0);
  });

  it('treats anything else as no header', () => {
    for (const value of [
      null,
      undefined,
      '',
      '  ',
      'soon',
      '-5',
      '1.5',
      '1e3',
      '2015-10-21T07:28:00Z',
      'Mon, 99 Foo 2015',
    ]) {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    }
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
