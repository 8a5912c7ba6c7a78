import type { SubscriptionSecrets } from './subscription-secrets.js';

export type SubscriptionStatus = 'active' | 'disabled';

/** Why a subscription is disabled: by its owner, by a 410 Gone answer, or after failing for too long. */
export type DisabledReason = 'manual' | 'endpoint_gone' | 'failing_too_long';

/** A subscription as its tenant sees it through the API: never its secrets. */
export interface Subscription {
  id: string;
  url: string;
  eventTypes: string[];
  description: string;
  metadata: Record<string, string>;
  /** Deliveries a second at most (delivery/rate-limit.ts), or null for no limit. */
  rateLimit: number | null;
  status: SubscriptionStatus;
  /** Set while disabled. */
  disabledReason?: DisabledReason | undefined;
  /** Start of the current run of failed attempts; absent while deliveries succeed. */
  failingSince?: string | undefined;
  circuit: CircuitView;
  createdAt: string;
  updatedAt: string;
}

/**
 * The endpoint's circuit breaker (delivery/circuit.ts): closed, deliveries go as usual; open, they wait
 * without a request until `openUntil`; half-open, the open time is over and the next delivery probes.
 */
export type CircuitState = 'closed' | 'open' | 'half_open';

interface CircuitView {
  state: CircuitState;
  /** Failed attempts since the last success, once there is one. */
  consecutiveFailures?: number;
  /** While open: when a probe may go. */
  openUntil?: string;
}

/** The circuit as stored, written only while the endpoint fails: a healthy subscription has none of it. */
export interface CircuitFields {
  consecutiveFailures?: number | undefined;
  /** Set when the circuit opens; it stays set, half-open, once past, until a success closes the circuit. */
  circuitOpenUntil?: string | undefined;
  /** Times the circuit has opened in this run of failures: each opening waits twice as long. */
  circuitOpenings?: number | undefined;
  /** The half-open probe's lease: until then, one delivery has the endpoint to itself. */
  probeUntil?: string | undefined;
}

/**
 * A subscription as stored: its tenant, its signing secrets and the version its writes are checked against.
 * A rate limit is stored only when there is one, so subscriptions stored before limits existed have none.
 */
export interface StoredSubscription
  extends Omit<Subscription, 'circuit' | 'rateLimit'>,
    CircuitFields,
    SubscriptionSecrets {
  tenantId: string;
  rateLimit?: number | undefined;
  version: number;
}

export function circuitState(circuit: CircuitFields, now: Date): CircuitState {
  if (circuit.circuitOpenUntil === undefined) return 'closed';
  return Date.parse(circuit.circuitOpenUntil) > now.getTime() ? 'open' : 'half_open';
}

export function toPublic(subscription: StoredSubscription, now: Date = new Date()): Subscription {
  const { id, url, eventTypes, description, metadata, status, disabledReason, failingSince } = subscription;
  const state = circuitState(subscription, now);
  const { consecutiveFailures, circuitOpenUntil } = subscription;
  return {
    id,
    url,
    eventTypes,
    description,
    metadata,
    rateLimit: subscription.rateLimit ?? null,
    status,
    ...(disabledReason ? { disabledReason } : {}),
    ...(failingSince ? { failingSince } : {}),
    circuit: {
      state,
      ...(consecutiveFailures ? { consecutiveFailures } : {}),
      ...(state === 'open' && circuitOpenUntil ? { openUntil: circuitOpenUntil } : {}),
    },
    createdAt: subscription.createdAt,
    updatedAt: subscription.updatedAt,
  };
}
