import { type Check, type Evidence, pairKey } from './checks.js';
import type { ChaosReceiver, RequestSpan } from './receivers.js';

/**
 * The circuit breaker's promises, judged on the always-failing receivers: their own request logs (arrival and
 * end of each request), the circuit's operational events, the attempt log, and the receives and waiting
 * copies counted per pair.
 */

/**
 * How long after the circuit opened a request may still arrive that was admitted before it: the attempt
 * timeout and the probe lease's margin (delivery/circuit.ts), the time the design trusts an admitted attempt
 * to take. Batches read the subscription once, up front, so some were in flight with the circuit closed.
 */
const ADMITTED_MARGIN_MS = 5_000;
/** The most deliveries in flight at once: one batch of at most ten per poller. */
const BATCH_SIZE = 10;

interface FailingSubscription {
  receiver: ChaosReceiver;
  subscriptionId: string;
}

export function isolationChecks(evidence: Evidence, failing: readonly FailingSubscription[]): Check[] {
  return [probedNotHammered(evidence, failing), waitingCostsNoAttempt(evidence, failing)];
}

/**
 * Before the circuit opens, `failureThreshold` failures in a row and whatever was in flight; once open, a
 * delivery that reads the subscription makes no request, so after the admitted ones only probes arrive: none
 * in the first open time (which counts from the opening attempt's start), then at most one per opening (each failed probe opens the circuit again and puts
 * circuit_opened; the first opening's share allows for a probe whose failure was never written), one at a
 * time (the probe lease).
 */
function probedNotHammered(evidence: Evidence, failing: readonly FailingSubscription[]): Check {
  const { settings, eventIds, operationalEventTimes, operationalEvents } = evidence;
  const { failureThreshold, firstOpenSeconds } = settings.circuitPolicy;
  const admittedMs = settings.attemptTimeoutMs + ADMITTED_MARGIN_MS;
  const inFlightBound = settings.deliveryPollers * BATCH_SIZE;
  const rows = failing.map(({ receiver, subscriptionId }) => {
    const openings = operationalEventTimes.get(`webhook.subscription.circuit_opened ${subscriptionId}`) ?? [];
    const closings = operationalEvents.get(`webhook.subscription.circuit_closed ${subscriptionId}`) ?? 0;
    const openedAt = openings[0] ?? Number.POSITIVE_INFINITY;
    const { spans } = receiver.tally;
    const before = spans.filter((span) => span.at < openedAt).length;
    const admitted = spans.filter((span) => span.at >= openedAt && span.at < openedAt + admittedMs).length;
    // The open time counts from the start of the attempt that opened it, up to admittedMs before its event.
    const halfOpenAt = openedAt + firstOpenSeconds * 1000 - admittedMs;
    const whileOpen = spans.filter((span) => span.at >= openedAt + admittedMs && span.at < halfOpenAt).length;
    const probes = spans.filter((span) => span.at >= halfOpenAt);
    const overlapping = overlaps(probes);
    const passed =
      openings.length >= 1 &&
      closings === 0 &&
      admitted <= inFlightBound &&
      whileOpen === 0 &&
      probes.length <= openings.length &&
      overlapping === 0;
    const perRequest = spans.length > 0 ? (eventIds.length / spans.length).toFixed(1) : '∞';
    return {
      passed,
      figures: `${receiver.name}: ${spans.length} requests for ${eventIds.length} messages (1 per ${perRequest}), circuit opened ${openings.length} times, closed ${closings}; ${before} before it opened, ${admitted} admitted before it (within ${admittedMs / 1000} s, ≤ ${inFlightBound} in flight), ${whileOpen} while open (${admittedMs / 1000} to ${firstOpenSeconds - admittedMs / 1000} s after), ${probes.length} probes (≤ ${openings.length} openings), ${overlapping} overlapping`,
    };
  });
  return {
    name: `always-failing endpoints are probed, not hammered: circuit opened (after ${failureThreshold} failures in a row), then only probes, at most one per opening, one at a time`,
    passed: rows.every((row) => row.passed),
    figures: rows.map((row) => row.figures).join('; '),
  };
}

/** Requests that arrived before the one before them had ended. */
function overlaps(spans: readonly RequestSpan[]): number {
  let count = 0;
  for (const [index, span] of spans.entries()) {
    const previous = spans[index - 1];
    if (previous && (previous.endedAt ?? Number.POSITIVE_INFINITY) > span.at) count++;
  }
  return count;
}

/**
 * A waiting copy carries the attempts made before it, and its receive count starts again, so an attempt's
 * number is the pair's receives less its waiting ones. It may be above the receiver's count of requests for
 * the pair only by receives that made no request without waiting: a crash before the record was handled, a
 * throttle that reached the handler, the last receives of a message left for the DLQ.
 */
function waitingCostsNoAttempt(evidence: Evidence, failing: readonly FailingSubscription[]): Check {
  let records = 0;
  let aboveRequests = 0;
  let aboveReceives = 0;
  let waitingCopies = 0;
  for (const { receiver, subscriptionId } of failing) {
    for (const eventId of evidence.eventIds) {
      waitingCopies += evidence.waits.get(pairKey(subscriptionId, eventId)) ?? 0;
    }
    for (const attempt of evidence.failingAttempts.get(subscriptionId) ?? []) {
      const key = pairKey(subscriptionId, attempt.eventId);
      const counted = (evidence.receives.get(key) ?? 0) - (evidence.waits.get(key) ?? 0);
      records++;
      if (attempt.attempt > (receiver.tally.attempts.get(attempt.eventId) ?? 0)) aboveRequests++;
      if (attempt.attempt > counted) aboveReceives++;
    }
  }
  return {
    name: 'waiting costs no attempt: always-failing attempt numbers count requests and lost receives, never waits',
    passed: aboveReceives === 0,
    figures: `${records} attempt records, ${waitingCopies} waiting copies; ${aboveReceives} numbered above the pair's receives less its waiting ones; ${aboveRequests} above the receiver's requests for the pair (by receives lost to crashes, throttles or the DLQ's last receives)`,
  };
}
