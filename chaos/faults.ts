import { Readable } from 'node:stream';
import type {
  SendMessageBatchCommandInput,
  SendMessageBatchCommandOutput,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { QueueHandler } from '../lambdas/contract/handlers.js';
import type { QueueFunctionName } from '../local/service.js';

/**
 * Our own faults, for the chaos run and its test, injected where AWS and Lambda produce them and never inside
 * handler logic:
 *   - a queue consumer crashes after handling only part of its batch (a handler wrapper: the real handler
 *     runs on the first k records, then the invocation throws, so the event source mapping leaves the whole
 *     batch for redelivery, as after a crash or a timeout on Lambda);
 *   - SendMessageBatch succeeds as a call while some entries fail (SQS client middleware: those entries are
 *     not sent and come back in `Failed`, as SQS reports them);
 *   - DynamoDB throttles (DynamoDB client middleware). Throttle responses are produced below the SDK's retry
 *     and deserializer middleware, as raw HTTP 400 answers with the service's error body, so the SDK parses
 *     them into its own ProvisionedThroughputExceededException or ThrottlingException and retries them with
 *     its throttling backoff: most throttled calls are absorbed by those retries, and a configured share is
 *     throttled on every attempt and reaches the handler, as on AWS.
 * Faults are only injected while enabled, so setup and the final checks run without them. All choices come
 * from seeded random streams; the rates are kept with random gaps (see `pacer`), so the number of faults over
 * a run is close to rate × opportunities whatever the timing.
 */
export interface FaultRates {
  /** Share of fan-out and of deliver invocations that crash part-way through their batch. */
  crash: Record<QueueFunctionName, number>;
  /** Share of SendMessageBatch calls in which some entries fail. */
  sendBatchFailure: number;
  /** Share of DynamoDB calls throttled at least once. */
  dynamoThrottle: number;
  /** Share of throttled DynamoDB calls that are throttled on every attempt, so the error reaches the caller. */
  dynamoThrottleSurfaced: number;
}

export interface FaultCounts {
  invocations: Record<QueueFunctionName, number>;
  crashes: Record<QueueFunctionName, number>;
  /** Records of crashed invocations, and how many of those the real handler had handled before the crash. */
  recordsInCrashedBatches: number;
  recordsHandledBeforeCrash: number;
  sendBatch: { calls: number; partialFailures: number; entriesFailed: number };
  dynamo: {
    calls: number;
    throttledCalls: number;
    /** Throttle answers returned, one per throttled attempt. */
    throttleResponses: number;
    /** Throttled calls that got past the throttling through the SDK's retries. */
    absorbed: number;
    /** Throttled calls whose throttling error reached the caller, in all and by command. */
    surfaced: number;
    surfacedByCommand: Record<string, number>;
  };
}

export interface Faults {
  /** For createLocalService's `wrapQueueHandler`. */
  wrapQueueHandler(name: QueueFunctionName, handler: QueueHandler): QueueHandler;
  /** Adds the SQS and DynamoDB middleware to the service's clients. */
  instrument(clients: { db: DynamoDBDocumentClient; sqs: SQSClient }): void;
  enable(on: boolean): void;
  counts(): FaultCounts;
}

/** The error an injected crash throws, so that logs and counts tell it from a real failure. */
export class InjectedCrash extends Error {
  override name = 'InjectedCrash';
}

export function createFaults(rates: FaultRates, seed: number): Faults {
  const { crash, ...others } = rates;
  for (const [name, rate] of Object.entries({
    ...others,
    fanoutCrash: crash.fanout,
    deliverCrash: crash.deliver,
  })) {
    if (!(rate >= 0 && rate <= 1)) throw new Error(`fault rate ${name} must be between 0 and 1, got ${rate}`);
  }
  const stream = (name: string) => seededRandom(seed, `faults:${name}`);
  let enabled = false;
  const counts: FaultCounts = {
    invocations: { fanout: 0, deliver: 0 },
    crashes: { fanout: 0, deliver: 0 },
    recordsInCrashedBatches: 0,
    recordsHandledBeforeCrash: 0,
    sendBatch: { calls: 0, partialFailures: 0, entriesFailed: 0 },
    dynamo: {
      calls: 0,
      throttledCalls: 0,
      throttleResponses: 0,
      absorbed: 0,
      surfaced: 0,
      surfacedByCommand: {},
    },
  };

  const wrapQueueHandler = (name: QueueFunctionName, handler: QueueHandler): QueueHandler => {
    const crashDue = pacer(rates.crash[name], stream(`crash:${name}`));
    const cut = stream(`cut:${name}`);
    return async (event, context) => {
      if (!enabled) return handler(event, context);
      counts.invocations[name]++;
      if (!crashDue()) return handler(event, context);
      const records = event.Records;
      // Anywhere from before the first record to after the last (a timeout just before returning).
      const handled = Math.floor(cut() * (records.length + 1));
      counts.crashes[name]++;
      counts.recordsInCrashedBatches += records.length;
      counts.recordsHandledBeforeCrash += handled;
      if (handled > 0) {
        // What the real handler made of its part does not matter: the invocation fails as a whole.
        await handler({ Records: records.slice(0, handled) }, context).catch(() => undefined);
      }
      throw new InjectedCrash(`injected crash of ${name} after ${handled} of ${records.length} records`);
    };
  };

  const instrument = (clients: { db: DynamoDBDocumentClient; sqs: SQSClient }) => {
    addSendBatchFailures(clients.sqs);
    addDynamoThrottling(clients.db);
  };

  const addSendBatchFailures = (sqs: SQSClient) => {
    const failureDue = pacer(rates.sendBatchFailure, stream('send-batch'));
    const pick = stream('send-batch-entries');
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (!enabled || context.commandName !== 'SendMessageBatchCommand') return next(args);
        counts.sendBatch.calls++;
        if (!failureDue()) return next(args);
        const input = args.input as SendMessageBatchCommandInput;
        const entries = input.Entries ?? [];
        // Each entry fails with even odds, and at least one does.
        const failing = new Set(entries.filter(() => pick() < 0.5).map((entry) => entry.Id));
        if (failing.size === 0 && entries[0]) failing.add(entries[0].Id);
        counts.sendBatch.partialFailures++;
        counts.sendBatch.entriesFailed += failing.size;
        const failed = [...failing].map((Id) => ({
          Id,
          SenderFault: false,
          Code: 'InternalError',
          Message: 'We encountered an internal error. Please try again.',
        }));
        const kept = entries.filter((entry) => !failing.has(entry.Id));
        if (kept.length === 0) {
          const output: SendMessageBatchCommandOutput = {
            Successful: [],
            Failed: failed,
            $metadata: { httpStatusCode: 200 },
          };
          return { output, response: undefined };
        }
        const result = await next({ ...args, input: { ...input, Entries: kept } });
        const output = result.output as SendMessageBatchCommandOutput;
        return { ...result, output: { ...output, Failed: [...(output.Failed ?? []), ...failed] } };
      },
      { step: 'initialize', name: 'chaosSendBatchFailures' },
    );
  };

  const addDynamoThrottling = (db: DynamoDBDocumentClient) => {
    const throttleDue = pacer(rates.dynamoThrottle, stream('throttle'));
    const surfaceDue = pacer(rates.dynamoThrottleSurfaced, stream('throttle-surfaced'));
    const pick = stream('throttle-kind');
    // Throttled attempts still to answer, per call: the SDK passes one context object through all its retries.
    const pending = new WeakMap<object, { remaining: number; kind: ThrottleKind }>();
    db.middlewareStack.add(
      (next, context) => async (args) => {
        if (!enabled) return next(args);
        counts.dynamo.calls++;
        if (!throttleDue()) return next(args);
        counts.dynamo.throttledCalls++;
        pending.set(context, {
          // One or two throttled attempts are within the SDK's retries; every attempt is beyond them.
          remaining: surfaceDue() ? Number.POSITIVE_INFINITY : 1 + Math.floor(pick() * 2),
          kind: pick() < 0.5 ? 'ProvisionedThroughputExceededException' : 'ThrottlingException',
        });
        try {
          const result = await next(args);
          counts.dynamo.absorbed++;
          return result;
        } catch (error) {
          if (THROTTLE_KINDS.includes((error as Error).name as ThrottleKind)) {
            counts.dynamo.surfaced++;
            const command = context.commandName ?? 'unknown';
            counts.dynamo.surfacedByCommand[command] = (counts.dynamo.surfacedByCommand[command] ?? 0) + 1;
          } else {
            counts.dynamo.absorbed++;
          }
          throw error;
        }
      },
      { step: 'initialize', priority: 'high', name: 'chaosThrottleDecision' },
    );
    db.middlewareStack.add(
      (next, context) => async (args) => {
        const throttle = pending.get(context);
        if (!throttle || throttle.remaining <= 0) return await next(args);
        throttle.remaining--;
        counts.dynamo.throttleResponses++;
        return { response: throttleResponse(throttle.kind, counts.dynamo.throttleResponses) };
      },
      // Below the deserializer, so the SDK parses the answer; and so below its retry middleware too.
      { step: 'deserialize', priority: 'low', name: 'chaosThrottleResponse' },
    );
  };

  return {
    wrapQueueHandler,
    instrument,
    enable(on) {
      enabled = on;
    },
    counts: () => structuredClone(counts),
  };
}

