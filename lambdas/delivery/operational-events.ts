import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { logger } from '../platform/logger.js';

/**
 * Operational events about subscriptions, put on the service's bus for operators to route with their own
 * rules (to a pager, a ticket queue or the tenant). Their source is not a tenant's, so the fan-out rule
 * never delivers them as webhooks.
 *
 *   webhook.subscription.failing    the first failed attempt after a success (or ever)
 *   webhook.subscription.disabled   disabled by a 410 Gone or after failing for too long
 *   webhook.subscription.recovered  the first success after a run of failures
 *   webhook.subscription.circuit_opened  deliveries wait without a request (delivery/circuit.ts)
 *   webhook.subscription.circuit_closed  a probe succeeded: deliveries go again
 */
export const OPERATIONS_SOURCE = 'fanout.operations';

export type OperationalEventType =
  | 'webhook.subscription.failing'
  | 'webhook.subscription.disabled'
  | 'webhook.subscription.recovered'
  | 'webhook.subscription.circuit_opened'
  | 'webhook.subscription.circuit_closed';

export interface OperationalEventDetail {
  tenantId: string;
  subscriptionId: string;
  /**
   * The subscription URL's origin (scheme://host[:port]) only: the path, query and credentials of a webhook
   * URL often carry a token (Slack-style hooks), and operational events reach wider audiences than the API.
   */
  endpoint: string;
  /** For `disabled`: endpoint_gone or failing_too_long. */
  reason?: string;
  /** For `circuit_opened`: the failed attempts in a row, and when a probe may go. */
  consecutiveFailures?: number;
  openUntil?: string;
  failingSince?: string;
  /** The attempt that caused the change. */
  eventId: string;
  at: string;
}

/** The origin of a subscription URL, for an operational event; empty if it does not parse. */
export function endpointOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}

export type OperationalEvents = (type: OperationalEventType, detail: OperationalEventDetail) => Promise<void>;

/**
 * Puts operational events on the bus. They report a change already made, so a failure to put one is
 * logged and does not fail the delivery that caused it (which would only repeat the webhook).
 */
export function operationalEvents(eventBridge: EventBridgeClient, busName: string): OperationalEvents {
  return async (type, detail) => {
    try {
      const result = await eventBridge.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: busName,
              Source: OPERATIONS_SOURCE,
              DetailType: type,
              Detail: JSON.stringify(detail),
            },
          ],
        }),
      );
      if ((result.FailedEntryCount ?? 0) > 0)
        throw new Error(result.Entries?.[0]?.ErrorCode ?? 'failed entry');
    } catch (error) {
      logger.error('operational event not published', {
        type,
        subscriptionId: detail.subscriptionId,
        error: (error as Error).message,
      });
    }
  };
}
