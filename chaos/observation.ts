import { startAlarms } from '../local/emulators/alarms.js';
import { bearer } from '../local/emulators/api-gateway.js';
import { namedQueues, peekAll, queueDepth } from '../local/emulators/queue-metrics.js';
import type { LocalService } from '../local/service.js';
import { type AttemptView, type Observed, pairKeyOf } from './checks.js';
import type { ChaosReceiver, ReceiverProfile } from './receivers.js';

// What the chaos scenario reads once the run is over: the alarms, the dead letters, the API's views and
// the receivers' tallies.

export interface ReceiverSummary {
  name: string;
  kind: ReceiverProfile['kind'];
  requests: number;
  answers: ChaosReceiver['tally']['answers'];
  badSignatures: number;
  /** Events accepted (2xx) at least once, and 2xx answers beyond the first per event. */
  delivered: number;
  duplicates: number;
}

/** The alarms as CloudWatch would judge them now, then every dead letter read. Faults are off by now. */
export async function observe(service: LocalService): Promise<Observed> {
  const { sqs } = service.clients;
  const deadLetterQueues = namedQueues(service.resources).filter((queue) => queue.deadLetter);
  // Evaluated before the DLQs are read, since reading hides their messages from the metric.
  const alarms = await startAlarms({
    sqs,
    queues: deadLetterQueues,
    alarm: service.definition.alarm,
    intervalMs: 3_600_000,
    log: () => undefined,
  });
  const states = alarms.states();
  await alarms.stop();
  const { fanout, delivery } = service.resources.queues;
  const deliveryDeadLetterDepth = (await queueDepth(sqs, delivery.deadLetterUrl)).visible;
  const fanoutDeadLetterDepth = (await queueDepth(sqs, fanout.deadLetterUrl)).visible;
  const deliveryDeadLetters = (await peekAll(sqs, delivery.deadLetterUrl, 600)).map(
    (message) => pairKeyOf(message.body) ?? '?',
  );
  const fanoutDeadLetters = (await peekAll(sqs, fanout.deadLetterUrl, 600)).length;
  return {
    alarms: states,
    deliveryDeadLetters,
    deliveryDeadLetterDepth,
    fanoutDeadLetters,
    fanoutDeadLetterDepth,
  };
}

export async function getJson<T>(service: LocalService, apiKey: string, path: string): Promise<T> {
  const response = await service.api({ method: 'GET', path, headers: bearer(apiKey) });
  if (response.statusCode !== 200) throw new Error(`GET ${path} answered ${response.statusCode}`);
  return JSON.parse(response.body) as T;
}

export async function attemptLog(service: LocalService, apiKey: string, subscriptionId: string) {
  const attempts: AttemptView[] = [];
  let cursor: string | undefined;
  do {
    const page = await getJson<{ items: AttemptView[]; nextCursor?: string }>(
      service,
      apiKey,
      `/subscriptions/${subscriptionId}/attempts?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
    );
    attempts.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return attempts;
}

export function summarize(receiver: ChaosReceiver): ReceiverSummary {
  const { tally } = receiver;
  let duplicates = 0;
  for (const times of tally.accepted.values()) duplicates += times - 1;
  return {
    name: receiver.name,
    kind: receiver.profile.kind,
    requests: tally.requests,
    answers: { ...tally.answers },
    badSignatures: tally.badSignatures,
    delivered: tally.accepted.size,
    duplicates,
  };
}

export function flakyPairCount(receivers: readonly ChaosReceiver[], events: number): number {
  return receivers.filter((receiver) => receiver.profile.kind === 'flaky').length * events;
}
