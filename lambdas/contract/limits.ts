/**
 * The highest per-tenant limit the counter can enforce. A tenant's counter for a second is one DynamoDB item,
 * and one item takes at most 1,000 write units a second. Every request writes it, refused ones too, so at 500
 * a tenant may send twice its limit and still be counted. Past that, the API's stage throttle (1,000 requests
 * a second for all callers) caps what reaches the counter at about what the item takes, so the counter is one
 * item rather than shards: shards would cost a read of every shard or an estimate that refuses tenants below
 * their limit, for capacity the stage throttle does not let through.
 */
export const MAX_TENANT_REQUESTS_PER_SECOND = 500;
/** Why the limit is bounded, for the messages that refuse a larger one. */
export const TENANT_RATE_BOUND = `at most ${MAX_TENANT_REQUESTS_PER_SECOND} (each request, refused or not, writes the tenant's counter for that second: one DynamoDB item, which takes at most 1,000 writes a second)`;
