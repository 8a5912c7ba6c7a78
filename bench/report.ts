import type { MachineInfo } from '../local/machine-info.js';
import type { FanoutResult, WidthResult } from './pipeline.js';
import type { Rate } from './throughput.js';

/** Everything one run measured, as written to bench/results/latest.json. */
export interface BenchResults {
  date: string;
  machine: MachineInfo;
  quick: boolean;
  /** How the run was set up: durations, pollers, publishers, the backlog bound. */
  settings: Record<string, number | string>;
  /** Wall time of the whole run. */
  seconds: number;
  limit: Rate & { concurrency: number; rounds: number[] };
  naive: Rate & { subscribers: number };
  pipeline: WidthResult[];
  fanout: FanoutResult[];
  /** Pipeline deliveries/s at fan-out 100 over the limit's; the target is ≥ 0.40. */
  ratioAtWidth100: number;
  /** Filled by bench/isolation.ts, bench/cost.ts and bench/bundles.ts; a section that failed carries its error instead. */
  isolation?: unknown;
  cost?: unknown;
  bundles?: unknown;
}

export const RATIO_TARGET = 0.4;
const FANOUT_TARGET_SECONDS = 5;

const whole = (value: number) => Math.round(value).toLocaleString('en-US');
const ms = (value: number) => `${Math.round(value).toLocaleString('en-US')} ms`;
const seconds = (value: number) => `${value.toFixed(1)} s`;
const cpu = (value: number) => (value < 1 ? `${Math.round(value * 1000)} µs` : `${value.toFixed(1)} ms`);

/** The throughput table, the targets it checks, and the machine it ran on. */
export function renderThroughput(results: BenchResults): string {
  const { limit, naive } = results;
  const share = (perSecond: number) => (perSecond / limit.perSecond).toFixed(3);
  const incomplete = (missing: number, duplicates: number, publishFailures = 0) =>
    [
      missing ? `${missing} missing` : '',
      duplicates ? `${duplicates} duplicates` : '',
      publishFailures ? `${publishFailures} publishes refused` : '',
    ]
      .filter(Boolean)
      .join(', ');
  const rows = [
    `| limit: keep-alive client, ${limit.concurrency} in flight, one signed payload${limit.rounds.length > 1 ? ` (median of ${limit.rounds.length} rounds)` : ''} | ${whole(limit.perSecond)} | | | | ${cpu(limit.cpuMsPerDelivery)} | 0 | 1 |`,
    `| naive: sequential sign + \`await fetch\` per subscriber | ${whole(naive.perSecond)} | | | | ${cpu(naive.cpuMsPerDelivery)} | 0 | ${share(naive.perSecond)} |`,
    ...results.pipeline.map((row) => {
      const note = incomplete(row.missing, row.duplicates, row.publishFailures);
      return `| pipeline, fan-out ${row.width}${note ? ` (${note})` : ''} | ${whole(row.deliveriesPerSecond)} | ${whole(row.eventsPerSecond)} | ${ms(row.latencyMs.p50)} / ${ms(row.latencyMs.p95)} / ${ms(row.latencyMs.p99)} | | ${cpu(row.cpuMsPerDelivery)} | ${row.awsCallsPerDelivery.toFixed(1)} | ${share(row.deliveriesPerSecond)} |`;
    }),
    ...results.fanout.map((row) => {
      const receiver = row.receiverDelayMs ? `, receiver takes ${row.receiverDelayMs} ms` : '';
      const note = incomplete(row.missing, row.duplicates);
      // What the sequential loop would need for the same deliveries, from its measured rate.
      const naiveSeconds = row.subscribers * (1 / naive.perSecond + row.receiverDelayMs / 1000);
      const median = row.rounds ? ` (median of ${row.rounds.length} rounds)` : '';
      return `| one event → ${whole(row.subscribers)} subscribers${receiver}${median}${note ? ` (${note})` : ''} | ${whole(row.deliveriesPerSecond)} | | | ${seconds(row.seconds)} (naive loop ≈ ${seconds(naiveSeconds)}) | ${cpu(row.cpuMsPerDelivery)} | ${row.awsCallsPerDelivery.toFixed(1)} | ${share(row.deliveriesPerSecond)} |`;
    }),
  ];
  const width100 = results.pipeline.find((row) => row.width === 100);
  const large = results.fanout.find((row) => row.receiverDelayMs === 0);
  const verdict = (met: boolean) => (met ? 'met' : 'missed');
  const targets = [
    width100
      ? `- Pipeline ÷ limit at fan-out 100: **${results.ratioAtWidth100.toFixed(3)}** (target ≥ ${RATIO_TARGET}: ${verdict(results.ratioAtWidth100 >= RATIO_TARGET)}).`
      : '',
    large
      ? `- One event to ${whole(large.subscribers)} subscribers: **${seconds(large.seconds)}**${large.rounds ? `, the median of ${large.rounds.map(seconds).join(', ')}` : ''} (target ≤ ${FANOUT_TARGET_SECONDS} s for 10,000: ${large.subscribers < 10_000 ? 'not checked in a quick run' : verdict(large.seconds <= FANOUT_TARGET_SECONDS)}).`
      : '',
  ].filter(Boolean);
  const { machine } = results;
  return [
    '| row | deliveries/s | events/s in | publish → receipt p50 / p95 / p99 | wall time | CPU per delivery | AWS calls per delivery | ÷ limit |',
    '| --- | ---: | ---: | --- | --- | ---: | ---: | ---: |',
    ...rows,
    '',
    ...targets,
    '',
    `Settings: ${Object.entries(results.settings)
      .map(([name, value]) => `${name} ${value}`)
      .join(', ')}.`,
    '',
    `Measured ${results.date} on ${machine.cpu} (${machine.cores} cores, ${machine.memoryGb} GB), Node ${machine.node}, ${machine.os}, load ${machine.loadBefore} before the run; ${results.quick ? 'quick run (BENCH_QUICK=1), ' : ''}the run took ${Math.round(results.seconds)} s.`,
  ].join('\n');
}
