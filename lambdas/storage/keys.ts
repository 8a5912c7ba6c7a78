/**
 * Every partition and sort key the stores write, in one place, so that no two stores can drift apart on a
 * layout they share. Tenant ids, subscription ids, event ids and key hashes contain no "#", so keys built
 * from them cannot collide. Each store's doc comment shows its items.
 */

/** "<tenantId>#<id>": one tenant's event or subscription, unique across tenants. */
function tenantScoped(tenantId: string, id: string): string {
  return `${tenantId}#${id}`;
}

/** An event's key: the events table's partition key, and the attempts table's byEvent index key. */
export function eventKey(tenantId: string, eventId: string): string {
  return tenantScoped(tenantId, eventId);
}

/** A subscription across tenants: the attempts table's partition key, and the key of maps of subscriptions. */
export function subscriptionKey(tenantId: string, subscriptionId: string): string {
  return tenantScoped(tenantId, subscriptionId);
}

/** Sort keys of subscription items begin with this, so a tenant's list reads them and nothing else. */
export const SUBSCRIPTION_SK_PREFIX = 'sub#';

/** A subscription item's key in the subscriptions table: the tenant's partition, one "sub#" sort key. */
export function subscriptionItemKey(tenantId: string, subscriptionId: string): { pk: string; sk: string } {
  return { pk: tenantId, sk: `${SUBSCRIPTION_SK_PREFIX}${subscriptionId}` };
}

/** The tenant's subscription count: in the tenant's partition, outside the "sub#" range. */
export function subscriptionCountKey(tenantId: string): { pk: string; sk: string } {
  return { pk: tenantId, sk: '#count' };
}

/** The partition of one routing filter's routes. */
export function routeKey(tenantId: string, filter: string): string {
  return `route#${tenantId}#${filter}`;
}

/** One route: the subscription's id under the filter's partition. */
export function routeItemKey(
  tenantId: string,
  filter: string,
  subscriptionId: string,
): { pk: string; sk: string } {
  return { pk: routeKey(tenantId, filter), sk: subscriptionId };
}

/** A tenant's item in the tenants table. */
export function tenantItemKey(tenantId: string): { pk: string } {
  return { pk: `tenant#${tenantId}` };
}

/** An API key's item in the tenants table, found by the key's SHA-256 (hex). */
export function apiKeyItemKey(keyHash: string): { pk: string } {
  return { pk: `key#${keyHash}` };
}

/** A tenant's request counter for one epoch second, in the tenants table. */
export function rateCounterKey(tenantId: string, epochSecond: number): { pk: string } {
  return { pk: `rate#${tenantId}#${epochSecond}` };
}

/**
 * A subscription's attempt counter for one epoch second, in the attempts table: a partition of its own,
 * which no attempt record's key (the subscription's "<tenantId>#<subscriptionId>") can be.
 */
export function attemptCounterKey(
  tenantId: string,
  subscriptionId: string,
  epochSecond: number,
): { pk: string; sk: string } {
  return { pk: `rate#${subscriptionKey(tenantId, subscriptionId)}#${epochSecond}`, sk: 'count' };
}
