import { AsyncLocalStorage } from 'node:async_hooks';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { TENANT_SOURCE_PREFIX } from '../lambdas/contract/bus-events.js';
import type { FunctionName } from '../lambdas/contract/settings.js';
import { logger } from '../lambdas/platform/logger.js';
import type { TableDefinition } from '../lib/definitions.js';
import type { LocalService } from '../local/service.js';
import { eventBridgeEntryBytes, eventBridgeEvents, itemBytes, sqsRequests, writeUnits } from './pricing.js';

/**
 * Counts what a local service's calls would be billed on AWS, through middleware on its own SDK clients: SQS
 * requests by queue and action (64 KB chunks), DynamoDB read and write units by table (dynalite's
 * ConsumedCapacity, plus the index writes it does not report), EventBridge events by source, and, through
 * wrapped handlers, Lambda invocations and billed time and the bytes each function logs.
 */
type TableName = 'tenants' | 'subscriptions' | 'events' | 'attempts';
type QueueName = 'fanout' | 'delivery' | 'fanout DLQ' | 'delivery DLQ';

export interface Usage {
  /** Billed SQS requests, keyed "<queue> <action>". */
  sqsRequests: Record<string, number>;
  /** Receives that returned nothing: a local poller's, kept apart (see cost.ts). */
  emptyReceives: number;
  /** Messages received and receives that returned some, by queue: the mean batch size. */
  received: Partial<Record<QueueName, { messages: number; calls: number }>>;
  /** Read, write and index write units, keyed "<table> <operation>" (e.g. "events PutItem"). */
  dynamo: Record<string, DynamoUnits>;
  /** EventBridge events (64 KB chunks of entries), tenant events and operational events apart. */
  eventBridgeEvents: { tenant: number; operations: number };
  lambda: Partial<Record<FunctionName, { invocations: number; billedMs: number }>>;
  apiRequests: number;
  /** Bytes of JSON log lines written at the stack's level (INFO), by the function that wrote them. */
  logBytes: Partial<Record<FunctionName, number>>;
}

interface DynamoUnits {
  readUnits: number;
  writeUnits: number;
  indexWriteUnits: number;
}

function emptyUsage(): Usage {
  return {
    sqsRequests: {},
    emptyReceives: 0,
    received: {},
    dynamo: {},
    eventBridgeEvents: { tenant: 0, operations: 0 },
    lambda: {},
    apiRequests: 0,
    logBytes: {},
  };
}

type Loose = Record<string, unknown>;

export interface Meter {
  readonly usage: Usage;
  /** Counting is off until start(), so setting up tenants and subscriptions is not counted. */
  start(): void;
  stop(): void;
  /** A handler whose invocations, billed time and log lines are counted as this function's. */
  wrap<A extends unknown[], R>(
    name: FunctionName,
    handler: (...args: A) => Promise<R>,
  ): (...args: A) => Promise<R>;
  countApiRequest(): void;
}

