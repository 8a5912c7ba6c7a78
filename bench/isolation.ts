import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueHandler } from '../lambdas/contract/handlers.js';
import { logger } from '../lambdas/platform/logger.js';
import { serviceDefinition } from '../lib/definitions.js';
import { bearer } from '../local/emulators/api-gateway.js';
import { startEnginesThread } from '../local/emulators/engines-thread.js';
import { seedSubscriptions } from '../local/seed.js';
import { createLocalService, type LocalService } from '../local/service.js';
import {
  type IsolationResult,
  type IsolationSettings,
  type Misbehaviour,
  summarise,
  type VariantResult,
} from './isolation-report.js';
import { type Answer, clockMs, type Receiver, startReceiver } from './receiver.js';
import { BENCH_DATA, BENCH_EVENT_TYPE } from './throughput.js';

/** Concurrent publish calls for the burst: a publisher pushing as fast as the API takes it. */
const BURST_PUBLISHERS = 8;

/**
 * Isolation (issue 14): how far misbehaving endpoints and a bursting tenant hurt everyone else, in local mode
 * as it runs (the service's own event source mappings, scaled up to the stack's maximum concurrency, and the
 * fair delivery queue), against two loopback receivers: one healthy, one misbehaving. Each variant gets a
 * service of its own (its own queues and tables on the same engines), so no backlog leaks into the next one.
 * A variant ends when every healthy delivery has arrived or `waitSeconds` after its last publish, whichever
 * comes first; what arrived by then is reported.
 */

export async function measureIsolation(settings: IsolationSettings): Promise<IsolationResult> {
  // Every failed attempt logs a warning, and failing is what these endpoints do; errors stay.
  logger.setLogLevel('ERROR');
  const engines = await startEnginesThread();
  const healthy = await startReceiver();
  const bad = await startReceiver();
  const environment: Environment = { engines, healthy, bad, settings };
  try {
    const misbehaving: [Misbehaviour, Answer, number][] = [
      ['hanging', 'hang', 0],
      ['failing', 'fail', 0],
      ['slow', 'ok', settings.slowMs],
    ];
    // Unreported: a few seconds of the baseline warm the engines' thread, the JIT and the connections.
    await runSpread(
      { ...environment, settings: { ...settings, events: settings.eventsPerSecond * 2 } },
      'all healthy',
      'warm-up',
    );
    const variants: VariantResult[] = [await runSpread(environment, 'all healthy')];
    for (const [name, answer, delayMs] of misbehaving) {
      await bad.setAnswer(answer);
      await bad.setDelay(delayMs);
      variants.push(await runSpread(environment, name));
    }
    variants.push(await runBurst(environment));
    // The stack's attempt timeout, unchanged locally: a hanging endpoint holds its batch that long.
    return { settings: { ...settings }, attemptTimeoutMs: serviceDefinition().attemptTimeoutMs, variants };
  } finally {
    await Promise.all([healthy.close(), bad.close()]);
    await engines.stop();
    logger.setLogLevel('WARN');
  }
}

interface Environment {
  engines: { dynamoEndpoint: string; sqsEndpoint: string };
  healthy: Receiver;
  bad: Receiver;
  settings: IsolationSettings;
}

/** A service of its own, its deliver function metered: billed time is its invocations' wall time. */
async function startVariant(environment: Environment, name: string) {
  const meter = invocationMeter();
  const service = await createLocalService({
    dynamoEndpoint: environment.engines.dynamoEndpoint,
    sqsEndpoint: environment.engines.sqsEndpoint,
    namePrefix: `iso-${name}`,
    allowPrivateUrls: true,
    authCacheTtlMs: 30_000,
    tenantRequestsPerSecond: 1_000_000,
    wrapQueueHandler: (fn, handler) => (fn === 'deliver' ? meter.wrap(handler) : handler),
  });
  const mappings = service.startEventSources((line) => console.error(line));
  let stopping: Promise<void> | undefined;
  const stop = async () => {
    // The batches under way finish as they would (a hanging attempt runs to its timeout) and are billed;
    // then held requests are cut off, so that none waits on a receiver nobody measures any more.
    await Promise.all([mappings.fanout.stop(), mappings.delivery.stop()]);
    await environment.bad.setAnswer('fail');
    await environment.bad.setDelay(0);
    await service.close();
  };
  return {
    service,
    meter,
    stop: () => {
      stopping ??= stop();
      return stopping;
    },
  };
}

