import type { FunctionName } from '../lambdas/contract/settings.js';
import type { AttemptLogMode } from '../lambdas/contract/tables.js';
import type { ServiceDefinition } from '../lib/definitions.js';
import { lambdaUsd, PRICES } from './pricing.js';
import type { Usage } from './usage.js';

// The cost bench's line items: how one run's counted usage is priced, and how the report is written.

const API_FUNCTIONS: ReadonlySet<FunctionName> = new Set(['authorizer', 'api', 'ingest']);

/** What each line item is part of: the targets compare `pipeline` and `attempt log`. */
export type CostPart = 'pipeline' | 'api' | 'attempt log' | 'logs';

export interface CostLine {
  part: CostPart;
  item: string;
  /** Per million deliveries. */
  quantity: number;
  unit: string;
  /** Dollars per million deliveries. */
  usd: number;
  detail?: string;
}

export interface CostRun {
  attemptLog: AttemptLogMode;
  failureShare: number;
  events: number;
  /** Successful deliveries (events × subscribers) and first attempts the receiver failed. */
  deliveries: number;
  failedAttempts: number;
  seconds: number;
  /** Messages per receive that returned some, i.e. per invocation. */
  meanBatch: { fanout: number; delivery: number };
  /** Empty receives of the local pollers, left out of the cost (see assumptions). */
  emptyReceives: number;
  lines: CostLine[];
}

export interface CostReport {
  scenario: { events: number; subscribers: number; deliveries: number };
  sample: { events: number; subscribers: number; payloadBytes: number; failureShare: number };
  /** Dollars per million deliveries. */
  perMillion: {
    pipeline: number;
    /** What the failureShare adds to the pipeline: retries, health writes, operational events. */
    retries: number;
    attemptLog: Record<AttemptLogMode, number>;
    api: number;
    logs: number;
  };
  /** Dollars for the whole scenario, pipeline + API + attempt log `all` + logs. */
  scenarioUsd: number;
  targets: { what: string; targetUsd: number; measuredUsd: number; met: boolean }[];
  runs: CostRun[];
  assumptions: string[];
}

/** Line items of one run's usage, as counted (not yet scaled). */
export function priceUsage(usage: Usage, definition: ServiceDefinition): CostLine[] {
  const lines: CostLine[] = [];
  const add = (line: CostLine) => {
    if (line.quantity > 0) lines.push(line);
  };
  const { tenant, operations } = usage.eventBridgeEvents;
  add({
    part: 'pipeline',
    item: 'EventBridge: events published',
    quantity: tenant,
    unit: 'events',
    usd: tenant * PRICES.eventBridgeEvent,
  });
  add({
    part: 'pipeline',
    item: 'EventBridge: operational events',
    quantity: operations,
    unit: 'events',
    usd: operations * PRICES.eventBridgeEvent,
  });
  for (const [key, requests] of Object.entries(usage.sqsRequests)) {
    const [queue = '', action = ''] = key.split(' ');
    add({
      part: 'pipeline',
      item: `SQS ${queue} queue: ${action}`,
      quantity: requests,
      unit: 'requests',
      usd: requests * PRICES.sqsRequest,
      ...sqsDetail(queue, action),
    });
  }
  for (const [key, units] of Object.entries(usage.dynamo)) {
    const [table = '', operation = ''] = key.split(' ');
    // The tenants table also serves fan-out's check that a bus event's tenant exists, counted with the API's
    // reads: one read per tenant per instance every few minutes, too small to show as a line of its own.
    const part: CostPart = table === 'tenants' ? 'api' : table === 'attempts' ? 'attempt log' : 'pipeline';
    const item = `DynamoDB ${table}: ${operation}`;
    add({
      part,
      item,
      quantity: units.readUnits,
      unit: 'read units',
      usd: units.readUnits * PRICES.dynamoReadUnit,
    });
    add({
      part,
      item,
      quantity: units.writeUnits,
      unit: 'write units',
      usd: units.writeUnits * PRICES.dynamoWriteUnit,
    });
    add({
      part,
      item: `${item}, index`,
      quantity: units.indexWriteUnits,
      unit: 'write units',
      usd: units.indexWriteUnits * PRICES.dynamoWriteUnit,
    });
  }
  for (const [name, { invocations, billedMs }] of Object.entries(usage.lambda) as [
    FunctionName,
    { invocations: number; billedMs: number },
  ][]) {
    const part: CostPart = API_FUNCTIONS.has(name) ? 'api' : 'pipeline';
    const { memoryMb } = definition.functions[name];
    const usd = lambdaUsd(invocations, billedMs, memoryMb);
    add({
      part,
      item: `Lambda ${name}: invocations`,
      quantity: invocations,
      unit: 'invocations',
      usd: usd.requests,
    });
    add({
      part,
      item: `Lambda ${name}: duration`,
      quantity: usd.gbSeconds,
      unit: 'GB-s',
      usd: usd.duration,
      detail: `${memoryMb} MB, ${(billedMs / invocations).toFixed(1)} ms per invocation`,
    });
  }
  add({
    part: 'api',
    item: 'API Gateway HTTP API: requests',
    quantity: usage.apiRequests,
    unit: 'requests',
    usd: usage.apiRequests * PRICES.apiRequest,
  });
  for (const [name, bytes] of Object.entries(usage.logBytes)) {
    const gb = bytes / 1024 ** 3;
    add({
      part: 'logs',
      item: `CloudWatch Logs: ${name}`,
      quantity: gb,
      unit: 'GB',
      usd: gb * PRICES.logsIngestedGb,
    });
  }
  return lines;
}

