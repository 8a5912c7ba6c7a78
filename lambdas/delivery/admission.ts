import type { StoredSubscription } from '../storage/subscription-model.js';
import { type CircuitDependencies, type CircuitGate, circuitGate } from './circuit.js';

/** Why a delivery waits without an attempt. */
export type WaitReason = Extract<CircuitGate, { go: false }>['reason'];

/** Whether a delivery may make its attempt now, or why and how long it waits first (a waiting copy). */
export type Admission = { go: true } | { go: false; reason: WaitReason; waitSeconds: number };

export type AdmissionDependencies = CircuitDependencies;

/** The gates an attempt passes before its request: the subscription's circuit (circuit.ts). */
export async function admitAttempt(
  deps: AdmissionDependencies,
  subscription: StoredSubscription,
  now: Date,
): Promise<Admission> {
  return await circuitGate(deps, subscription, now);
}
