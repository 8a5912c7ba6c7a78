import { spawn } from 'node:child_process';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { DEFAULT_RETRY_SCHEDULE_SECONDS } from '../lambdas/contract/retry-schedule.js';
import {
  environmentVariable,
  FUNCTION_SETTINGS,
  type FunctionName,
  type SettingName,
} from '../lambdas/contract/settings.js';
import { CREATE_REQUIRE_BANNER, REPO_ROOT } from '../lib/constructs/fanout-function.js';
import { serviceDefinition } from '../lib/definitions.js';

/**
 * Cold start proxies: each function bundled exactly as the stack bundles it (lib/constructs/fanout-function.ts
 * through NodejsFunction), its minified size and what fills it, and how long a fresh Node process takes to
 * import it with the environment its loadConfig reads.
 */
export interface BundleReport {
  name: FunctionName;
  entry: string;
  /** Size of the minified index.mjs, source map excluded. */
  bytes: number;
  withinTarget: boolean;
  /** Milliseconds from before `import()` to after it, in a fresh process each time. */
  importMs: { median: number; runs: number[] };
  /** The largest packages (or project folders) in the bundle, by bytes in the output. */
  contributors: { name: string; bytes: number }[];
}

const BUNDLE_TARGET_BYTES = 150 * 1024;

/** Inside the repository, so the externals (@aws-sdk/*) resolve from node_modules as the runtime's would. */
const OUT_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'fanout-bench', 'bundles');

/** Placeholder values that pass each setting's schema; typed so a new setting must be added here. */
const PLACEHOLDER_SETTINGS: Record<SettingName, string> = {
  tenantsTable: 'tenants',
  subscriptionsTable: 'subscriptions',
  eventsTable: 'events',
  attemptsTable: 'attempts',
  eventBusName: 'bus',
  fanoutQueueUrl: 'https://sqs.us-east-1.amazonaws.com/000000000000/fanout',
  deliveryQueueUrl: 'https://sqs.us-east-1.amazonaws.com/000000000000/delivery',
  fanoutDeadLetterQueueUrl: 'https://sqs.us-east-1.amazonaws.com/000000000000/fanout-dlq',
  deliveryDeadLetterQueueUrl: 'https://sqs.us-east-1.amazonaws.com/000000000000/delivery-dlq',
  retryScheduleSeconds: DEFAULT_RETRY_SCHEDULE_SECONDS.join(','),
  attemptTimeoutMs: '15000',
  eventRetentionDays: '30',
  attemptLog: 'all',
  attemptRetentionDays: '30',
  autoDisableAfterSeconds: '432000',
  fanoutPageSize: '2000',
  maxSubscriptionsPerTenant: '10000',
  tenantRequestsPerSecond: '50',
};

const IMPORT_SCRIPT =
  'const started = performance.now(); await import(process.argv[1]); process.stdout.write(String(performance.now() - started));';

export async function measureBundles(options: { importRuns?: number; contributors?: number } = {}) {
  const functions = serviceDefinition().functions;
  await rm(OUT_DIR, { recursive: true, force: true });
  const reports: BundleReport[] = [];
  for (const name of Object.keys(functions) as FunctionName[]) {
    const entry = functions[name].entry;
    const outfile = join(OUT_DIR, name, 'index.mjs');
    await mkdir(join(OUT_DIR, name), { recursive: true });
    // NodejsFunction's esbuild flags for this construct's bundling options.
    const result = await build({
      absWorkingDir: REPO_ROOT,
      entryPoints: [join(REPO_ROOT, entry)],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      minify: true,
      sourcemap: true,
      mainFields: ['module', 'main'],
      banner: { js: CREATE_REQUIRE_BANNER },
      // The Node.js 24 runtime ships SDK v3; NodejsFunction leaves it out by default.
      external: ['@aws-sdk/*'],
      metafile: true,
      logLevel: 'silent',
    });
    const runs: number[] = [];
    for (let run = 0; run < (options.importRuns ?? 5); run++) runs.push(await importMs(name, outfile));
    const bytes = (await stat(outfile)).size;
    reports.push({
      name,
      entry,
      bytes,
      withinTarget: bytes <= BUNDLE_TARGET_BYTES,
      importMs: { median: median(runs), runs },
      contributors: contributors(result.metafile, outfile).slice(0, options.contributors ?? 6),
    });
  }
  return reports;
}

/** One fresh process with the function's environment as the stack sets it (settings, source maps on). */
function importMs(name: FunctionName, file: string): Promise<number> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'us-east-1',
    NODE_OPTIONS: '--enable-source-maps',
    ...Object.fromEntries(
      FUNCTION_SETTINGS[name].map((setting) => [environmentVariable(setting), PLACEHOLDER_SETTINGS[setting]]),
    ),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', IMPORT_SCRIPT, pathToFileURL(file).href],
      { env },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      err += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(out);
      if (code === 0 && Number.isFinite(ms)) resolve(ms);
      else reject(new Error(`importing the ${name} bundle failed (exit ${code}): ${err.trim()}`));
    });
  });
}

/** Bytes in the output by package (node_modules/<pkg> or @scope/pkg) or, for our code, by folder. */
function contributors(metafile: Metafile, outfile: string): { name: string; bytes: number }[] {
  const output = Object.entries(metafile.outputs).find(([path]) => join(REPO_ROOT, path) === outfile)?.[1];
  const totals = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const name = ownerOf(path);
    totals.set(name, (totals.get(name) ?? 0) + bytesInOutput);
  }
  return [...totals].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

function ownerOf(path: string): string {
  const inModules = path.split('node_modules/').at(-1);
  if (inModules !== undefined && inModules !== path) {
    const parts = inModules.split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? path);
  }
  return path.split('/').slice(0, -1).join('/') || path;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** Markdown: one row per function, sizes in KB of 1,024 bytes. */
export function renderBundles(reports: readonly BundleReport[]): string {
  return [
    `| function | minified | ≤ ${kb(BUNDLE_TARGET_BYTES)} | import (median) | biggest contributors |`,
    '| --- | --- | --- | --- | --- |',
    ...reports.map(
      (report) =>
        `| ${report.name} | ${kb(report.bytes)} | ${report.withinTarget ? 'yes' : 'no'} | ${report.importMs.median.toFixed(0)} ms | ${report.contributors
          .map((contributor) => `${contributor.name} ${kb(contributor.bytes)}`)
          .join(', ')} |`,
    ),
  ].join('\n');
}