/** Who makes the SQS calls that no function of ours makes. */
function sqsDetail(queue: string, action: string): { detail?: string } {
  if (queue === 'fanout' && action === 'SendMessage') return { detail: 'EventBridge rule target' };
  if (action === 'ReceiveMessage' || action === 'DeleteMessageBatch')
    return { detail: 'event source mapping' };
  return {};
}

const usd = (value: number) => `$${value.toFixed(3)}`;

function quantity(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toPrecision(3).replace(/\.?0+$/, '');
}

/** Markdown: the per-million summary against the targets, then the line items behind it. */
export function renderCost(report: CostReport): string {
  const { perMillion: m, sample, scenario } = report;
  const percent = `${(sample.failureShare * 100).toFixed(1)}%`;
  const target = (what: string) => {
    const found = report.targets.find((t) => t.what === what);
    return found ? `≤ ${usd(found.targetUsd)} ${found.met ? '(met)' : '(missed)'}` : '';
  };
  const summary = [
    `| cost per million deliveries (${scenario.events.toLocaleString('en-US')} events × ${scenario.subscribers} subscribers = ${(scenario.deliveries / 1e6).toLocaleString('en-US')} M) | $ | target |`,
    '| --- | --- | --- |',
    `| pipeline: bus → fan-out → delivery → receiver, every first attempt succeeds | ${usd(m.pipeline)} | ${target('pipeline')} |`,
    `| + retries, health writes, operational events at ${percent} failed first attempts | ${usd(m.retries)} | |`,
    `| + attempt log \`all\` | ${usd(m.attemptLog.all)} | ${target('attempt log `all`, extra')} |`,
    `| + attempt log \`failures\` (${percent} failing) | ${usd(m.attemptLog.failures)} | |`,
    `| + attempt log \`off\` | ${usd(m.attemptLog.off)} | |`,
    `| + HTTP API publishing (API Gateway, authorizer, ingest, rate counter) | ${usd(m.api)} | |`,
    `| CloudWatch Logs at INFO (not in the targets) | ${usd(m.logs)} | |`,
    `| scenario total: pipeline + API + attempt log \`all\` + logs | ${usd(report.scenarioUsd)} | |`,
  ];
  const [happy, all] = report.runs;
  const parts: CostPart[] = ['pipeline', 'api', 'attempt log', 'logs'];
  const items = [
    ...(happy?.lines.filter((line) => line.part !== 'attempt log') ?? []),
    ...(all?.lines.filter((line) => line.part === 'attempt log') ?? []),
  ].sort((a, b) => parts.indexOf(a.part) - parts.indexOf(b.part) || b.usd - a.usd);
  const lines = [
    '| part | line item | per million deliveries | $ |',
    '| --- | --- | --- | --- |',
    ...items.map(
      (line) =>
        `| ${line.part} | ${line.item}${line.detail ? ` (${line.detail})` : ''} | ${quantity(line.quantity)} ${line.unit} | ${usd(line.usd)} |`,
    ),
  ];
  return `${summary.join('\n')}\n\n${lines.join('\n')}`;
}
