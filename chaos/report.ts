import type { MachineInfo } from '../local/machine-info.js';
import type { ChaosResult } from './scenario.js';

/** What `npm run chaos` writes to chaos/results/latest.json. */
export interface ChaosReport extends ChaosResult {
  date: string;
  machine: MachineInfo;
}

const whole = (value: number) => Math.round(value).toLocaleString('en-US');
const percent = (value: number) => `${+(value * 100).toFixed(2)}%`;
const odds = (value: number) => (value === 0 ? '0' : value.toExponential(1));

/** The checks, the faults that were injected, the receivers' misbehaviour and the odds, as Markdown. */
export function renderChaosReport(report: ChaosReport): string {
  const { settings, faults, math } = report;
  const checks = [
    '| promise | result | figures |',
    '| --- | --- | --- |',
    ...report.checks.map(
      (check) => `| ${check.name} | ${check.passed ? 'pass' : '**FAIL**'} | ${check.figures} |`,
    ),
  ];

  const flaky = report.receivers.filter((receiver) => receiver.kind === 'flaky');
  const sum = (pick: (receiver: ChaosResult['receivers'][number]) => number, of = flaky) =>
    of.reduce((total, receiver) => total + pick(receiver), 0);
  const answers = (of: ChaosResult['receivers']) =>
    [
      `${whole(sum((r) => r.requests, of))} requests`,
      `${whole(sum((r) => r.answers.ok, of))} ok`,
      `${whole(sum((r) => r.answers.slow, of))} slow ok`,
      `${whole(sum((r) => r.answers.error, of))} 500`,
      `${whole(sum((r) => r.answers.hang, of))} hangs`,
      `${whole(sum((r) => r.answers.reset, of))} resets`,
      `${whole(sum((r) => r.answers.gone, of))} 410`,
      `${whole(sum((r) => r.answers.abandoned, of))} answered after the sender gave up`,
    ].join(', ');
  const { dynamo, sendBatch } = faults;
  const injected = [
    '| fault | injected |',
    '| --- | --- |',
    `| fan-out handler crashes part-way through a batch | ${whole(faults.crashes.fanout)} of ${whole(faults.invocations.fanout)} invocations |`,
    `| deliver handler crashes part-way through a batch | ${whole(faults.crashes.deliver)} of ${whole(faults.invocations.deliver)} invocations (crashed batches: ${whole(faults.recordsHandledBeforeCrash)} of ${whole(faults.recordsInCrashedBatches)} records handled before the crash, both handlers) |`,
    `| SendMessageBatch partial failures | ${whole(sendBatch.partialFailures)} of ${whole(sendBatch.calls)} calls, ${whole(sendBatch.entriesFailed)} entries reported in \`Failed\` |`,
    `| DynamoDB throttling | ${whole(dynamo.throttledCalls)} of ${whole(dynamo.calls)} calls throttled (${whole(dynamo.throttleResponses)} throttle answers): ${whole(dynamo.absorbed)} absorbed by the SDK's retries, ${whole(dynamo.surfaced)} reached the handler (${Object.entries(
      dynamo.surfacedByCommand,
    )
      .sort(([, a], [, b]) => b - a)
      .map(([command, times]) => `${command} ${times}`)
      .join(', ')}) |`,
    `| flaky receivers (${flaky.length}) | ${answers(flaky)} |`,
    ...report.receivers
      .filter((receiver) => receiver.kind !== 'flaky')
      .map((receiver) => `| ${receiver.name} | ${answers([receiver])} |`),
  ];

  const schedule = settings.retryScheduleSeconds.join(',');
  const lines = [
    ...checks,
    '',
    ...injected,
    '',
    `**Why a pass is not luck, and a failure is not noise.** A flaky pair's message fails one receive with probability at most ${percent(math.flakyReceiveFailure)} (receiver ${percent(settings.receiverFailureRate)}, deliver crash ${percent(settings.faults.crash.deliver)} per invocation, which costs every message of its batch a receive, throttles reaching the handler); it reaches the DLQ only after ${math.deliveryMaxReceives} failed receives: ${whole(math.flakyPairs)} pairs × ${percent(math.flakyReceiveFailure)}^${math.deliveryMaxReceives} = ${odds(math.expectedFlakyDeadLetters)} expected. A fan-out message fails a receive with probability at most ${percent(math.fanoutReceiveFailure)} (crash, throttles, entries failed in every re-send round) and reaches its DLQ after ${math.fanoutMaxReceives}: ${whole(math.fanoutMessages)} fan-out messages (pages and continuations) × ${percent(math.fanoutReceiveFailure)}^${math.fanoutMaxReceives} = ${odds(math.expectedFanoutDeadLetters)} expected.`,
    '',
    `Settings: seed ${settings.seed}, ${whole(settings.events)} events × ${settings.subscriptions} subscriptions, retry schedule ${schedule} s (${settings.retryScheduleSeconds.length} attempts), circuits open after ${settings.circuitPolicy.failureThreshold} failures in a row for ${settings.circuitPolicy.firstOpenSeconds} s, per-attempt timeout ${settings.attemptTimeoutMs} ms, wait after a timeout ≥ ${settings.throttledRetryMinSeconds} s, visibility timeout ${settings.visibilityTimeoutSeconds} s, fan-out pages of ${settings.fanoutPageSize} subscriptions, ${settings.fanoutPollers} fan-out and ${settings.deliveryPollers} delivery pollers, ${settings.publishers} publishers; receivers fail ${percent(settings.receiverFailureRate)} and answer ${percent(settings.slowAnswerRate)} of the rest slowly; faults: crash ${percent(settings.faults.crash.fanout)} of fan-out and ${percent(settings.faults.crash.deliver)} of deliver invocations, SendMessageBatch ${percent(settings.faults.sendBatchFailure)}, DynamoDB throttle ${percent(settings.faults.dynamoThrottle)} of calls with ${percent(settings.faults.dynamoThrottleSurfaced)} of those reaching the handler.`,
    '',
    `Ran ${report.date} on ${report.machine.cpu} (${report.machine.cores} cores), Node ${report.machine.node}: ${report.seconds.toFixed(1)} s in all, ${report.drainSeconds.toFixed(1)} s from the first publish to empty queues; ${report.publishRetries} publish calls retried; ${report.failedBatches.fanout} fan-out and ${report.failedBatches.deliver} deliver invocations failed as a whole without an injected crash (every record failed), ${report.pollerErrors.length} poller errors. **${report.passed ? 'Every promise held.' : 'A promise broke.'}**`,
  ];
  return lines.join('\n');
}
