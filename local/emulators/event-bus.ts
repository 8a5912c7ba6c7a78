import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PutEventsRequestEntry, PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import { PUT_EVENTS_MAX_BYTES, putEventsEntryBytes } from '../../lambdas/contract/bus-events.js';

/**
 * A local EventBridge bus speaking the PutEvents call of the AWS JSON 1.1 protocol, so
 * `@aws-sdk/client-eventbridge` works against it unchanged. Matching events are handed to `target` in the
 * shape EventBridge gives an SQS target. Forwarding happens before PutEvents answers, and an entry whose
 * forwarding failed is reported failed, so the publisher retries instead of the event being lost. Entries
 * are sized as EventBridge sizes them, and a request over EventBridge's limit (PUT_EVENTS_MAX_BYTES) is
 * refused whole, with EventBridge's own ValidationException. An event under it whose data is over the
 * service's limit is accepted, as on AWS, and fan-out sends it to its DLQ.
 */
type EventPattern = Record<string, ReadonlyArray<string | { prefix: string }>>;

export interface EventBusOptions {
  busName: string;
  pattern: EventPattern;
  target: (eventJson: string) => Promise<void>;
  /** Events the rule does not match, such as operational events, which operators route on AWS. */
  onUnmatched?: (event: Record<string, unknown>) => void;
  account?: string;
  region?: string;
}

const MAX_ENTRIES = 10;

export function toBusEvent(
  entry: PutEventsRequestEntry,
  options: { account: string; region: string },
): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': entry.DetailType,
    source: entry.Source,
    account: options.account,
    // EventBridge stamps events to the second.
    time: (entry.Time ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: options.region,
    resources: entry.Resources ?? [],
    detail: JSON.parse(entry.Detail ?? '{}'),
  };
}

function matchesPattern(pattern: EventPattern, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([field, allowed]) => {
    const value = event[field];
    return (
      typeof value === 'string' &&
      allowed.some((rule) => (typeof rule === 'string' ? rule === value : value.startsWith(rule.prefix)))
    );
  });
}

export async function startEventBus(
  options: EventBusOptions,
  port = 0,
  host = '127.0.0.1',
): Promise<{ server: Server; endpoint: string }> {
  const account = options.account ?? '000000000000';
  const region = options.region ?? 'us-east-1';

  async function putEntry(entry: PutEventsRequestEntry): Promise<PutEventsResultEntry> {
    if (!entry.Source || !entry.DetailType || entry.Detail === undefined) {
      return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Source, DetailType and Detail are required' };
    }
    const busName = entry.EventBusName?.split('/').at(-1) ?? 'default';
    if (busName !== options.busName) {
      return { ErrorCode: 'InvalidArgument', ErrorMessage: `Event bus ${busName} does not exist` };
    }
    const time = entry.Time === undefined ? new Date() : wireTimestamp(entry.Time);
    if (!time) return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Time is not a valid timestamp' };
    let event: Record<string, unknown>;
    try {
      const detail = JSON.parse(entry.Detail);
      if (typeof detail !== 'object' || detail === null || Array.isArray(detail))
        throw new Error('not an object');
      event = toBusEvent({ ...entry, Time: time }, { account, region });
    } catch {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    if (matchesPattern(options.pattern, event)) {
      try {
        await options.target(JSON.stringify(event));
      } catch (error) {
        return {
          ErrorCode: 'InternalFailure',
          ErrorMessage: `target rejected the event: ${(error as Error).message}`,
        };
      }
    } else {
      options.onUnmatched?.(event);
    }
    return { EventId: String(event.id) };
  }

  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
    };
    if (request.headers['x-amz-target'] !== 'AWSEvents.PutEvents') {
      return reply(400, {
        __type: 'UnknownOperationException',
        message: 'only PutEvents is supported locally',
      });
    }
    let entries: PutEventsRequestEntry[];
    try {
      entries = JSON.parse(Buffer.concat(chunks).toString('utf8')).Entries;
    } catch {
      return reply(400, { __type: 'SerializationException', message: 'request body is not JSON' });
    }
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > MAX_ENTRIES) {
      return reply(400, {
        __type: 'ValidationException',
        message: `Entries must hold 1 to ${MAX_ENTRIES} entries`,
      });
    }
    // EventBridge refuses the whole request, not the entry, when its entries together are over the limit.
    if (entries.reduce((sum, entry) => sum + putEventsEntryBytes(entry), 0) > PUT_EVENTS_MAX_BYTES) {
      return reply(400, {
        __type: 'ValidationException',
        message: 'Total size of the entries in the request is over the limit.',
      });
    }
    const results = await Promise.all(entries.map(putEntry));
    reply(200, { FailedEntryCount: results.filter((r) => r.ErrorCode).length, Entries: results });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const { port: actualPort } = server.address() as AddressInfo;
  return { server, endpoint: `http://${host}:${actualPort}` };
}

/** The AWS JSON protocol sends timestamps as epoch seconds (fractions allowed); an ISO string is accepted too. */
function wireTimestamp(value: unknown): Date | undefined {
  const time = typeof value === 'number' ? new Date(value * 1000) : new Date(String(value));
  return Number.isNaN(time.getTime()) ? undefined : time;
}
