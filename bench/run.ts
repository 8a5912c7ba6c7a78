import { mkdir, writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineInfo } from '../local/machine-info.js';
import { measureBundles, renderBundles } from './bundles.js';
import { renderChart } from './chart.js';
import { measureCost } from './cost.js';
import { renderCost } from './cost-report.js';
import { measureIsolation } from './isolation.js';
import { type IsolationSettings, renderIsolation } from './isolation-report.js';
import { benchTenant, type FanoutResult, measureFanout, measureWidth, startPipeline } from './pipeline.js';
import { type Receiver, startReceiver } from './receiver.js';
import { type BenchResults, RATIO_TARGET, renderThroughput } from './report.js';
import { measureLimit, measureNaive } from './throughput.js';

/**
 * `npm run bench`: every row in one process tree, one after the other, so no row competes with another.
 * It measures and reports; it never fails on a figure. BENCH_QUICK=1 is a smoke run of under 2 minutes.
 * BENCH_ONLY=isolation runs the isolation section alone and prints it, leaving bench/results as they are.
 */
const quick = process.env.BENCH_QUICK === '1';
const envNumber = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const settings = {
  limitConcurrency: 64,
  limitRounds: quick ? 1 : 3,
  limitRoundSeconds: quick ? 1.5 : 2,
  naiveSeconds: quick ? 1 : 5,
  naiveSubscribers: 100,
  widthSeconds: quick ? 1.5 : 8,
  // Lambda starts five concurrent batches per queue; more delivery pollers measured no faster here.
  fanoutPollers: envNumber('BENCH_FANOUT_POLLERS', 5),
  deliveryPollers: envNumber('BENCH_DELIVERY_POLLERS', 16),
  publishers: 8,
  largeFanout: envNumber('BENCH_SUBSCRIBERS', quick ? 1_000 : 10_000),
  // Wall times of one large fan-out vary by a fifth from run to run on a shared machine; the median is reported.
  largeFanoutRounds: quick ? 1 : 3,
  slowReceiverMs: 50,
  engines: 'own thread',
  attemptLog: 'all (the default)',
};
// Issue 14's scenario: 10% of the subscriptions misbehave; a hanging variant is bounded by waitSeconds.
const isolationSettings: IsolationSettings = {
  healthy: quick ? 9 : 20,
  misbehaving: quick ? 1 : 2,
  events: envNumber('BENCH_ISOLATION_EVENTS', quick ? 40 : 200),
  eventsPerSecond: envNumber('BENCH_ISOLATION_RATE', 20),
  slowMs: 5_000,
  waitSeconds: envNumber('BENCH_ISOLATION_WAIT_SECONDS', quick ? 15 : 60),
  burstDeliveries: envNumber('BENCH_ISOLATION_BURST', quick ? 360 : 2_000),
  otherEvents: quick ? 10 : 20,
  otherEventsPerSecond: 2,
};
// One round of deliver invocations' worth of deliveries may wait: enough to keep every poller busy.
const maxOutstanding = settings.deliveryPollers * 10;
const results = new URL('./results/', import.meta.url);
const started = performance.now();
const machine = machineInfo();
const progress = (line: string) =>
  console.error(`[bench] ${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s  ${line}`);
const whole = (value: number) => Math.round(value).toLocaleString('en-US');

if (process.env.BENCH_ONLY === 'isolation') {
  const isolation = await measureIsolation(isolationSettings);
  console.log(renderIsolation(isolation));
  progress(`isolation only, nothing written, in ${Math.round((performance.now() - started) / 1000)} s`);
  process.exit(0);
}

const receiver = await startReceiver();
let throughput: Pick<BenchResults, 'limit' | 'naive' | 'pipeline' | 'fanout'>;
try {
  throughput = await measureThroughput(receiver);
} finally {
  await receiver.close();
}
const isolation = await section('isolation', () => measureIsolation(isolationSettings));
const cost = await section('cost', () => measureCost(quick ? { events: 20 } : {}));
const bundles = await section('bundles', () => measureBundles(quick ? { importRuns: 1 } : {}));

const width100 = throughput.pipeline.find((row) => row.width === 100);
const report: BenchResults = {
  date: new Date().toISOString().slice(0, 10),
  machine,
  quick,
  settings: { ...settings, maxOutstanding },
  seconds: (performance.now() - started) / 1000,
  ...throughput,
  ratioAtWidth100: (width100?.deliveriesPerSecond ?? 0) / throughput.limit.perSecond,
  isolation,
  cost,
  bundles,
};

