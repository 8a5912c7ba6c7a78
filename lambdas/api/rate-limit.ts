import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TooManyRequestsError } from '../platform/errors.js';
import { logger } from '../platform/logger.js';
import { rateCounterKey } from '../storage/keys.js';
import { RateCounters } from '../storage/rate-counters.js';

export interface RateLimiterOptions {
  /** Requests a tenant may make per second, across all of the API's functions. */
  requestsPerSecond: number;
  /** Milliseconds since the epoch; tests fix it. */
  now?: () => number;
}

/**
 * Per-tenant API throttling. HTTP APIs have no usage plans, so each tenant gets a fixed one-second window
 * counted in the tenants table: `{ pk: "rate#<tenantId>#<epoch second>", count, expiresAt }`, one write per
 * request (storage/rate-counters.ts), so every Lambda instance shares the same counter. A fixed window lets up
 * to twice the limit through across a second boundary; that is accepted for one write per request and no
 * coordination.
 */
export class TenantRateLimiter {
  private readonly now: () => number;
  private readonly counters: RateCounters;

  constructor(
    db: DynamoDBDocumentClient,
    tableName: string,
    private readonly options: RateLimiterOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.counters = new RateCounters(db, tableName);
  }

  /** Counts one request of the tenant; throws TooManyRequestsError (429) once the second's count is over. */
  async admit(tenantId: string): Promise<void> {
    const second = Math.floor(this.now() / 1000);
    let count: number;
    try {
      count = await this.counters.take(rateCounterKey(tenantId, second), second);
    } catch (error) {
      // Fail open: the limit guards capacity, not data (the key was checked and every read is keyed by the
      // tenant), so admitting a request while the counter is unavailable exposes nothing. Failing closed would
      // turn a hiccup on one counter item into an outage for every tenant; API Gateway's stage throttling and
      // Lambda concurrency still bound the load. Logged as an error so it alarms.
      logger.error('rate limit counter unavailable; request admitted', { error, tenantId });
      return;
    }
    if (count > this.options.requestsPerSecond) {
      // The window is one second, so the next one always starts within a second.
      throw new TooManyRequestsError(
        `more than ${this.options.requestsPerSecond} requests per second for this tenant; retry after 1 second`,
        1,
      );
    }
  }
}
