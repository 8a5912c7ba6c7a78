import { type CircuitPolicy, DEFAULT_CIRCUIT_POLICY, openSeconds } from '../contract/circuit-policy.js';
import { logger } from '../platform/logger.js';
import { circuitState, type DisabledReason, type StoredSubscription } from '../storage/subscription-model.js';
import type { SubscriptionStore } from '../storage/subscriptions.js';
import { endpointOrigin, type OperationalEventDetail, type OperationalEvents } from './operational-events.js';

/**
 * Endpoint health: what one attempt's result changes about its subscription.
 *   a 410 Gone                                       → disabled (endpoint_gone)
 *   a failure, failing for autoDisableAfterSeconds   → disabled (failing_too_long)
 *   any other failure                                → counted: the first starts a run (failing), the
 *                                                      threshold'th in a row opens the circuit (circuit.ts)
 *   a success after failures                         → recovered, circuit closed
 * Each change is a conditional write that only one concurrent attempt wins, and only the winner puts the
 * operational event, so a burst of failures reports each change once. A success of a healthy subscription
 * writes nothing. The subscription is an eventually consistent read, so a failing_too_long disable also
 * requires the stored failingSince to be the one it was decided on: a run that another attempt has ended
 * (or ended and restarted) since is not disabled.
 */
export type HealthChange =
  | { kind: 'none' }
  | { kind: 'failure' }
  | { kind: 'recovered' }
  | { kind: 'disable'; reason: Extract<DisabledReason, 'endpoint_gone' | 'failing_too_long'> };

export function healthChange(
  subscription: Pick<StoredSubscription, 'failingSince' | 'consecutiveFailures'>,
  attempt: { result: 'delivered' | 'failed'; statusCode?: number | undefined },
  now: Date,
  autoDisableAfterSeconds: number,
): HealthChange {
  if (attempt.result === 'delivered') {
    return subscription.failingSince || subscription.consecutiveFailures
      ? { kind: 'recovered' }
      : { kind: 'none' };
  }
  if (attempt.statusCode === 410) return { kind: 'disable', reason: 'endpoint_gone' };
  if (!subscription.failingSince) return { kind: 'failure' };
  const failingForMs = now.getTime() - Date.parse(subscription.failingSince);
  return failingForMs >= autoDisableAfterSeconds * 1000
    ? { kind: 'disable', reason: 'failing_too_long' }
    : { kind: 'failure' };
}

export interface HealthDependencies {
  subscriptions: SubscriptionStore;
  operationalEvents: OperationalEvents;
  circuitPolicy?: CircuitPolicy | undefined;
}

/**
 * Records a change and, for each change this call made, puts its operational event. True only when this
 * call disabled the subscription: a disable decided on a stale read may not happen, and then the delivery is
 * retried like any other failure.
 */
export async function applyHealthChange(
  deps: HealthDependencies,
  subscription: StoredSubscription,
  change: HealthChange,
  context: { eventId: string; now: Date },
): Promise<boolean> {
  const { tenantId, id } = subscription;
  const { now } = context;
  const detail = (
    failingSince: string | undefined,
    more: Pick<OperationalEventDetail, 'reason' | 'consecutiveFailures' | 'openUntil'> = {},
  ): OperationalEventDetail => ({
    tenantId,
    subscriptionId: id,
    endpoint: endpointOrigin(subscription.url),
    ...more,
    ...(failingSince ? { failingSince } : {}),
    eventId: context.eventId,
    at: now.toISOString(),
  });
  switch (change.kind) {
    case 'none':
      return false;
    case 'failure': {
      const counted = await deps.subscriptions.health.countFailure(tenantId, id, now);
      if (!counted) return false;
      const failingSince = counted.startedRun ? now.toISOString() : subscription.failingSince;
      if (counted.startedRun)
        await deps.operationalEvents('webhook.subscription.failing', detail(failingSince));
      const policy = deps.circuitPolicy ?? DEFAULT_CIRCUIT_POLICY;
      // An attempt that went before the circuit opened, failing after, leaves it as it is.
      if (
        counted.consecutiveFailures < policy.failureThreshold ||
        circuitState(counted.circuit, now) === 'open'
      )
        return false;
      const openings = (counted.circuit.circuitOpenings ?? 0) + 1;
      const until = new Date(now.getTime() + openSeconds(policy, openings) * 1000);
      if (await deps.subscriptions.health.openCircuit(tenantId, id, now, until, openings)) {
        const fields = { consecutiveFailures: counted.consecutiveFailures, openUntil: until.toISOString() };
        logger.warn('circuit opened', { tenantId, subscriptionId: id, ...fields });
        await deps.operationalEvents('webhook.subscription.circuit_opened', detail(failingSince, fields));
      }
      return false;
    }
    case 'recovered': {
      const before = await deps.subscriptions.health.markRecovered(tenantId, id);
      if (!before) return false;
      if (before.circuitOpenUntil) {
        logger.info('circuit closed', { tenantId, subscriptionId: id });
        await deps.operationalEvents('webhook.subscription.circuit_closed', detail(before.failingSince));
      }
      if (before.failingSince) {
        await deps.operationalEvents('webhook.subscription.recovered', detail(before.failingSince));
      }
      return false;
    }
    case 'disable': {
      // Conditional on the failure run the decision was based on: `subscription` is an eventually
      // consistent read, and another delivery may have ended that run (recovered) since.
      const disabled = await deps.subscriptions.disable(tenantId, id, change.reason, {
        failingSince: subscription.failingSince,
      });
      if (disabled) {
        logger.warn('subscription disabled', { tenantId, subscriptionId: id, reason: change.reason });
        await deps.operationalEvents(
          'webhook.subscription.disabled',
          detail(subscription.failingSince, { reason: change.reason }),
        );
      }
      return disabled;
    }
  }
}