const markdown = [
  '### Throughput and latency',
  '',
  renderThroughput(report),
  '',
  '### Isolation: misbehaving endpoints and a bursting tenant',
  '',
  'error' in isolation ? `Not measured: ${isolation.error}` : renderIsolation(isolation),
  '',
  '### What a delivery costs',
  '',
  'error' in cost ? `Not measured: ${cost.error}` : renderCost(cost),
  '',
  '### Cold start proxies',
  '',
  'error' in bundles ? `Not measured: ${bundles.error}` : renderBundles(bundles),
  '',
].join('\n');
const chart = renderChart({
  title: 'Deliveries per second by fan-out width (log scales)',
  caption: `npm run bench, ${report.date}: ${report.machine.cpu} (${report.machine.cores} cores), Node ${report.machine.node}${quick ? ', quick run' : ''}`,
  limit: report.limit.perSecond,
  naive: report.naive.perSecond,
  targetShare: RATIO_TARGET,
  points: [
    ...report.pipeline.map((row) => ({ width: row.width, perSecond: row.deliveriesPerSecond })),
    ...report.fanout
      .filter((row) => row.receiverDelayMs === 0)
      .map((row) => ({ width: row.subscribers, perSecond: row.deliveriesPerSecond })),
  ],
});
await mkdir(results, { recursive: true });
await writeFile(new URL('latest.json', results), `${JSON.stringify(report, null, 2)}\n`);
await writeFile(new URL('chart.svg', results), chart);
console.log(markdown);
const where = relative(process.cwd(), fileURLToPath(results));
progress(`wrote ${where}/latest.json and ${where}/chart.svg in ${Math.round(report.seconds)} s`);

async function measureThroughput(receiver: Receiver) {
  const limit = await measureLimit(`${receiver.url}/limit`, {
    roundMs: settings.limitRoundSeconds * 1000,
    rounds: settings.limitRounds,
    warmupMs: 1_000,
    concurrency: settings.limitConcurrency,
  });
  progress(`limit: ${whole(limit.perSecond)} deliveries/s (median of ${limit.rounds.join(', ')})`);
  const naive = {
    ...(await measureNaive(receiver.url, {
      durationMs: settings.naiveSeconds * 1000,
      subscribers: settings.naiveSubscribers,
    })),
    subscribers: settings.naiveSubscribers,
  };
  progress(`naive: ${whole(naive.perSecond)} deliveries/s`);

  const pipeline = await startPipeline(settings);
  try {
    const widthOptions = {
      durationMs: settings.widthSeconds * 1000,
      publishers: settings.publishers,
      maxOutstanding,
      drainTimeoutMs: 60_000,
    };
    // Unreported: the first seconds warm the JIT, the SDK clients' connections and the engines.
    await measureWidth(pipeline, receiver, 10, { ...widthOptions, durationMs: quick ? 1_000 : 3_000 });
    const widths = [];
    for (const width of [1, 10, 100]) {
      const row = await measureWidth(pipeline, receiver, width, widthOptions);
      progress(`pipeline, fan-out ${width}: ${whole(row.deliveriesPerSecond)} deliveries/s`);
      widths.push(row);
    }
    const subscribers = settings.largeFanout;
    const tenant = await benchTenant(pipeline, receiver.url, 'large', subscribers);
    const fanout: FanoutResult[] = [];
    for (const receiverDelayMs of [0, settings.slowReceiverMs]) {
      const rounds: FanoutResult[] = [];
      for (let round = 1; round <= settings.largeFanoutRounds; round++) {
        const row = await measureFanout(pipeline, receiver, tenant, {
          subscribers,
          receiverDelayMs,
          timeoutMs: 180_000,
          round,
        });
        progress(
          `one event → ${whole(subscribers)} (${receiverDelayMs} ms receiver), round ${round}: ${row.seconds.toFixed(1)} s`,
        );
        rounds.push(row);
      }
      fanout.push(medianRound(rounds));
    }
    return { limit, naive, pipeline: widths, fanout };
  } finally {
    await pipeline.stop();
  }
}

/** The round with the median wall time, carrying every round's time. */
function medianRound(rounds: FanoutResult[]): FanoutResult {
  const sorted = [...rounds].sort((a, b) => a.seconds - b.seconds);
  const median = sorted[Math.floor((sorted.length - 1) / 2)] as FanoutResult;
  return rounds.length > 1 ? { ...median, rounds: rounds.map((round) => round.seconds) } : median;
}

/** The other sections are reported even when one fails: its error takes its place. */
async function section<T>(name: string, measure: () => Promise<T>): Promise<T | { error: string }> {
  progress(`${name}…`);
  try {
    return await measure();
  } catch (error) {
    progress(`${name} failed: ${(error as Error).stack ?? error}`);
    return { error: (error as Error).message };
  }
}
