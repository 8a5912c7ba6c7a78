import { circuitState, type StoredSubscription } from '../storage/subscription-model.js';
import { type CircuitDependencies, type CircuitGate, circuitGate } from './circuit.js';
import { type RateGate, type RateLimitDependencies, rateGate } from './rate-limit.js';

/** Why a delivery waits without an attempt. */
export type WaitReason = Extract<CircuitGate | RateGate, { go: false }>['reason'];

/** Whether a delivery may make its attempt now, or why and how long it waits first (a waiting copy). */
export type Admission = { go: true } | { go: false; reason: WaitReason; waitSeconds: number };

export interface AdmissionDependencies extends CircuitDependencies, RateLimitDependencies {}

/**
 * The gates an attempt passes before its request: the subscription's circuit (circuit.ts) and its rate limit
 * (rate-limit.ts). An open circuit waits without taking a slot, since it would make no request. Otherwise the
 * slot is taken before a half-open circuit's probe is claimed, so that a probe is never refused its slot while
 * it holds the endpoint's lease; a slot whose delivery then finds another probing is spent without a request,
 * which only keeps the limit stricter.
 */
export async function admitAttempt(
  deps: AdmissionDependencies,
  subscription: StoredSubscription,
  now: Date,
): Promise<Admission> {
  if (circuitState(subscription, now) !== 'open') {
    const rate = await rateGate(deps, subscription);
    if (!rate.go) return rate;
  }
  return await circuitGate(deps, subscription, now);
}
