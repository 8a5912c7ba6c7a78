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
  status: SubscriptionStatus;
  /** Set while disabled. */
  disabledReason?: DisabledReason | undefined;
  /** Start of the current run of failed attempts; absent while deliveries succeed. */
  failingSince?: string | undefined;
  createdAt: string;
  updatedAt: string;
}

/** A subscription as stored: its tenant, its signing secrets and the version its writes are checked against. */
export interface StoredSubscription extends Subscription, SubscriptionSecrets {
  tenantId: string;
  version: number;
}

export function toPublic(subscription: StoredSubscription): Subscription {
  const { id, url, eventTypes, description, metadata, status, disabledReason, failingSince } = subscription;
  return {
    id,
    url,
    eventTypes,
    description,
    metadata,
    status,
    ...(disabledReason ? { disabledReason } : {}),
    ...(failingSince ? { failingSince } : {}),
    createdAt: subscription.createdAt,
    updatedAt: subscription.updatedAt,
  };
}
