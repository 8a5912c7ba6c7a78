import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AttemptLogMode } from '../lambdas/contract/tables.js';
import {
  apiFunction,
  authorizerFunction,
  deliverFunction,
  fanoutFunction,
  ingestFunction,
} from '../lambdas/wiring.js';
import { type ApiFunctions, bearer, invokeApi } from '../local/emulators/api-gateway.js';
import { type Engines, startEngines } from '../local/emulators/engines.js';
import { pollOnce, type SqsHandler } from '../local/emulators/event-source.js';
import { createLocalService, type LocalService } from '../local/service.js';
import { type CostPart, type CostReport, type CostRun, priceUsage } from './cost-report.js';
import { PRICES } from './pricing.js';
import { createMeter, type Usage } from './usage.js';

/**
 * What a delivery costs: a real sample through local mode (HTTP API → bus → fan-out → delivery → a loopback
 * receiver), every AWS call counted as AWS would bill it (bench/usage.ts), priced, and scaled to the
 * scenario. Three runs: attempt log `off` with every first attempt succeeding (the pipeline), then `all` and
 * `failures` with a share of first attempts failing once (what each log mode and the retries add).
 */
export interface CostOptions {
  /** Events per sample run. @default 200 */
  events?: number;
  /** Subscribers of the sample's event type. @default 10 */
  subscribers?: number;
  /** Share of deliveries whose first attempt the receiver fails (500); the retry succeeds. @default 0.02 */
  failureShare?: number;
  /** Size of each event's data as JSON. @default 1024 */
  payloadBytes?: number;
  /** Events of the priced scenario, at the same number of subscribers. @default 100,000 */
  scenarioEvents?: number;
}

const EVENT_TYPE = 'order.created';
/** Retries come back after a second, so a sample with failures drains quickly. */
const RETRY_SCHEDULE = [0, 1, 1];
const DRAIN_TIMEOUT_MS = 120_000;

