import { setTimeout as sleep } from 'node:timers/promises';
import { logger } from '../lambdas/platform/logger.js';
import { bearer } from '../local/emulators/api-gateway.js';
import { startEnginesThread } from '../local/emulators/engines-thread.js';
import { pollContinuously } from '../local/emulators/event-source.js';
import { seedSubscriptions } from '../local/seed.js';
import { createLocalService, type LocalService } from '../local/service.js';
import { type Arrival, clockMs, type Receiver } from './receiver.js';
import { BENCH_DATA, BENCH_EVENT_TYPE, cpuMsPerDelivery, mark } from './throughput.js';

/**
 * This service in local mode, driven like production: the stack's tables, queues and handlers on dynalite
 * and fauxqs (on their own thread, see local/emulators/engines-thread.ts), with several pollers per queue
 * standing in for the event source mapping's concurrent batches. Local mode's runtime runs one per queue,
 * which would measure a single Lambda instance rather than the service.
 */
export interface PipelineSettings {
  fanoutPollers: number;
  deliveryPollers: number;
}

export interface Pipeline {
  service: LocalService;
  /** AWS requests the service has sent so far (empty receives of idle pollers included). */
  awsCalls(): number;
  stop(): Promise<void>;
}

export async function startPipeline(settings: PipelineSettings): Promise<Pipeline> {
  // The handlers log a JSON line per delivery, which would be most of the work measured; warnings stay.
  logger.setLogLevel('WARN');
  const engines = await startEnginesThread();
  let service: LocalService;
  try {
    service = await createLocalService({
      dynamoEndpoint: engines.dynamoEndpoint,
      sqsEndpoint: engines.sqsEndpoint,
      namePrefix: 'bench',
      allowPrivateUrls: true,
      // As in Lambda, where each authorizer instance caches keys; the per-tenant limit would throttle the bench.
      authCacheTtlMs: 30_000,
      tenantRequestsPerSecond: 1_000_000,
    });
  } catch (error) {
    await engines.stop();
    throw error;
  }
  const log = (line: string) => console.error(line);
  const pollers = [
    ...Array.from({ length: settings.fanoutPollers }, () =>
      pollContinuously('fan-out', service.pollFanout, log),
    ),
    ...Array.from({ length: settings.deliveryPollers }, () =>
      pollContinuously('delivery', service.pollDelivery, log),
    ),
  ];
  return {
    service,
    awsCalls: countAwsCalls(service),
    async stop() {
      await Promise.all(pollers.map((poller) => poller.stop()));
      await service.close();
      await engines.stop();
    },
  };
}

/** Counts every request of the service's clients: what a delivery costs in calls explains its CPU. */
function countAwsCalls(service: LocalService): () => number {
  let calls = 0;
  const { db, sqs, eventBridge } = service.clients;
  const count = { step: 'initialize', name: 'benchCallCounter' } as const;
  db.middlewareStack.add(
    (next) => (args) => {
      calls++;
      return next(args);
    },
    count,
  );
  sqs.middlewareStack.add(
    (next) => (args) => {
      calls++;
      return next(args);
    },
    count,
  );
  eventBridge.middlewareStack.add(
    (next) => (args) => {
      calls++;
      return next(args);
    },
    count,
  );
  return () => calls;
}

/** What a row cost per delivery: CPU of the whole process, and AWS requests. */
interface PerDelivery {
  cpuMsPerDelivery: number;
  awsCallsPerDelivery: number;
}

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
}

export interface WidthResult extends PerDelivery {
  width: number;
  events: number;
  deliveries: number;
  eventsPerSecond: number;
  deliveriesPerSecond: number;
  /** Publish (the API call's start) to the receiver having the whole body, in ms. */
  latencyMs: Latency;
  /** Deliveries published but not received before the drain timeout. */
  missing: number;
  duplicates: number;
  publishFailures: number;
}

export interface FanoutResult extends PerDelivery {
  subscribers: number;
  receiverDelayMs: number;
  /** Publish to the last receipt (the median round's, when there were several). */
  seconds: number;
  /** Each round's wall time, when the row is the median of several. */
  rounds?: number[];
  deliveriesPerSecond: number;
  missing: number;
  duplicates: number;
}

/** A tenant with `count` subscriptions to the bench event, each at its own path on the receiver. */
export async function benchTenant(pipeline: Pipeline, receiverUrl: string, name: string, count: number) {
  const tenant = await pipeline.service.createTenant(name);
  await seedSubscriptions(
    pipeline.service.clients.db,
    pipeline.service.config.subscriptionsTable,
    tenant.tenantId,
    Array.from({ length: count }, (_, index) => ({
      url: `${receiverUrl}/${name}/${index}`,
      eventTypes: [BENCH_EVENT_TYPE],
    })),
  );
  return tenant;
}

/**
 * Keeps `publishers` callers publishing through the API for `durationMs`, each holding back while more
 * than `maxOutstanding` deliveries are published but not yet received: the pipeline runs flat out, and its
 * latency is measured with a bounded backlog instead of one that grows for as long as the run lasts.
 */
