import { type CircuitPolicy, DEFAULT_CIRCUIT_POLICY, openSeconds } from '../contract/circuit-policy.js';
import { delaySeconds } from '../contract/delivery-message.js';
import { circuitState, type StoredSubscription } from '../storage/subscription-model.js';
import type { SubscriptionStore } from '../storage/subscriptions.js';

/**
 * A circuit breaker per subscription, so that an endpoint that is down is probed, not hammered. After
 * `failureThreshold` failed attempts in a row (any failure: an error status, a timeout, a refused
 * connection) the circuit opens: deliveries wait without a request, as new copies of their messages
 * delayed past the open time (delivery-message.ts: waiting costs no attempt). Once the open time is over the
 * circuit is half-open: the first delivery to claim the probe makes one attempt while the others wait a
 * little longer. A success closes the circuit and the waiting deliveries come back spread over one open
 * time, a bounded burst; a failure opens it again for twice as long, up to MAX_OPEN_SECONDS. The run's other
 * rules still hold: a 410 disables at once, and five days of failures disable (health.ts).
 *
 * Everything is on the subscription item, and written only while the endpoint fails: a healthy
 * subscription's deliveries read what they read anyway and write nothing more.
 */

/** How long past the attempt timeout a probe keeps the endpoint to itself, should its attempt never end. */
const PROBE_LEASE_MARGIN_MS = 5_000;

/** Whether an attempt may go now (as the half-open circuit's probe, perhaps), or how long to wait first. */
export type CircuitGate =
  | { go: true }
  | { go: false; reason: 'circuit_open' | 'circuit_half_open'; waitSeconds: number };

export interface CircuitDependencies {
  subscriptions: SubscriptionStore;
  attemptTimeoutMs: number;
  circuitPolicy?: CircuitPolicy | undefined;
  random?: (() => number) | undefined;
}

export async function circuitGate(
  deps: CircuitDependencies,
  subscription: StoredSubscription,
  now: Date,
): Promise<CircuitGate> {
  const state = circuitState(subscription, now);
  if (state === 'closed') return { go: true };
  const policy = deps.circuitPolicy ?? DEFAULT_CIRCUIT_POLICY;
  const random = deps.random ?? Math.random;
  if (state === 'open') {
    // Spread over one open time, so that when the circuit closes the backlog returns as a bounded burst.
    const spread = openSeconds(policy, subscription.circuitOpenings ?? 1) * random();
    return {
      go: false,
      reason: 'circuit_open',
      waitSeconds: delaySeconds(secondsUntil(subscription.circuitOpenUntil, now) + spread),
    };
  }
  const leaseUntil = new Date(now.getTime() + deps.attemptTimeoutMs + PROBE_LEASE_MARGIN_MS);
  const { tenantId, id } = subscription;
  if (await deps.subscriptions.health.claimProbe(tenantId, id, now, leaseUntil)) return { go: true };
  // Another delivery is probing (or has just closed or reopened the circuit): look again soon, spread over
  // one first open time, so that a backlog behind a successful probe returns as a bounded burst.
  return {
    go: false,
    reason: 'circuit_half_open',
    waitSeconds: delaySeconds(1 + policy.firstOpenSeconds * random()),
  };
}

function secondsUntil(iso: string | undefined, now: Date): number {
  return iso ? (Date.parse(iso) - now.getTime()) / 1000 : 0;
}