export async function measureCost(options: CostOptions = {}): Promise<CostReport> {
  const events = options.events ?? 200;
  const subscribers = options.subscribers ?? 10;
  const failureShare = options.failureShare ?? 0.02;
  const payloadBytes = options.payloadBytes ?? 1024;
  const scenarioEvents = options.scenarioEvents ?? 100_000;
  const sample = { events, subscribers, payloadBytes };

  const engines = await startEngines();
  let runs: CostRun[];
  try {
    runs = [
      await runSample(engines, { ...sample, attemptLog: 'off', failureShare: 0 }),
      await runSample(engines, { ...sample, attemptLog: 'all', failureShare }),
      await runSample(engines, { ...sample, attemptLog: 'failures', failureShare }),
    ];
  } finally {
    await engines.stop();
  }
  const [happy, all, failures] = runs as [CostRun, CostRun, CostRun];
  const total = (run: CostRun, part: CostPart) =>
    run.lines.filter((line) => line.part === part).reduce((sum, line) => sum + line.usd, 0);

  const perMillion = {
    pipeline: total(happy, 'pipeline'),
    retries: total(all, 'pipeline') - total(happy, 'pipeline'),
    attemptLog: {
      all: total(all, 'attempt log'),
      failures: total(failures, 'attempt log'),
      off: total(happy, 'attempt log'),
    },
    api: total(happy, 'api'),
    logs: total(happy, 'logs'),
  };
  const deliveries = scenarioEvents * subscribers;
  const percent = `${(failureShare * 100).toFixed(1)}%`;
  return {
    scenario: { events: scenarioEvents, subscribers, deliveries },
    sample: { ...sample, failureShare },
    perMillion,
    scenarioUsd:
      ((perMillion.pipeline + perMillion.api + perMillion.attemptLog.all + perMillion.logs) * deliveries) /
      1e6,
    targets: [
      { what: 'pipeline', targetUsd: 0.35, measuredUsd: perMillion.pipeline },
      { what: 'attempt log `all`, extra', targetUsd: 0.4, measuredUsd: perMillion.attemptLog.all },
    ].map((target) => ({ ...target, met: target.measuredUsd <= target.targetUsd })),
    runs,
    assumptions: [
      'Pipeline: from the event on the bus (EventBridge PutEvents) to the receiver’s answer: the fan-out and delivery queues and functions, the events and subscriptions tables, operational events. The HTTP API in front (API Gateway, authorizer, ingest, the per-tenant rate counter in the tenants table) is its own row: publishers may put events on the bus directly.',
      `Sample: ${events} events × ${subscribers} subscribers of "${EVENT_TYPE}" (exact-type subscriptions), ${payloadBytes}-byte JSON payloads, published one at a time, then each queue drained batch by batch; scaled linearly to ${scenarioEvents.toLocaleString('en-US')} events.`,
      `Batches are as full as the queue allows (the event source mapping under load, batch size 10, no batching window). A trickle of events gives fan-out batches of one: 1.8 more SQS requests and 0.9 more fan-out invocations per event, about $${(((1.8 * PRICES.sqsRequest + 0.9 * PRICES.lambdaRequest) * 1e6) / subscribers).toFixed(3)} more per million deliveries.`,
      'SQS requests made by the event source mapping (receive, delete) and by the EventBridge rule target (send) are billed to the queue owner and counted. Empty receives are left out: the mapping long-polls (20 s) an idle queue too, a fixed cost per queue rather than per delivery (at five pollers, about 650,000 requests or $0.26 a month; AWS does not publish the idle poller count).',
      'DynamoDB units are dynalite’s ConsumedCapacity (it sizes items as AWS does: names and values, 1 KB per write unit, 4 KB per read unit, eventually consistent reads at half, the larger of old and new item on updates), plus the index writes it does not report, computed from each put’s projected attributes. A failed conditional write counts one unit.',
      `Lambda: one invocation per handler call, billed at each function’s memory (lib/definitions.ts) for its local wall time rounded up to the millisecond, at arm64 $${PRICES.lambdaGbSecond}/GB-s. Local time is a proxy: on AWS the deliver function waits for the slowest receiver of its batch, so every 100 ms of receiver latency adds about $0.033 per million deliveries; init (cold start) time, billed since 2025, is not included.`,
      'The authorizer keeps its in-memory key cache (30 s), as a warm Lambda instance does, so a publish reads the key once per cache period and instance.',
      `Retries: ${percent} of first attempts fail once (HTTP 500) and succeed at the retry; their cost is the difference between the \`all\` run’s pipeline and the all-successful run’s, so it carries the runs’ timing noise.`,
      'CloudWatch Logs: the logger’s JSON lines at INFO (the stack’s level), priced at $0.50 per GB ingested (us-east-1 standard; not in REFERENCE §2). Lambda’s own start and report lines are not counted. Not part of any target.',
    ],
  };
}

interface SamplePlan {
  events: number;
  subscribers: number;
  payloadBytes: number;
  attemptLog: AttemptLogMode;
  failureShare: number;
}