export function createMeter(service: LocalService): Meter {
  const usage = emptyUsage();
  let counting = false;
  let restore: (() => void) | undefined;
  const running = new AsyncLocalStorage<FunctionName>();

  const queues = new Map<string, QueueName>();
  for (const name of ['fanout', 'delivery'] as const) {
    queues.set(service.resources.queues[name].url, name);
    queues.set(service.resources.queues[name].deadLetterUrl, `${name} DLQ`);
  }
  const tables = new Map<string, TableName>(
    (Object.entries(service.resources.tables) as [TableName, string][]).map(([name, physical]) => [
      physical,
      name,
    ]),
  );

  service.clients.sqs.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (counting)
        countSqs(usage, queues, context.commandName, args.input as Loose, result.output as unknown as Loose);
      return result;
    },
    { step: 'initialize', name: 'benchUsage' },
  );

  // The document client shares its DynamoDBClient's stack; at this step the input is still plain values.
  service.clients.db.middlewareStack.add(
    (next, context) => async (args) => {
      if (!counting) return next(args);
      const input = args.input as Loose;
      const command = context.commandName ?? '';
      try {
        const result = await next({ ...args, input: { ...args.input, ReturnConsumedCapacity: 'TOTAL' } });
        countDynamo(
          usage,
          tables,
          service,
          command,
          input,
          (result.output as unknown as Loose).ConsumedCapacity,
        );
        return result;
      } catch (error) {
        // A failed condition still costs the write (at least one unit).
        if ((error as Error).name === 'ConditionalCheckFailedException') {
          const table = tables.get(String(input.TableName));
          if (table) unitsOf(usage, table, operationOf(command)).writeUnits += 1;
        }
        throw error;
      }
    },
    { step: 'initialize', name: 'benchUsage' },
  );

  service.clients.eventBridge.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      if (counting) {
        for (const entry of (args.input as { Entries?: Parameters<typeof eventBridgeEntryBytes>[0][] })
          .Entries ?? []) {
          const kind = entry.Source?.startsWith(TENANT_SOURCE_PREFIX) ? 'tenant' : 'operations';
          usage.eventBridgeEvents[kind] += eventBridgeEvents(eventBridgeEntryBytes(entry));
        }
      }
      return result;
    },
    { step: 'initialize', name: 'benchUsage' },
  );

  return {
    usage,
    start() {
      counting = true;
      restore = captureLogs((bytes) => {
        const name = running.getStore();
        if (name) usage.logBytes[name] = (usage.logBytes[name] ?? 0) + bytes;
      });
    },
    stop() {
      counting = false;
      restore?.();
      restore = undefined;
    },
    wrap(name, handler) {
      return async (...args) => {
        if (!counting) return handler(...args);
        const started = performance.now();
        try {
          return await running.run(name, () => handler(...args));
        } finally {
          usage.lambda[name] ??= { invocations: 0, billedMs: 0 };
          const entry = usage.lambda[name];
          entry.invocations += 1;
          // Lambda bills each invocation's duration rounded up to the millisecond.
          entry.billedMs += Math.ceil(performance.now() - started);
        }
      };
    },
    countApiRequest() {
      if (counting) usage.apiRequests += 1;
    },
  };
}

function countSqs(
  usage: Usage,
  queues: Map<string, QueueName>,
  commandName: string | undefined,
  input: Loose,
  output: Loose,
) {
  const queue = queues.get(String(input.QueueUrl)) ?? 'other';
  const action = (commandName ?? 'Unknown').replace(/Command$/, '');
  const bodyBytes = (messages: unknown) =>
    ((messages as { MessageBody?: string; Body?: string }[] | undefined) ?? []).reduce(
      (sum, message) => sum + Buffer.byteLength(message.MessageBody ?? message.Body ?? ''),
      0,
    );
  let requests = 1;
  if (action === 'SendMessage') requests = sqsRequests(Buffer.byteLength(String(input.MessageBody ?? '')));
  if (action === 'SendMessageBatch') requests = sqsRequests(bodyBytes(input.Entries));
  if (action === 'ReceiveMessage') {
    const messages = (output.Messages as unknown[] | undefined) ?? [];
    if (messages.length === 0) {
      usage.emptyReceives += 1;
      return;
    }
    usage.received[queue as QueueName] ??= { messages: 0, calls: 0 };
    const received = usage.received[queue as QueueName] as { messages: number; calls: number };
    received.messages += messages.length;
    received.calls += 1;
    requests = sqsRequests(bodyBytes(messages));
  }
  const key = `${queue} ${action}`;
  usage.sqsRequests[key] = (usage.sqsRequests[key] ?? 0) + requests;
}

/** The low-level command names: the document client's commands run as these. */
const READS = new Set(['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand']);

