import type { SQSClient } from '@aws-sdk/client-sqs';
import type { ServiceDefinition } from '../../lib/definitions.js';
import { type NamedQueue, type QueueDepth, queueDepth } from './queue-metrics.js';

/**
 * The stack's DLQ-depth alarms, evaluated locally: every `intervalMs` each watched queue's metric is sampled
 * and compared with the threshold the way the CloudWatch alarm does (greater than threshold → ALARM; an idle
 * queue is OK). Only state changes are logged, as CloudWatch only notifies on changes.
 */
export type AlarmState = 'OK' | 'ALARM';
type AlarmDefinition = ServiceDefinition['alarm'];

/** The queue attribute behind each CloudWatch metric an alarm may watch. */
const DEPTH_OF_METRIC = {
  ApproximateNumberOfMessagesVisible: 'visible',
} as const satisfies Record<AlarmDefinition['metricName'], keyof QueueDepth>;

export interface AlarmOptions {
  sqs: SQSClient;
  queues: readonly NamedQueue[];
  alarm: AlarmDefinition;
  intervalMs: number;
  log: (line: string) => void;
}

export interface Alarms {
  states(): Record<string, AlarmState>;
  stop(): Promise<void>;
}

/** Evaluates once before resolving, so every alarm has a state as soon as the runtime is ready. */
export async function startAlarms(options: AlarmOptions): Promise<Alarms> {
  const { sqs, alarm, log } = options;
  const states = new Map<string, AlarmState>(options.queues.map((queue) => [queue.name, 'OK']));

  const evaluate = async (queue: NamedQueue) => {
    try {
      const value = (await queueDepth(sqs, queue.url))[DEPTH_OF_METRIC[alarm.metricName]];
      const state: AlarmState = value > alarm.threshold ? 'ALARM' : 'OK';
      if (state === states.get(queue.name)) return;
      log(
        `[alarm] ${queue.name}: ${states.get(queue.name)} → ${state} ` +
          `(${alarm.metricName} ${value}, threshold > ${alarm.threshold})`,
      );
      states.set(queue.name, state);
    } catch (error) {
      // A failed sample keeps the last state rather than guessing one.
      log(`[alarm] ${queue.name}: evaluation failed, state kept: ${(error as Error).message}`);
    }
  };
  const evaluateAll = () => Promise.all(options.queues.map(evaluate));

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  await evaluateAll();
  let running: Promise<unknown> = Promise.resolve();
  const scheduleNext = () => {
    timer = setTimeout(() => {
      running = evaluateAll().then(() => {
        if (!stopped) scheduleNext();
      });
    }, options.intervalMs);
  };
  scheduleNext();

  return {
    states: () => Object.fromEntries(states),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      // An evaluation under way finishes before the engines go.
      await running;
    },
  };
}