const THROTTLE_KINDS = ['ProvisionedThroughputExceededException', 'ThrottlingException'] as const;
type ThrottleKind = (typeof THROTTLE_KINDS)[number];

/** DynamoDB's own answers when it throttles: HTTP 400 with the error's type and message as JSON. */
const THROTTLE_BODIES: Record<ThrottleKind, { __type: string; message: string }> = {
  ProvisionedThroughputExceededException: {
    __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message:
      'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
  },
  ThrottlingException: {
    __type: 'com.amazon.coral.availability#ThrottlingException',
    message: 'Rate of requests exceeds the allowed throughput.',
  },
};

function throttleResponse(kind: ThrottleKind, serial: number) {
  return {
    statusCode: 400,
    reason: 'Bad Request',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-requestid': `CHAOS-THROTTLE-${serial}`,
    },
    body: Readable.from([Buffer.from(JSON.stringify(THROTTLE_BODIES[kind]))]),
  };
}

/**
 * Which of a stream of opportunities get a fault: on average `rate` of them, with gaps drawn uniformly from
 * 1 to 2/rate − 1. Unlike independent draws, a run with n opportunities sees close to n × rate faults (so a
 * short seeded run reliably injects every kind), and unlike a fixed period the faults cannot line up with a
 * periodic pattern of the workload.
 */
function pacer(rate: number, random: () => number): () => boolean {
  if (rate <= 0) return () => false;
  const maxGap = Math.max(1, Math.round(2 / rate - 1));
  const nextGap = () => 1 + Math.floor(random() * maxGap);
  let countdown = nextGap();
  return () => {
    countdown--;
    if (countdown > 0) return false;
    countdown = nextGap();
    return true;
  };
}

/**
 * A reproducible random stream in [0, 1) (mulberry32), one per seed and name, so that adding a draw to one
 * stream does not shift the others.
 */
export function seededRandom(seed: number, name = ''): () => number {
  // FNV-1a over the name, mixed with the seed.
  let state = 0x811c9dc5 ^ seed;
  for (const char of name) state = Math.imul(state ^ (char.codePointAt(0) ?? 0), 0x01000193);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