export async function measureWidth(
  pipeline: Pipeline,
  receiver: Receiver,
  width: number,
  options: { durationMs: number; publishers: number; maxOutstanding: number; drainTimeoutMs: number },
): Promise<WidthResult> {
  const { apiKey } = await benchTenant(pipeline, receiver.url, `w${width}`, width);
  const maxOutstanding = Math.max(options.maxOutstanding, width);
  await receiver.takeArrivals();
  await receiver.record(true);
  const base = receiver.answered();
  const publishedAt = new Map<string, number>();
  let queued = 0;
  let publishFailures = 0;
  const since = mark();
  const callsBefore = pipeline.awsCalls();
  const end = since.at + options.durationMs;
  await Promise.all(
    Array.from({ length: options.publishers }, async (_, publisher) => {
      for (let n = 0; clockMs() < end; n++) {
        while (queued + width - (receiver.answered() - base) > maxOutstanding && clockMs() < end) {
          await sleep(2);
        }
        if (clockMs() >= end) break;
        const id = `evt_bench_w${width}_${publisher}_${n}`;
        queued += width;
        publishedAt.set(id, clockMs());
        if ((await publish(pipeline, apiKey, id)) !== 202) {
          publishFailures++;
          queued -= width;
          publishedAt.delete(id);
        }
      }
    }),
  );
  const publishSeconds = (clockMs() - since.at) / 1000;
  await receiver.waitForAnswered(base + queued, options.drainTimeoutMs);
  const cpu = cpuMsPerDelivery(since, queued);
  const calls = (pipeline.awsCalls() - callsBefore) / queued;
  await receiver.record(false);
  const arrivals = await receiver.takeArrivals();
  const received = unique(arrivals);
  const last = latest(arrivals);
  return {
    width,
    events: publishedAt.size,
    deliveries: received.size,
    eventsPerSecond: publishedAt.size / publishSeconds,
    deliveriesPerSecond: received.size / ((last - since.at) / 1000),
    latencyMs: percentiles(
      arrivals.map((arrival) => arrival.at - (publishedAt.get(arrival.id) ?? Number.NaN)),
    ),
    missing: queued - received.size,
    duplicates: arrivals.length - received.size,
    publishFailures,
    cpuMsPerDelivery: cpu,
    awsCallsPerDelivery: calls,
  };
}

/** One event to every subscription of a tenant: wall time from the publish call to the last receipt. */
export async function measureFanout(
  pipeline: Pipeline,
  receiver: Receiver,
  tenant: { apiKey: string },
  options: { subscribers: number; receiverDelayMs: number; timeoutMs: number; round?: number },
): Promise<FanoutResult> {
  await receiver.setDelay(options.receiverDelayMs);
  await receiver.takeArrivals();
  await receiver.record(true);
  const base = receiver.answered();
  // Each round its own event: a published id is remembered, so a repeat would be a duplicate fanned out to no one.
  const id = `evt_bench_fanout_${options.receiverDelayMs}ms_${options.round ?? 1}`;
  const since = mark();
  const callsBefore = pipeline.awsCalls();
  const status = await publish(pipeline, tenant.apiKey, id);
  if (status !== 202) throw new Error(`publishing the fan-out event answered ${status}`);
  await receiver.waitForAnswered(base + options.subscribers, options.timeoutMs);
  const cpu = cpuMsPerDelivery(since, options.subscribers);
  const calls = (pipeline.awsCalls() - callsBefore) / options.subscribers;
  await receiver.record(false);
  await receiver.setDelay(0);
  const arrivals = (await receiver.takeArrivals()).filter((arrival) => arrival.id === id);
  const received = unique(arrivals);
  // The receipt, not the 204: the last request's 50 ms sleep is the receiver's time, not the service's.
  const seconds = (latest(arrivals) - since.at) / 1000;
  return {
    subscribers: options.subscribers,
    receiverDelayMs: options.receiverDelayMs,
    seconds,
    deliveriesPerSecond: received.size / seconds,
    missing: options.subscribers - received.size,
    duplicates: arrivals.length - received.size,
    cpuMsPerDelivery: cpu,
    awsCallsPerDelivery: calls,
  };
}

async function publish(pipeline: Pipeline, apiKey: string, id: string): Promise<number> {
  const response = await pipeline.service.api({
    method: 'POST',
    path: '/events',
    headers: bearer(apiKey),
    body: JSON.stringify({ type: BENCH_EVENT_TYPE, data: BENCH_DATA, id }),
  });
  return response.statusCode;
}

/** Deliveries counted once per event and subscription (the receiver's path names the subscription). */
function unique(arrivals: readonly Arrival[]): Set<string> {
  return new Set(arrivals.map((arrival) => `${arrival.id} ${arrival.path}`));
}

function latest(arrivals: readonly Arrival[]): number {
  if (arrivals.length === 0) return Number.NaN;
  return arrivals.reduce((last, arrival) => Math.max(last, arrival.at), Number.NEGATIVE_INFINITY);
}

/** Nearest-rank percentiles; values that are not finite (an arrival without its publish) are left out. */
export function percentiles(values: readonly number[]): Latency {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const at = (fraction: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? 0;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}
