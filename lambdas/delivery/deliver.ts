import type { DeliveryMessage } from '../contract/delivery-message.js';
import { anyFilterMatches } from '../contract/event-types.js';
import {
  DEFAULT_THROTTLED_RETRY_MIN_SECONDS,
  parseRetryAfter,
  type RetryPolicy,
  retryDelaySeconds,
  visibilityLeftSeconds,
  worstCaseScheduleSeconds,
} from '../contract/retry-schedule.js';
import { logger } from '../platform/logger.js';
import type { HostResolver } from '../security/address-guard.js';
import { signatureHeaders } from '../security/signing.js';
import { type AttemptLog, newAttemptId, RESPONSE_BODY_LIMIT_BYTES } from '../storage/attempts.js';
import type { EventStore, StoredEvent } from '../storage/events.js';
import type { StoredSubscription } from '../storage/subscription-model.js';
import { signingSecrets } from '../storage/subscription-secrets.js';
import { type AdmissionDependencies, admitAttempt, type WaitReason } from './admission.js';
import { applyHealthChange, type HealthChange, type HealthDependencies, healthChange } from './health.js';
import type { DeliverySession } from './session.js';
import {
  classifyError,
  type ErrorClass,
  readBodyPrefix,
  transportOf,
  type WebhookFetch,
  type WebhookResponse,
} from './transport.js';

export interface DeliveryDependencies extends HealthDependencies, AdmissionDependencies {
  events: EventStore;
  attempts: AttemptLog;
  retryScheduleSeconds: readonly number[];
  autoDisableAfterSeconds: number;
  attemptTimeoutMs: number;
  /** Shortest wait after a 429 (whatever its Retry-After says) or a timeout; 60 s by default. */
  throttledRetryMinSeconds?: number;
  /** Jitter source; Math.random by default. */
  random?: () => number;
  /**
   * The deliver step's clock, for everything it decides and records: which secrets sign, the signature's
   * timestamp, health and auto-disable, attempt times. Tests move it to compress days into seconds.
   */
  now?: () => Date;
  /**
   * False in AWS mode: each connection resolves the host again and goes only to an address the SSRF guard
   * has just checked (address-guard.ts); a refused host is a failed attempt with errorClass blocked_address.
   */
  allowPrivateUrls: boolean;
  /** The guard's resolver; the system's by default. */
  resolveHost?: HostResolver | undefined;
  /** Injectable for tests of transport edge cases; webhookTransport(this) otherwise. */
  fetch?: WebhookFetch;
}

type SkipReason =
  | 'subscription_deleted'
  | 'subscription_disabled'
  | 'event_type_unsubscribed'
  | 'event_expired';

/** What happens to a failed delivery's message: retried later, moved to the DLQ now, or deleted. */
type FailedDisposition = 'retry' | 'dead_letter' | 'drop';

/** The explicit result of handling one delivery message; the handler turns it into SQS actions. */
export type DeliveryResult =
  | { result: 'skipped'; reason: SkipReason }
  /**
   * No attempt, for `reason` (admission.ts). The message waits this long, or, when its schedule's time would
   * run out first, is left for the DLQ as if every attempt had failed.
   */
  | { result: 'waiting'; reason: WaitReason; waitSeconds: number; then: 'wait' | 'dead_letter' }
  | { result: 'delivered'; statusCode: number; latencyMs: number }
  | {
      result: 'failed';
      statusCode?: number;
      errorClass?: ErrorClass;
      latencyMs: number;
      then: FailedDisposition;
      /** The visibility timeout to set: the wait before the next attempt, 0 unless `then` is retry. */
      retryInSeconds: number;
    };

/** One HTTP exchange with a receiver. */
export type HttpOutcome =
  | { result: 'delivered'; statusCode: number; latencyMs: number; responseBody?: string }
  | {
      result: 'failed';
      statusCode?: number;
      errorClass?: ErrorClass;
      latencyMs: number;
      retryAfter?: string;
      responseBody?: string;
    };

export const USER_AGENT = 'webhook-fanout/0.1 (+https://www.standardwebhooks.com)';

/**
 * What the receive tells about a message: its attempt number, when its first copy was queued, and when the
 * invocation handling it began.
 */
export interface Receipt {
  attempt: number;
  queuedAt: Date;
  invokedAt: Date;
}

/**
 * Delivers one message: reads the subscription afresh (so a disabled, deleted or re-filtered subscription is
 * honoured even for messages queued before the change) and the event, makes one signed POST, updates the
 * subscription's health, records the attempt and decides what becomes of the message. `session` shares
 * reads and writes across a batch (delivery/session.ts).
 */
