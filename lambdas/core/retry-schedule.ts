/**
 * The retry schedule is data: entry i is the delay, in seconds, before attempt i + 1 (entry 0 is the first
 * attempt, normally 0 = immediately). Its length is the number of attempts, which is also the delivery
 * queue's maxReceiveCount, so the stack derives both from the same list.
 */
export const DEFAULT_RETRY_SCHEDULE_SECONDS: readonly number[] = [
  0, 5, 300, 1_800, 7_200, 18_000, 36_000, 36_000,
];

/** SQS ChangeMessageVisibility accepts at most 12 hours. */
export const MAX_VISIBILITY_SECONDS = 43_200;
/** Each scheduled delay is spread by up to ±20% so that retries after an outage do not arrive in one wave. */
export const JITTER_RATIO = 0.2;

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

/** Worst-case time from the first attempt to the last, used to size queue retention. */
export function worstCaseScheduleSeconds(schedule: readonly number[]): number {
  return Math.ceil(schedule.reduce((sum, d) => sum + d, 0) * (1 + JITTER_RATIO));
}
