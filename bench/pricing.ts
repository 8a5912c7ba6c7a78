/**
 * Prices and AWS's sizing rules, us-east-1 on-demand (../shared/REFERENCE.md §2, checked 2026-11). Each
 * rule here is how AWS bills a call, so bench/usage.ts can turn the calls the pipeline makes into units.
 */
export const PRICES = {
  lambdaRequest: 0.2 / 1e6,
  /** arm64, per GB-second of billed duration (1 ms granularity). */
  lambdaGbSecond: 0.0000133334,
  /** Per request, each 64 KB chunk of a payload counting as one. */
  sqsRequest: 0.4 / 1e6,
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  /** Per event put on a bus, each 64 KB chunk of an entry counting as one; delivery to targets is free. */
  eventBridgeEvent: 1 / 1e6,
  /** HTTP API, per request up to 512 KB. */
  apiRequest: 1 / 1e6,
  /** CloudWatch Logs standard ingestion, per GB: not in REFERENCE §2, from AWS's price page. */
  logsIngestedGb: 0.5,
} as const;

const SQS_CHUNK_BYTES = 64 * 1024;
const EVENTBRIDGE_CHUNK_BYTES = 64 * 1024;
const WRITE_UNIT_BYTES = 1024;

/** SQS bills a call by its payload: one request per started 64 KB chunk, at least one. */
export function sqsRequests(payloadBytes: number): number {
  return Math.max(1, Math.ceil(payloadBytes / SQS_CHUNK_BYTES));
}

/** Write units of one item write (or one index entry): one per started KB, at least one. */
export function writeUnits(itemBytes: number): number {
  return Math.max(1, Math.ceil(itemBytes / WRITE_UNIT_BYTES));
}

/**
 * A DynamoDB item's size as AWS sizes it: attribute names plus values; strings and binaries by their bytes,
 * numbers about one byte per two significant digits plus one, maps and lists 3 bytes plus 1 per element.
 */
export function itemBytes(item: Record<string, unknown>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value !== undefined) size += Buffer.byteLength(name) + valueBytes(value);
  }
  return size;
}

function valueBytes(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number' || typeof value === 'bigint') {
    const digits =
      String(value)
        .replace(/[-.]|e.*$/gi, '')
        .replace(/^0+|0+$/g, '').length || 1;
    return 1 + Math.ceil(digits / 2);
  }
  if (typeof value === 'boolean' || value === null) return 1;
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, v) => sum + 1 + valueBytes(v), 0);
  if (value instanceof Set) return [...value].reduce((sum: number, v) => sum + valueBytes(v), 0);
  if (typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return 3 + entries.length + itemBytes(Object.fromEntries(entries));
  }
  return 0;
}

/** A PutEvents entry's size as EventBridge bills it: Time (14 bytes), Source, DetailType, Detail, Resources. */
export function eventBridgeEntryBytes(entry: {
  Time?: Date | undefined;
  Source?: string | undefined;
  DetailType?: string | undefined;
  Detail?: string | undefined;
  Resources?: string[] | undefined;
}): number {
  return (
    (entry.Time ? 14 : 0) +
    Buffer.byteLength(entry.Source ?? '') +
    Buffer.byteLength(entry.DetailType ?? '') +
    Buffer.byteLength(entry.Detail ?? '') +
    (entry.Resources ?? []).reduce((sum, resource) => sum + Buffer.byteLength(resource), 0)
  );
}

export function eventBridgeEvents(entryBytes: number): number {
  return Math.max(1, Math.ceil(entryBytes / EVENTBRIDGE_CHUNK_BYTES));
}

/** Dollars for one function's invocations and billed milliseconds at its memory size. */
export function lambdaUsd(invocations: number, billedMs: number, memoryMb: number) {
  const gbSeconds = (memoryMb / 1024) * (billedMs / 1000);
  return {
    requests: invocations * PRICES.lambdaRequest,
    duration: gbSeconds * PRICES.lambdaGbSecond,
    gbSeconds,
  };
}
