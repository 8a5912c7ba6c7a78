/**
 * What the stack and the stores must agree on about the tables: index names and the attempt log's modes.
 *
 * What the attempt log records is a setting, because each record costs write units (README, "Attempt log"):
 *   all       every attempt
 *   failures  failed attempts, and the success that ends a run of failures
 *   off       nothing
 */
export const ATTEMPT_LOG_MODES = ['all', 'failures', 'off'] as const;
export type AttemptLogMode = (typeof ATTEMPT_LOG_MODES)[number];

/** The attempts table's index of one event's attempts (eventKey, sk). */
export const ATTEMPTS_BY_EVENT_INDEX = 'byEvent';
/** The events table's index of a tenant's events by time (tenantId, timestamp), for replay. */
export const EVENTS_BY_TIME_INDEX = 'byTime';