/** 20 healthy and 2 misbehaving subscriptions (all healthy for the baseline), events at a steady rate. */
async function runSpread(
  environment: Environment,
  name: Misbehaviour | 'all healthy',
  /** Names the variant's queues, tables and event ids: each run needs its own. */
  run = slug(name),
): Promise<VariantResult> {
  const { settings, healthy, bad } = environment;
  const variant = await startVariant(environment, run);
  try {
    const badCount = name === 'all healthy' ? 0 : settings.misbehaving;
    const healthyCount = settings.healthy + settings.misbehaving - badCount;
    const tenant = await subscribedTenant(variant.service, 'spread', [
      ...paths(healthy.url, 'h', healthyCount),
      ...paths(bad.url, 'm', badCount),
    ]);
    await startRecording(environment);
    const base = healthy.answered();
    const since = clockMs();
    variant.meter.start(since);
    const publishedAt = await publishSteadily(variant.service, tenant.apiKey, `evt_iso_${run}`, {
      events: settings.events,
      perSecond: settings.eventsPerSecond,
    });
    const expected = publishedAt.size * healthyCount;
    const complete = await healthy.waitForAnswered(base + expected, remaining(since, settings));
    const end = clockMs();
    await variant.stop();
    const billed = variant.meter.billed();
    const healthyArrivals = await healthy.takeArrivals();
    const badArrivals = await bad.takeArrivals();
    return summarise({
      variant: name,
      expected,
      publishFailures: settings.events - publishedAt.size,
      complete,
      since,
      end,
      arrivals: healthyArrivals,
      publishedAt,
      billed,
      memoryMb: variant.service.definition.functions.deliver.memoryMb,
      misbehaving: badCount
        ? { messages: publishedAt.size * badCount, requests: badArrivals.length }
        : undefined,
    });
  } finally {
    await variant.stop().catch(() => undefined);
  }
}

/** Tenant A publishes a burst at once while tenant B publishes steadily; B's deliveries are measured. */
async function runBurst(environment: Environment): Promise<VariantResult> {
  const { settings, healthy, bad } = environment;
  const variant = await startVariant(environment, 'burst');
  try {
    const bursting = await subscribedTenant(
      variant.service,
      'burst',
      paths(healthy.url, 'a', settings.healthy),
    );
    const other = await subscribedTenant(variant.service, 'other', paths(healthy.url, 'b', settings.healthy));
    await startRecording(environment);
    const base = healthy.answered();
    const burstEvents = Math.ceil(settings.burstDeliveries / settings.healthy);
    const since = clockMs();
    variant.meter.start(since);
    const [burstAccepted, publishedAt] = await Promise.all([
      publishBurst(variant.service, bursting.apiKey, burstEvents),
      publishSteadily(variant.service, other.apiKey, 'evt_iso_other', {
        events: settings.otherEvents,
        perSecond: settings.otherEventsPerSecond,
      }),
    ]);
    const expected = (burstAccepted + publishedAt.size) * settings.healthy;
    const complete = await healthy.waitForAnswered(base + expected, remaining(since, settings));
    const end = clockMs();
    await variant.stop();
    const billed = variant.meter.billed();
    const arrivals = await healthy.takeArrivals();
    await bad.takeArrivals();
    // The figures are the other tenant's; the burst's own deliveries count towards completeness and billed time.
    const otherArrivals = arrivals.filter((arrival) => arrival.path.startsWith('/b/'));
    const burstArrived = new Set(
      arrivals.filter((arrival) => !arrival.path.startsWith('/b/')).map((a) => `${a.id} ${a.path}`),
    ).size;
    return {
      ...summarise({
        variant: 'bursting tenant',
        expected: publishedAt.size * settings.healthy,
        publishFailures: burstEvents + settings.otherEvents - burstAccepted - publishedAt.size,
        complete,
        since,
        end,
        arrivals: otherArrivals,
        publishedAt,
        billed,
        memoryMb: variant.service.definition.functions.deliver.memoryMb,
        extraDeliveries: burstArrived,
      }),
      burst: { deliveries: burstAccepted * settings.healthy, arrived: burstArrived },
    };
  } finally {
    await variant.stop().catch(() => undefined);
  }
}

