import { mkdir, writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod/mini';
import {
  nonEmpty,
  readSettings,
  retrySchedule,
  type SettingTable,
  wholeNumber,
} from '../lambdas/contract/settings.js';
import { startEnginesThread } from '../local/emulators/engines-thread.js';
import { machineInfo } from '../local/machine-info.js';
import { type ChaosReport, renderChaosReport } from './report.js';
import { CHAOS_DEFAULTS, type ChaosSettings, runChaos } from './scenario.js';

/**
 * `npm run chaos`: local mode under load with faults, at the size unless the environment says
 * otherwise. Prints the report as Markdown, writes chaos/results/latest.json, and exits 1 if a promise broke.
 */
const rate = z.pipe(z.pipe(nonEmpty, z.transform(Number)), z.number().check(z.minimum(0), z.maximum(1)));
const count = (fallback: number, min = 1) => z._default(wholeNumber(z.minimum(min)), fallback);
const defaults = CHAOS_DEFAULTS;
const SETTINGS = {
  seed: ['CHAOS_SEED', count(defaults.seed, 0)],
  events: ['CHAOS_EVENTS', count(defaults.events)],
  subscriptions: ['CHAOS_SUBSCRIPTIONS', count(defaults.subscriptions, 4)],
  receiverFailureRate: ['CHAOS_RECEIVER_FAILURE_RATE', z._default(rate, defaults.receiverFailureRate)],
  slowAnswerRate: ['CHAOS_SLOW_ANSWER_RATE', z._default(rate, defaults.slowAnswerRate)],
  fanoutCrash: ['CHAOS_FANOUT_CRASH_RATE', z._default(rate, defaults.faults.crash.fanout)],
  deliverCrash: ['CHAOS_DELIVER_CRASH_RATE', z._default(rate, defaults.faults.crash.deliver)],
  sendBatchFailure: ['CHAOS_SEND_BATCH_FAILURE_RATE', z._default(rate, defaults.faults.sendBatchFailure)],
  dynamoThrottle: ['CHAOS_THROTTLE_RATE', z._default(rate, defaults.faults.dynamoThrottle)],
  dynamoThrottleSurfaced: [
    'CHAOS_THROTTLE_SURFACED_SHARE',
    z._default(rate, defaults.faults.dynamoThrottleSurfaced),
  ],
  fanoutPageSize: ['CHAOS_FANOUT_PAGE_SIZE', count(defaults.fanoutPageSize)],
  retryScheduleSeconds: ['CHAOS_RETRY_SCHEDULE', z.optional(retrySchedule)],
  attemptTimeoutMs: ['CHAOS_ATTEMPT_TIMEOUT_MS', count(defaults.attemptTimeoutMs, 100)],
  throttledRetryMinSeconds: ['CHAOS_TIMEOUT_RETRY_MIN_SECONDS', count(defaults.throttledRetryMinSeconds, 0)],
  visibilityTimeoutSeconds: ['CHAOS_VISIBILITY_TIMEOUT_SECONDS', count(defaults.visibilityTimeoutSeconds)],
  fanoutPollers: ['CHAOS_FANOUT_POLLERS', count(defaults.fanoutPollers)],
  deliveryPollers: ['CHAOS_DELIVERY_POLLERS', count(defaults.deliveryPollers)],
  publishers: ['CHAOS_PUBLISHERS', count(defaults.publishers)],
  timeoutSeconds: ['CHAOS_TIMEOUT_SECONDS', count(defaults.timeoutSeconds)],
} as const satisfies SettingTable;

let env: ReturnType<typeof readEnv>;
try {
  env = readEnv();
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}
const {
  fanoutCrash,
  deliverCrash,
  sendBatchFailure,
  dynamoThrottle,
  dynamoThrottleSurfaced,
  retryScheduleSeconds,
  ...rest
} = env;
const settings: ChaosSettings = {
  ...defaults,
  ...rest,
  retryScheduleSeconds: retryScheduleSeconds ?? defaults.retryScheduleSeconds,
  faults: {
    crash: { fanout: fanoutCrash, deliver: deliverCrash },
    sendBatchFailure,
    dynamoThrottle,
    dynamoThrottleSurfaced,
  },
};

const started = performance.now();
const machine = machineInfo();
const progress = (line: string) =>
  console.error(`[chaos] ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s  ${line}`);
progress(
  `${settings.events} events × ${settings.subscriptions} subscriptions, seed ${settings.seed}, engines on their own thread`,
);
// dynalite and fauxqs on a thread of their own, so their work does not slow the handlers and receivers.
const engines = await startEnginesThread();
let result: Awaited<ReturnType<typeof runChaos>>;
try {
  result = await runChaos(engines, settings, progress);
} finally {
  await engines.stop();
}
const report: ChaosReport = { date: new Date().toISOString().slice(0, 10), machine, ...result };
const results = new URL('./results/', import.meta.url);
await mkdir(results, { recursive: true });
await writeFile(new URL('latest.json', results), `${JSON.stringify(report, null, 2)}\n`);
console.log(renderChaosReport(report));
for (const line of report.pollerErrors.slice(0, 20)) progress(`poller error: ${line}`);
progress(`wrote ${relative(process.cwd(), fileURLToPath(results))}/latest.json`);
// A poller that could not receive means the run itself went wrong, so its verdict does not count either.
process.exitCode = report.passed && report.pollerErrors.length === 0 ? 0 : 1;

function readEnv() {
  return readSettings(SETTINGS, Object.keys(SETTINGS) as (keyof typeof SETTINGS)[], process.env);
}
