import { type Latency, percentiles } from './pipeline.js';
import { lambdaUsd } from './pricing.js';
import type { Arrival } from './receiver.js';

/**
 * The isolation section's figures (bench/isolation.ts measures them) and the issue's targets beside them.
 * Targets are reported as met or missed; nothing here fails a run.
 */
export interface IsolationSettings {
  healthy: number;
  misbehaving: number;
  events: number;
  eventsPerSecond: number;
  slowMs: number;
  waitSeconds: number;
  /** Deliveries the bursting tenant publishes at once, spread over `healthy` subscriptions. */
  burstDeliveries: number;
  /** The other tenant's events during the burst, at `otherEventsPerSecond`, each to `healthy` subscriptions. */
  otherEvents: number;
  otherEventsPerSecond: number;
}

export type Misbehaviour = 'hanging' | 'failing' | 'slow';
type VariantName = Misbehaviour | 'all healthy' | 'bursting tenant';

export interface VariantResult {
  variant: VariantName;
  /** Healthy deliveries (the other tenant's, for the bursting tenant): published × subscriptions. */
  expected: number;
  /** Events the API refused (their deliveries are not expected). */
  publishFailures: number;
  /** Distinct (event, subscription) pairs that reached the healthy receiver before the variant ended. */
  arrived: number;
  duplicates: number;
  /** Every expected delivery arrived before the variant's time ran out. */
  complete: boolean;
  /** First publish to the last healthy arrival, or to the end of the variant's time when some were missing. */
  seconds: number;
  deliveriesPerSecond: number;
  /** Publish (the API call's start) to the receiver having the whole body. */
  latencyMs: Latency;
  /**
   * The deliver function over the variant: billed time per healthy delivery (every delivery that arrived, for
   * the bursting tenant), and its price per million.
   */
  deliver: { invocations: number; billedMs: number; secondsPerDelivery: number; usdPerMillion: number };
  /** Requests the misbehaving endpoints received, per message addressed to them (retries included). */
  misbehaving?: { messages: number; requests: number; perMessage: number };
  /** The bursting tenant's own deliveries, which only need to arrive. */
  burst?: { deliveries: number; arrived: number };
}

export interface IsolationResult {
  settings: IsolationSettings;
  attemptTimeoutMs: number;
  variants: VariantResult[];
}

export interface VariantSample {
  variant: VariantName;
  expected: number;
  publishFailures: number;
  complete: boolean;
  /** clockMs() of the first publish and of the variant's end. */
  since: number;
  end: number;
  arrivals: readonly Arrival[];
  /** Publish time of each event, by webhook-id. */
  publishedAt: ReadonlyMap<string, number>;
  billed: { invocations: number; billedMs: number };
  memoryMb: number;
  /** Deliveries that share the billed time without being measured (the bursting tenant's). */
  extraDeliveries?: number;
  misbehaving?: { messages: number; requests: number } | undefined;
}

export function summarise(sample: VariantSample): VariantResult {
  const first = new Map<string, Arrival>();
  for (const arrival of sample.arrivals) {
    const key = `${arrival.id} ${arrival.path}`;
    if (!first.has(key)) first.set(key, arrival);
  }
  const arrived = [...first.values()];
  const last = arrived.reduce((latest, arrival) => Math.max(latest, arrival.at), sample.since);
  const seconds = ((sample.complete ? last : sample.end) - sample.since) / 1000;
  const { invocations, billedMs } = sample.billed;
  const billedOver = arrived.length + (sample.extraDeliveries ?? 0);
  const perDelivery = (value: number) => (billedOver ? value / billedOver : Number.NaN);
  const usd = lambdaUsd(invocations, billedMs, sample.memoryMb);
  return {
    variant: sample.variant,
    expected: sample.expected,
    publishFailures: sample.publishFailures,
    arrived: arrived.length,
    duplicates: sample.arrivals.length - arrived.length,
    complete: sample.complete,
    seconds,
    deliveriesPerSecond: seconds > 0 ? arrived.length / seconds : 0,
    latencyMs: percentiles(
      arrived.map((arrival) => arrival.at - (sample.publishedAt.get(arrival.id) ?? Number.NaN)),
    ),
    deliver: {
      invocations,
      billedMs,
      secondsPerDelivery: perDelivery(billedMs / 1000),
      usdPerMillion: perDelivery((usd.requests + usd.duration) * 1e6),
    },
    ...(sample.misbehaving
      ? {
          misbehaving: {
            ...sample.misbehaving,
            perMessage: sample.misbehaving.requests / sample.misbehaving.messages,
          },
        }
      : {}),
  };
}

const ISOLATION_TARGETS = {
  throughputShare: 0.9,
  p99Factor: 3,
  p99FloorMs: 1_000,
  hangingRequestsPerMessage: 0.25,
  otherTenantP99Ms: 2_000,
} as const;

export interface TargetCheck {
  variant: VariantName;
  target: string;
  measured: string;
  met: boolean;
}