/** Event ids and queue names take no spaces. */
function slug(name: string): string {
  return name.replace(/\W+/g, '-');
}

function paths(url: string, prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) => `${url}/${prefix}/${index}`);
}

async function subscribedTenant(service: LocalService, name: string, urls: readonly string[]) {
  const tenant = await service.createTenant(name);
  await seedSubscriptions(
    service.clients.db,
    service.config.subscriptionsTable,
    tenant.tenantId,
    urls.map((url) => ({ url, eventTypes: [BENCH_EVENT_TYPE] })),
  );
  return tenant;
}

async function startRecording({ healthy, bad }: Environment) {
  await Promise.all([healthy.takeArrivals(), bad.takeArrivals()]);
  await Promise.all([healthy.record(true), bad.record(true)]);
}

/** Time left for the healthy deliveries: until `waitSeconds` after the last scheduled publish. */
function remaining(since: number, settings: IsolationSettings): number {
  const publishMs = (settings.events / settings.eventsPerSecond) * 1000;
  return Math.max(0, since + publishMs + settings.waitSeconds * 1000 - clockMs());
}

/** Event n published at n / perSecond after the start, whatever the earlier calls take. Returns publish times. */
async function publishSteadily(
  service: LocalService,
  apiKey: string,
  prefix: string,
  plan: { events: number; perSecond: number },
): Promise<Map<string, number>> {
  const publishedAt = new Map<string, number>();
  const started = clockMs();
  const calls: Promise<void>[] = [];
  for (let n = 0; n < plan.events; n++) {
    const wait = started + (n * 1000) / plan.perSecond - clockMs();
    if (wait > 0) await sleep(wait);
    const id = `${prefix}_${n}`;
    publishedAt.set(id, clockMs());
    calls.push(
      publish(service, apiKey, id).then((status) => {
        if (status !== 202) publishedAt.delete(id);
      }),
    );
  }
  await Promise.all(calls);
  return publishedAt;
}

/** Returns how many events the API accepted. */
async function publishBurst(service: LocalService, apiKey: string, events: number): Promise<number> {
  let next = 0;
  let accepted = 0;
  await Promise.all(
    Array.from({ length: BURST_PUBLISHERS }, async () => {
      for (let n = next++; n < events; n = next++) {
        if ((await publish(service, apiKey, `evt_iso_burst_${n}`)) === 202) accepted++;
      }
    }),
  );
  return accepted;
}

async function publish(service: LocalService, apiKey: string, id: string): Promise<number> {
  const response = await service.api({
    method: 'POST',
    path: '/events',
    headers: bearer(apiKey),
    body: JSON.stringify({ type: BENCH_EVENT_TYPE, data: BENCH_DATA, id }),
  });
  return response.statusCode;
}

/**
 * The deliver function's invocations from start() on and their billed milliseconds (each rounded up, as Lambda
 * bills), counted as each one ends.
 */
function invocationMeter() {
  let from = Number.POSITIVE_INFINITY;
  let invocations = 0;
  let billedMs = 0;
  return {
    start(at: number) {
      from = at;
    },
    wrap(handler: QueueHandler): QueueHandler {
      return async (event, context) => {
        const started = clockMs();
        if (started < from) return handler(event, context);
        try {
          return await handler(event, context);
        } finally {
          invocations++;
          billedMs += Math.ceil(clockMs() - started);
        }
      };
    },
    billed: () => ({ invocations, billedMs }),
  };
}