export async function deliver(
  deps: DeliveryDependencies,
  message: DeliveryMessage,
  { attempt, queuedAt, invokedAt }: Receipt,
  session: DeliverySession,
): Promise<DeliveryResult> {
  const now = deps.now?.() ?? new Date();
  const subscription = await session.subscription(message.tenantId, message.subscriptionId);
  if (!subscription) return { result: 'skipped', reason: 'subscription_deleted' };
  if (subscription.status !== 'active') return { result: 'skipped', reason: 'subscription_disabled' };
  const event = await session.event(message, now);
  if (!event) return { result: 'skipped', reason: 'event_expired' };
  if (!anyFilterMatches(subscription.eventTypes, event.type)) {
    return { result: 'skipped', reason: 'event_type_unsubscribed' };
  }
  const gate = await admitAttempt(deps, subscription, now);
  if (!gate.go) {
    const deadline = queuedAt.getTime() + worstCaseScheduleSeconds(deps.retryScheduleSeconds) * 1000;
    const then = now.getTime() + gate.waitSeconds * 1000 > deadline ? 'dead_letter' : 'wait';
    return { result: 'waiting', reason: gate.reason, waitSeconds: gate.waitSeconds, then };
  }

  const outcome = await postWebhook(subscription, event, now, {
    timeoutMs: deps.attemptTimeoutMs,
    fetch: deps.fetch ?? transportOf(deps),
    // The body is only worth reading when the attempt log keeps it.
    keepBody: (result) => deps.attempts.records(result, attempt),
  });
  const change = healthChange(subscription, outcome, now, deps.autoDisableAfterSeconds);
  const disabled = await recordHealth(deps, subscription, change, { eventId: event.id, now });

  const { responseBody, ...fields } = outcome;
  let result: Attempted;
  if (fields.result === 'delivered') {
    result = fields;
  } else {
    const { retryAfter, ...failed } = fields;
    const then = disposition(change, disabled, attempt, deps.retryScheduleSeconds);
    const retryInSeconds =
      then === 'retry'
        ? Math.min(
            retryDelaySeconds(retryPolicy(deps), {
              ...failed,
              attempt,
              // An HTTP-date counts from the attempt's start: off by the latency at most, within the clamp.
              retryAfterSeconds: parseRetryAfter(retryAfter, now),
            }),
            // SQS's 12 hours count from this receive, which was before the invocation started.
            visibilityLeftSeconds(invokedAt, now),
          )
        : 0;
    result = { ...failed, then, retryInSeconds };
  }

  await session.record(message.tenantId, {
    id: newAttemptId(now),
    eventId: event.id,
    subscriptionId: subscription.id,
    attempt,
    attemptedAt: now.toISOString(),
    result: result.result,
    ...(result.statusCode !== undefined ? { statusCode: result.statusCode } : {}),
    ...(result.result === 'failed' && result.errorClass ? { errorClass: result.errorClass } : {}),
    latencyMs: result.latencyMs,
    ...(responseBody !== undefined ? { responseBody } : {}),
    ...(result.result === 'failed' && result.then === 'retry'
      ? { nextAttemptAt: new Date(now.getTime() + result.retryInSeconds * 1000).toISOString() }
      : {}),
    ...(message.replay ? { replay: true } : {}),
  });
  return result;
}

type Attempted = Exclude<DeliveryResult, { result: 'skipped' | 'waiting' }>;

/**
 * The attempt has happened, so a failed health write (a throttle, say) must not fail the delivery: the
 * message would come back at once and send the webhook again. It goes on as a failure of its own, and the
 * next attempt's result decides again: every health change is a conditional write that a later attempt can
 * still make. True only when the subscription was disabled here.
 */
async function recordHealth(
  deps: DeliveryDependencies,
  subscription: StoredSubscription,
  change: HealthChange,
  context: { eventId: string; now: Date },
): Promise<boolean> {
  try {
    return await applyHealthChange(deps, subscription, change, context);
  } catch (error) {
    logger.error('subscription health not updated', {
      subscriptionId: subscription.id,
      eventId: context.eventId,
      change: change.kind,
      error: (error as Error).message,
    });
    return false;
  }
}

function disposition(
  change: HealthChange,
  disabled: boolean,
  attempt: number,
  schedule: readonly number[],
): FailedDisposition {
  // A 410 is never retried, disabled or not (the next 410 disables). Once an attempt has disabled its
  // subscription for failing too long a retry would only be skipped; a disable that did not happen (decided
  // on a stale read, or its write failed) is retried like any other failure.
  if (change.kind === 'disable' && (change.reason === 'endpoint_gone' || disabled)) return 'drop';
  return attempt >= schedule.length ? 'dead_letter' : 'retry';
}

function retryPolicy(deps: DeliveryDependencies): RetryPolicy {
  return {
    schedule: deps.retryScheduleSeconds,
    throttledRetryMinSeconds: deps.throttledRetryMinSeconds ?? DEFAULT_THROTTLED_RETRY_MIN_SECONDS,
    ...(deps.random ? { random: deps.random } : {}),
  };
}

/**
 * One signed POST. 2xx is success; anything else, including a redirect (never followed), is a failure.
 * Latency is time to the response's status line. Up to RESPONSE_BODY_LIMIT_BYTES of the body are read
 * when `keepBody` says the result is recorded; otherwise it is discarded (drained up to 64 KB so the
 * connection is reused, closed beyond that).
 */
export async function postWebhook(
  subscription: StoredSubscription,
  event: StoredEvent,
  now: Date,
  options: {
    timeoutMs: number;
    fetch: WebhookFetch;
    keepBody: (result: HttpOutcome['result']) => boolean;
  },
): Promise<HttpOutcome> {
  const { id, type, timestamp, data } = event;
  const body = JSON.stringify({ type, timestamp, data });
  const started = performance.now();
  let response: WebhookResponse;
  try {
    response = await options.fetch(subscription.url, {
      headers: {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        ...signatureHeaders(signingSecrets(subscription, now), id, now, body),
      },
      body,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    return {
      result: 'failed',
      errorClass: classifyError(error),
      latencyMs: Math.round(performance.now() - started),
    };
  }
  const latencyMs = Math.round(performance.now() - started);
  const statusCode = response.status;
  const result = statusCode >= 200 && statusCode < 300 ? 'delivered' : 'failed';
  let responseBody: string | undefined;
  if (options.keepBody(result)) {
    responseBody = await readBodyPrefix(response.body, RESPONSE_BODY_LIMIT_BYTES);
  } else {
    response.discard();
  }
  const retryAfter = response.headers['retry-after'];
  return {
    result,
    statusCode,
    latencyMs,
    ...(responseBody !== undefined ? { responseBody } : {}),
    ...(result === 'failed' && retryAfter !== undefined ? { retryAfter } : {}),
  };
}