function countDynamo(
  usage: Usage,
  tables: Map<string, TableName>,
  service: LocalService,
  command: string,
  input: Loose,
  consumed: unknown,
) {
  const capacities = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as {
    TableName?: string;
    CapacityUnits?: number;
  }[];
  for (const capacity of capacities) {
    const table = tables.get(String(capacity.TableName));
    if (!table) continue;
    const units = capacity.CapacityUnits ?? 0;
    // A read that finds nothing still costs the minimum (dynalite reports 0 for an empty query).
    if (READS.has(command))
      unitsOf(usage, table, operationOf(command)).readUnits += Math.max(
        units,
        input.ConsistentRead ? 1 : 0.5,
      );
    else unitsOf(usage, table, operationOf(command)).writeUnits += units;
  }
  // Index writes, which dynalite does not report.
  const writes: { table: string; item?: Loose; update?: Loose }[] = [];
  if (command === 'PutItemCommand')
    writes.push({ table: String(input.TableName), item: input.Item as Loose });
  if (command === 'UpdateItemCommand') writes.push({ table: String(input.TableName), update: input });
  if (command === 'BatchWriteItemCommand') {
    for (const [table, requests] of Object.entries(input.RequestItems as Record<string, Loose[]>)) {
      for (const request of requests) {
        const put = request.PutRequest as { Item?: Loose } | undefined;
        if (put?.Item) writes.push({ table, item: put.Item });
      }
    }
  }
  for (const write of writes) {
    const table = tables.get(write.table);
    if (!table) continue;
    const definition = service.definition.tables[table];
    unitsOf(usage, table, operationOf(command)).indexWriteUnits += write.item
      ? indexWritesOfPut(definition, write.item)
      : indexWritesOfUpdate(definition, write.update ?? {});
  }
}

function operationOf(command: string): string {
  return command.replace(/Command$/, '');
}

function unitsOf(usage: Usage, table: TableName, operation: string): DynamoUnits {
  const key = `${table} ${operation}`;
  usage.dynamo[key] ??= { readUnits: 0, writeUnits: 0, indexWriteUnits: 0 };
  return usage.dynamo[key];
}

/** A put writes every index whose keys the item has: the projected part of it, per started KB. */
function indexWritesOfPut(table: TableDefinition, item: Loose): number {
  let units = 0;
  for (const index of table.indexes ?? []) {
    if (item[index.partitionKey] === undefined || item[index.sortKey] === undefined) continue;
    const names =
      index.projection === 'ALL'
        ? Object.keys(item)
        : [table.partitionKey, table.sortKey, index.partitionKey, index.sortKey, ...index.projection];
    const projected = Object.fromEntries(
      names.flatMap((name) => (name && item[name] !== undefined ? [[name, item[name]]] : [])),
    );
    units += writeUnits(itemBytes(projected));
  }
  return units;
}

/**
 * An update writes an index when it sets or removes one of the index's keys or projected attributes (one
 * unit assumed: the index entries here are well under 1 KB).
 */
function indexWritesOfUpdate(table: TableDefinition, input: Loose): number {
  const names = input.ExpressionAttributeNames as Record<string, string> | undefined;
  const touched = new Set(
    (String(input.UpdateExpression ?? '').match(/(?<![:\w#])#?[A-Za-z_]\w*/g) ?? [])
      .filter((token) => !/^(SET|REMOVE|ADD|DELETE|if_not_exists|list_append)$/i.test(token))
      .map((token) => (token.startsWith('#') ? (names?.[token] ?? token) : token)),
  );
  return (table.indexes ?? []).filter(
    (index) =>
      index.projection === 'ALL' ||
      [index.partitionKey, index.sortKey, ...index.projection].some((name) => touched.has(name)),
  ).length;
}

/**
 * Counts (and keeps off the terminal) the logger's JSON lines, at the level the stack runs at. Lambda's own
 * start and report lines are not written here, so they are not counted.
 */
function captureLogs(onLine: (bytes: number) => void): () => void {
  const level = logger.getLevelName() as LogLevel;
  logger.setLogLevel('INFO');
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write);
  for (const stream of streams) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (typeof chunk === 'string' && chunk.startsWith('{"level":')) {
        onLine(Buffer.byteLength(chunk));
        return true;
      }
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }
  return () => {
    streams.forEach((stream, index) => {
      stream.write = originals[index] as typeof stream.write;
    });
    logger.setLogLevel(level);
  };
}
