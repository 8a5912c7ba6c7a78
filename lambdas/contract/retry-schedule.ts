/**
 * The retry schedule is data: entry i is the delay, in seconds, before attempt i + 1 (entry 0 is the first
 * attempt, normally 0 = immediately). Its length is the number of attempts, which is also the delivery
 * queue's maxReceiveCount, so the stack derives both from the same list.
 */
export const DEFAULT_RETRY_SCHEDULE_SECONDS: readonly number[] = [
  0, 5, 300, 1_800, 7_200, 18_000, 36_000, 36_000,
];

/**
 * SQS ChangeMessageVisibility accepts at most 12 hours, and that counts from the ReceiveMessage: however
 * often the visibility is changed, a received message stays invisible at most 12 hours after its receive.
 */
export const MAX_VISIBILITY_SECONDS = 43_200;
/**
 * What a retry leaves unused of those 12 hours. The deliver step knows when its invocation started, not
 * when the event source mapping received the batch: the mapping may hold a received batch while it retries
 * a throttled invocation, up to the queue's visibility timeout (180 s for deliver; later the receipt is
 * stale anyway), and the attempt itself runs up to the function's timeout (30 s) before the change. Five
 * minutes covers both and clock differences; a test checks it against the delivery queue's definition.
 */
export const VISIBILITY_CEILING_MARGIN_SECONDS = 300;
/** Each scheduled delay is spread by up to ±20% so that retries after an outage do not arrive in one wave. */
const JITTER_RATIO = 0.2;

export function parseRetrySchedule(text: string): number[] {
  const parts = text.split(',').map((part) => part.trim());
  const delays = parts.map(Number);
  if (parts.some((part) => part === '') || delays.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`retry schedule must be comma-separated whole seconds, got "${text}"`);
  }
  validateRetrySchedule(delays);
  return delays;
}

export function validateRetrySchedule(delays: readonly number[]): void {
  if (delays.length < 1 || delays.length > 50) {
    throw new Error(`retry schedule must have between 1 and 50 attempts, got ${delays.length}`);
  }
  const tooLong = delays.find((d) => d * (1 + JITTER_RATIO) > MAX_VISIBILITY_SECONDS);
  if (tooLong !== undefined) {
    throw new Error(
      `retry delay ${tooLong}s is too long: with jitter it must stay within SQS's ${MAX_VISIBILITY_SECONDS}s visibility limit`,
    );
  }
}

/**
 * Seconds to keep a message invisible after failed attempt number `attempt` (1-based, SQS's receive count).
 * After the last attempt it is 0: the next receive finds the count above maxReceiveCount and SQS moves the
 * message to the DLQ at once.
 */
export function delayAfterAttempt(
  schedule: readonly number[],
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = schedule[attempt];
  if (base === undefined || base === 0) return 0;
  const jittered = base * (1 + (random() * 2 - 1) * JITTER_RATIO);
  return Math.min(MAX_VISIBILITY_SECONDS, Math.max(0, Math.round(jittered)));
}

/**
 * The longest visibility SQS still accepts at `now` for a message of a batch whose invocation started at
 * `invokedAt` (its receive came shortly before: the margin above).
 */
export function visibilityLeftSeconds(invokedAt: Date, now: Date): number {
  const elapsed = Math.max(0, Math.ceil((now.getTime() - invokedAt.getTime()) / 1000));
  return Math.max(0, MAX_VISIBILITY_SECONDS - VISIBILITY_CEILING_MARGIN_SECONDS - elapsed);
}

/** Worst-case time from the first attempt to the last, used to size queue retention. */
export function worstCaseScheduleSeconds(schedule: readonly number[]): number {
  return Math.ceil(schedule.reduce((sum, d) => sum + d, 0) * (1 + JITTER_RATIO));
}

/** What a failed attempt tells the delay rule. */
export interface FailedAttempt {
  /** 1-based, SQS's receive count. */
  attempt: number;
  statusCode?: number | undefined;
  errorClass?: string | undefined;
  /** The receiver's Retry-After, already in seconds from now (parseRetryAfter). */
  retryAfterSeconds?: number | undefined;
}

export interface RetryPolicy {
  schedule: readonly number[];
  /** Shortest wait after a 429 (whatever its Retry-After says) or a timeout. */
  throttledRetryMinSeconds: number;
  random?: () => number;
}

export const DEFAULT_THROTTLED_RETRY_MIN_SECONDS = 60;

/**
 * Seconds until the next attempt after a failed one. The schedule's (jittered) step is the base.
 *   429                 max(throttledRetryMinSeconds, Retry-After clamped to [1×, 2×] the step), or the
 *                       minimum and the step without Retry-After: a throttling receiver may slow us down,
 *                       never speed us up
 *   503 + Retry-After   Retry-After clamped to [1×, 2×] the step, so the receiver can slow us down but not
 *                       stall the message or make us hammer it
 *   timeout             at least throttledRetryMinSeconds, since the receiver is overloaded
 *   anything else       the step
 * Never above SQS's visibility limit, and 0 after the last attempt whatever the receiver asked, so the
 * message goes to the DLQ at once.
 */
export function retryDelaySeconds(policy: RetryPolicy, failed: FailedAttempt): number {
  if (failed.attempt >= policy.schedule.length) return 0;
  const step = delayAfterAttempt(policy.schedule, failed.attempt, policy.random);
  const mayNameRetryAfter = failed.statusCode === 429 || failed.statusCode === 503;
  let delay = step;
  if (mayNameRetryAfter && failed.retryAfterSeconds !== undefined) {
    delay = Math.min(Math.max(failed.retryAfterSeconds, step), 2 * step);
  }
  if (failed.statusCode === 429 || failed.errorClass === 'timeout') {
    delay = Math.max(delay, policy.throttledRetryMinSeconds);
  }
  return Math.min(delay, MAX_VISIBILITY_SECONDS);
}

const HTTP_DATE_START = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)/;

/**
 * A Retry-After header in seconds from `now`: delta-seconds, or an HTTP-date in any of RFC 9110's three
 * forms (all start with the day name; asctime's has no zone and means GMT). A date in the past is 0;
 * anything else is undefined, and counts as no header.
 */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text);
  if (!HTTP_DATE_START.test(text)) return undefined;
  const at = Date.parse(text.endsWith('GMT') ? text : `${text} GMT`);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}
