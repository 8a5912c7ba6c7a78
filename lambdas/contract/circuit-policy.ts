import { MAX_DELAY_SECONDS } from './delivery-message.js';

/** When a subscription's circuit opens and how long it stays open: delivery/circuit.ts applies it. */
export interface CircuitPolicy {
  /** Failed attempts in a row that open the circuit. */
  failureThreshold: number;
  /** The first open time; each reopening in the same run of failures doubles it. */
  firstOpenSeconds: number;
}

export const DEFAULT_CIRCUIT_POLICY: CircuitPolicy = { failureThreshold: 5, firstOpenSeconds: 30 };

/** The longest open time is SQS's longest delay, so a waiting delivery comes back at least once per open time. */
const MAX_OPEN_SECONDS = MAX_DELAY_SECONDS;

export function openSeconds(policy: CircuitPolicy, openings: number): number {
  return Math.min(policy.firstOpenSeconds * 2 ** (openings - 1), MAX_OPEN_SECONDS);
}