async function runSample(engines: Engines, plan: SamplePlan): Promise<CostRun> {
  const receiver = await startReceiver(plan.failureShare);
  const service = await createLocalService({
    dynamoEndpoint: engines.dynamoEndpoint,
    sqsEndpoint: engines.sqsEndpoint,
    allowPrivateUrls: true,
    attemptLog: plan.attemptLog,
    retryScheduleSeconds: RETRY_SCHEDULE,
    random: () => 0.5,
    // The sample publishes back to back; the counter's write is still made and counted.
    tenantRequestsPerSecond: 1_000_000,
  });
  const meter = createMeter(service);
  try {
    const { apiKey } = await service.createTenant('bench-cost');
    const headers = bearer(apiKey);
    for (let index = 0; index < plan.subscribers; index++) {
      const created = await service.api({
        method: 'POST',
        path: '/subscriptions',
        headers,
        body: JSON.stringify({ url: `${receiver.url}/s/${index}`, eventTypes: [EVENT_TYPE] }),
      });
      if (created.statusCode !== 201) throw new Error(`subscription not created: ${created.body}`);
    }

    // The functions as the Lambda entries build them, each call counted as an invocation.
    const { config, clients } = service;
    const api: ApiFunctions = {
      authorizer: meter.wrap('authorizer', authorizerFunction(config, clients)),
      api: meter.wrap('api', apiFunction(config, clients, { allowPrivateUrls: true })),
      ingest: meter.wrap('ingest', ingestFunction(config, clients)),
    };
    const fanout = meter.wrap('fanout', fanoutFunction(config, clients));
    const deliver = meter.wrap(
      'deliver',
      deliverFunction(config, clients, { allowPrivateUrls: true, random: () => 0.5 }),
    );
    const data = payload(plan.payloadBytes);

    meter.start();
    const started = performance.now();
    try {
      for (let index = 0; index < plan.events; index++) {
        meter.countApiRequest();
        const response = await invokeApi(api, {
          method: 'POST',
          path: '/events',
          headers,
          body: JSON.stringify({ type: EVENT_TYPE, data }),
        });
        if (response.statusCode !== 202) throw new Error(`publish failed: ${response.body}`);
      }
      await drain(service, 'fanout', fanout, () => true);
      const expected = plan.events * plan.subscribers;
      await drain(service, 'delivery', deliver, () => receiver.delivered() >= expected);
    } finally {
      meter.stop();
    }
    const seconds = (performance.now() - started) / 1000;
    const usage = meter.usage;
    const factor = 1e6 / (plan.events * plan.subscribers);
    return {
      attemptLog: plan.attemptLog,
      failureShare: plan.failureShare,
      events: plan.events,
      deliveries: receiver.delivered(),
      failedAttempts: receiver.failed(),
      seconds,
      meanBatch: { fanout: meanBatch(usage, 'fanout'), delivery: meanBatch(usage, 'delivery') },
      emptyReceives: usage.emptyReceives,
      lines: priceUsage(usage, service.definition).map((line) => ({
        ...line,
        quantity: line.quantity * factor,
        usd: line.usd * factor,
      })),
    };
  } finally {
    await service.close();
    await receiver.close();
  }
}

/** Polls one queue, one batch at a time as one warm instance would, until it is empty and `done` says so. */
async function drain(
  service: LocalService,
  queue: 'fanout' | 'delivery',
  handler: SqsHandler,
  done: () => boolean,
) {
  const options = {
    functionName: queue === 'fanout' ? 'fanout' : 'deliver',
    queueUrl: service.resources.queues[queue].url,
    queueArn: service.resources.queues[queue].arn,
    batchSize: service.definition.queues[queue].batchSize,
  };
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const result = await pollOnce(service.clients.sqs, handler, options);
    if (result.handlerError !== undefined) throw result.handlerError;
    if (result.received > 0) continue;
    if (done()) return;
    if (Date.now() > deadline) throw new Error(`the ${queue} queue did not drain`);
    // Retries are invisible until their visibility timeout ends.
    await sleep(100);
  }
}

function meanBatch(usage: Usage, queue: 'fanout' | 'delivery'): number {
  const received = usage.received[queue];
  return received ? received.messages / received.calls : 0;
}

/** An order-like payload padded to about `bytes` of JSON. */
function payload(bytes: number): Record<string, unknown> {
  const base = { orderId: 'ord_1234567890', amount: 4200, currency: 'EUR', items: 3, note: '' };
  const padding = Math.max(0, bytes - JSON.stringify(base).length);
  return { ...base, note: 'x'.repeat(padding) };
}

/**
 * A loopback receiver answering 204, or 500 to the first attempt of `failureShare` of the deliveries (by
 * webhook-id and path, exactly that share in arrival order); a retry of a failed one gets 204.
 */
async function startReceiver(failureShare: number) {
  const seen = new Set<string>();
  let delivered = 0;
  let failed = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const key = `${request.headers['webhook-id']} ${request.url}`;
      const first = !seen.has(key);
      seen.add(key);
      const fail = first && Math.floor(seen.size * failureShare) > Math.floor((seen.size - 1) * failureShare);
      if (fail) failed++;
      else delivered++;
      response.writeHead(fail ? 500 : 204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    delivered: () => delivered,
    failed: () => failed,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
