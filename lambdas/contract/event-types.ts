/**
 * Event types are dot-separated segments of [A-Za-z0-9_-]. A subscription filter is an exact type, a prefix
 * filter `a.b.*` (every type that starts with `a.b.`), or `*` (every type).
 */
const SEGMENT = '[A-Za-z0-9_-]+';
const EVENT_TYPE = new RegExp(`^${SEGMENT}(?:\\.${SEGMENT})*$`);
const EVENT_TYPE_FILTER = new RegExp(`^(?:\\*|${SEGMENT}(?:\\.${SEGMENT})*(?:\\.\\*)?)$`);

/** EventBridge caps DetailType at 128 characters, and the type travels there. */
const MAX_EVENT_TYPE_LENGTH = 128;

export function isEventType(value: string): boolean {
  return value.length <= MAX_EVENT_TYPE_LENGTH && EVENT_TYPE.test(value);
}

export function isEventTypeFilter(value: string): boolean {
  return value.length <= MAX_EVENT_TYPE_LENGTH && EVENT_TYPE_FILTER.test(value);
}

export function filterMatches(filter: string, eventType: string): boolean {
  if (filter === '*') return true;
  if (filter.endsWith('.*')) return eventType.startsWith(filter.slice(0, -1));
  return filter === eventType;
}

export function anyFilterMatches(filters: readonly string[], eventType: string): boolean {
  return filters.some((filter) => filterMatches(filter, eventType));
}

/**
 * Every filter that can match `eventType`: the type itself, each proper prefix as `prefix.*`, and `*`.
 * Fan-out queries exactly these keys, so it never scans.
 */
export function candidateFilters(eventType: string): string[] {
  const segments = eventType.split('.');
  const prefixes = segments.slice(0, -1).map((_, i) => `${segments.slice(0, i + 1).join('.')}.*`);
  return ['*', ...prefixes, eventType];
}

/**
 * Drops filters that another filter of the same list already covers (`order.created` under `order.*`, all
 * under `*`). The matching filters of one event form a chain, so after this at most one filter of a
 * subscription matches any event: fan-out finds each subscription once, without de-duplicating.
 */
export function routingFilters(filters: readonly string[]): string[] {
  const unique = [...new Set(filters)];
  return unique.filter((filter) => !unique.some((other) => other !== filter && coversFilter(other, filter)));
}

function coversFilter(general: string, specific: string): boolean {
  if (general === '*') return true;
  if (!general.endsWith('.*')) return false;
  return specific.startsWith(general.slice(0, -1));
}
