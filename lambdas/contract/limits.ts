/** Write units one DynamoDB item takes a second at most: what bounds every one-item counter. */
const ITEM_WRITES_PER_SECOND = 1_000;

/**
 * The highest per-tenant limit the counter can enforce. A tenant's counter for a second is one DynamoDB item,
 * and one item takes at most 1,000 write units a second. Every request writes it, refused ones too, so at 500
 * a tenant may send twice its limit and still be counted. Past that, the API's stage throttle (1,000 requests
 * a second for all callers) caps what reaches the counter at about what the item takes, so the counter is one
 * item rather than shards: shards would cost a read of every shard or an estimate that refuses tenants below
 * their limit, for capacity the stage throttle does not let through.
 */
export const MAX_TENANT_REQUESTS_PER_SECOND = ITEM_WRITES_PER_SECOND / 2;
/** Why the limit is bounded, for the messages that refuse a larger one. */
export const TENANT_RATE_BOUND = `at most ${MAX_TENANT_REQUESTS_PER_SECOND} (each request, refused or not, writes the tenant's counter for that second: one DynamoDB item, which takes at most 1,000 writes a second)`;

/**
 * The highest per-subscription rate limit, in deliveries a second, bounded as a tenant's is: a subscription's
 * counter for a second is one item, written by each attempt and by each delivery refused a slot, so at 500
 * the refused ones may be as many as the admitted before the item is full. Refused deliveries come back spread
 * over the seconds their turn needs (delivery/rate-limit.ts), which keeps them near the limit. A receiver
 * that takes more than 500 deliveries a second is not one to protect with a limit.
 */
export const MAX_SUBSCRIPTION_RATE_LIMIT = ITEM_WRITES_PER_SECOND / 2;