/** Each variant against the issue's targets and the all-healthy baseline of the same run. */
export function checkTargets(variants: readonly VariantResult[]): TargetCheck[] {
  const baseline = variants.find((variant) => variant.variant === 'all healthy');
  const t = ISOLATION_TARGETS;
  const checks: TargetCheck[] = [];
  for (const variant of variants) {
    const { variant: name } = variant;
    if (name === 'bursting tenant') {
      checks.push({
        variant: name,
        target: `other tenant p99 < ${ms(t.otherTenantP99Ms)}`,
        measured: ms(variant.latencyMs.p99),
        met: variant.complete && variant.latencyMs.p99 < t.otherTenantP99Ms,
      });
      continue;
    }
    if (name === 'all healthy' || !baseline) continue;
    const share = ratio(variant.deliveriesPerSecond, baseline.deliveriesPerSecond);
    const p99Limit = Math.max(t.p99Factor * baseline.latencyMs.p99, t.p99FloorMs);
    checks.push(
      {
        variant: name,
        target: 'every healthy delivery arrives',
        measured: `${whole(variant.arrived)} / ${whole(variant.expected)}`,
        met: variant.complete,
      },
      {
        variant: name,
        target: `healthy throughput ≥ ${percent(t.throughputShare)} of baseline`,
        // One decimal: a share just under the target must not read as the target.
        measured: Number.isFinite(share) ? `${(share * 100).toFixed(1)}%` : 'n/a',
        met: share >= t.throughputShare,
      },
      {
        variant: name,
        target: `healthy p99 ≤ max(${t.p99Factor} × baseline, ${ms(t.p99FloorMs)}) = ${ms(p99Limit)}`,
        measured: ms(variant.latencyMs.p99),
        met: variant.latencyMs.p99 <= p99Limit,
      },
    );
    if (name === 'hanging' && variant.misbehaving) {
      checks.push({
        variant: name,
        target: `≤ 1 request per ${1 / t.hangingRequestsPerMessage} messages to a hanging endpoint`,
        measured: `${variant.misbehaving.perMessage.toFixed(2)} per message`,
        met: variant.misbehaving.perMessage <= t.hangingRequestsPerMessage,
      });
    }
  }
  return checks;
}

const whole = (value: number) => Math.round(value).toLocaleString('en-US');
const ms = (value: number) => (value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${whole(value)} ms`);
const percent = (share: number) => (Number.isFinite(share) ? `${Math.round(share * 100)}%` : 'n/a');
/** A share of the baseline; not a number when the baseline has nothing to compare with. */
const ratio = (value: number, base: number | undefined) => (base ? value / base : Number.NaN);
const usd = (value: number) => (Number.isFinite(value) ? `$${value.toFixed(3)}` : 'n/a');

export function renderIsolation(result: IsolationResult): string {
  const baseline = result.variants.find((variant) => variant.variant === 'all healthy');
  const versus = (value: number, base: number | undefined, format: (v: number) => string) => {
    const times = ratio(value, base);
    return Number.isFinite(times) && base !== value
      ? `${format(value)} (${times.toFixed(1)}×)`
      : format(value);
  };
  const rows = result.variants.map((v) => {
    // The other tenant publishes at its own rate: its throughput is no share of the baseline's.
    const share = v.burst ? '' : ` (${percent(ratio(v.deliveriesPerSecond, baseline?.deliveriesPerSecond))})`;
    const arrived = `${whole(v.arrived)} / ${whole(v.expected)}${v.complete ? '' : ` (stopped after ${v.seconds.toFixed(0)} s)`}`;
    const burst = v.burst ? `; burst ${whole(v.burst.arrived)} / ${whole(v.burst.deliveries)}` : '';
    const refused = v.publishFailures ? `; ${v.publishFailures} publishes refused` : '';
    return `| ${v.variant === 'bursting tenant' ? 'bursting tenant (the other tenant’s deliveries)' : v.variant} | ${arrived}${burst}${refused} | ${whole(v.deliveriesPerSecond)}${share} | ${ms(v.latencyMs.p50)} / ${ms(v.latencyMs.p99)} | ${versus(v.deliver.secondsPerDelivery, baseline?.deliver.secondsPerDelivery, (s) => (Number.isFinite(s) ? s.toFixed(4) : 'n/a'))} | ${versus(v.deliver.usdPerMillion, baseline?.deliver.usdPerMillion, usd)} | ${v.misbehaving ? `${whole(v.misbehaving.requests)} / ${whole(v.misbehaving.messages)} = ${v.misbehaving.perMessage.toFixed(2)}` : ''} |`;
  });
  const checks = checkTargets(result.variants).map(
    (check) => `| ${check.variant} | ${check.target} | ${check.measured} | ${check.met ? 'met' : 'missed'} |`,
  );
  const s = result.settings;
  return [
    '| variant | healthy deliveries arrived / expected | healthy deliveries/s (÷ baseline) | publish → receipt p50 / p99 | deliver billed s per healthy delivery | deliver $ per million healthy deliveries | requests to misbehaving endpoints / messages addressed to them |',
    '| --- | --- | ---: | --- | ---: | ---: | --- |',
    ...rows,
    '',
    '| variant | target (issue 14) | measured | |',
    '| --- | --- | --- | --- |',
    ...checks,
    '',
    `Scenario: one tenant, ${s.healthy} healthy subscriptions and ${s.misbehaving} misbehaving (all ${s.healthy + s.misbehaving} healthy for the baseline), ${whole(s.events)} events at ${s.eventsPerSecond}/s; hanging endpoints take the request and never answer (the stack's attempt timeout, ${ms(result.attemptTimeoutMs)}, applies), failing ones answer 500, slow ones 204 after ${ms(s.slowMs)}. Bursting tenant: ${whole(s.burstDeliveries)} deliveries published at once while another tenant publishes ${s.otherEvents} events at ${s.otherEventsPerSecond}/s to ${s.healthy} subscriptions. Each variant runs on a fresh service with local mode's event source mappings (scaled up to the stack's maximum concurrency) and stops when every healthy delivery has arrived or ${s.waitSeconds} s after its last publish. Then the batches under way finish as they would (a hanging attempt runs to its timeout): billed time is every deliver invocation the variant started, priced at the function's memory, per healthy delivery that arrived; requests to misbehaving endpoints count the retries made in that time.`,
  ].join('\n');
}
