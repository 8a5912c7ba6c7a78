import { describe, expect, it } from 'vitest';
import { type Evidence, judge, pairKey } from '../../chaos/checks.js';
import type { ChaosReceiver, ReceiverKind } from '../../chaos/receivers.js';
import { CHAOS_DEFAULTS } from '../../chaos/scenario.js';

/**
 * The chaos verdict on made-up evidence: a run where every promise held passes every check, and each way of
 * breaking a promise fails the check that guards it. Without this, a check that cannot fail would go unseen,
 * since a healthy pipeline never shows it failing.
 */
const EVENTS = ['e1', 'e2', 'e3'];
const KINDS: ReceiverKind[] = ['flaky', 'flaky', 'failing', 'gone'];
const SUBSCRIPTIONS = KINDS.map((_, index) => `sub${index}`);
const GONE = 'sub3';
const FAILING = 'sub2';
const OPENED = `webhook.subscription.circuit_opened ${FAILING}`;

function receiver(kind: ReceiverKind): ChaosReceiver {
  return {
    name: kind,
    profile: { kind, failureRate: 0, failureModes: [], slowRate: 0, slowMs: [0, 0], hangLimitMs: 0 },
    url: '',
    useSecret: () => undefined,
    close: async () => undefined,
    tally: {
      requests: 0,
      spans: [],
      badSignatures: 0,
      answers: { ok: 0, slow: 0, error: 0, hang: 0, reset: 0, gone: 0, abandoned: 0 },
      attempts: new Map(),
      accepted: new Map(),
    },
  };
}

/** Evidence whose maps the cases may change. */
type Made = Evidence & {
  completions: Map<string, number>;
  operationalEvents: Map<string, number>;
  operationalEventTimes: Map<string, number[]>;
  failingAttempts: Map<string, Evidence['goneAttempts'][number][]>;
  receives: Map<string, number>;
  waits: Map<string, number>;
};

/**
 * The failing receiver's requests: 16 failures (the threshold) before its circuit opened at 1 s, two more
 * admitted before it, then one probe after the first open time; the circuit opened again after the probe.
 */
function failingRun(tally: ChaosReceiver['tally']) {
  const at = [...Array.from({ length: 16 }, (_, index) => index * 10), 1_100, 1_200, 31_100];
  tally.spans.push(...at.map((start) => ({ at: start, endedAt: start + 50 })));
  tally.requests = at.length;
  for (const [event, times] of [
    ['e1', 7],
    ['e2', 6],
    ['e3', 6],
  ] as const)
    tally.attempts.set(event, times);
}

/** A run where every promise held: flaky pairs delivered, failing ones dead-lettered, the gone one dropped. */
function healthy(): Made {
  const receivers = KINDS.map(receiver);
  for (const [index, kind] of KINDS.entries()) {
    const { tally } = receivers[index] as ChaosReceiver;
    if (kind === 'flaky') for (const event of EVENTS) tally.accepted.set(event, 1);
  }
  failingRun((receivers[2] as ChaosReceiver).tally);
  const gone = (receivers[3] as ChaosReceiver).tally;
  gone.firstRequestAt = 100;
  gone.requests = 1;
  gone.attempts.set('e1', 1);
  return {
    settings: CHAOS_DEFAULTS,
    drained: true,
    drainSeconds: 10,
    eventIds: EVENTS,
    receivers,
    subscriptionIds: SUBSCRIPTIONS,
    subscriptions: SUBSCRIPTIONS.map((id) =>
      id === GONE ? { id, status: 'disabled', disabledReason: 'endpoint_gone' } : { id, status: 'active' },
    ),
    goneAttempts: [{ eventId: 'e1', attempt: 1, result: 'failed', statusCode: 410 }],
    // e2 waited once (its copy's receive is its first attempt), e1 lost a receive to a crash.
    failingAttempts: new Map([
      [
        FAILING,
        [
          { eventId: 'e1', attempt: 1, result: 'failed', statusCode: 500 },
          { eventId: 'e1', attempt: 2, result: 'failed', statusCode: 500 },
          { eventId: 'e2', attempt: 1, result: 'failed', statusCode: 500 },
        ],
      ],
    ]),
    receives: new Map([
      [pairKey(FAILING, 'e1'), 3],
      [pairKey(FAILING, 'e2'), 2],
      [pairKey(FAILING, 'e3'), 1],
    ]),
    waits: new Map([[pairKey(FAILING, 'e2'), 1]]),
    // e1 reached the gone receiver (410), e2 was skipped once it was disabled, e3 was never queued for it.
    completions: new Map([
      [pairKey(GONE, 'e1'), 1],
      [pairKey(GONE, 'e2'), 1],
    ]),
    queued: {
      pairs: new Set([pairKey(GONE, 'e1'), pairKey(GONE, 'e2')]),
      lastAt: new Map([
        ['e1', 50],
        ['e2', 90],
        ['e3', 200],
      ]),
    },
    operationalEvents: new Map([
      [`webhook.subscription.disabled ${GONE}`, 1],
      [OPENED, 2],
    ]),
    operationalEventTimes: new Map([[OPENED, [1_000, 31_200]]]),
    observed: {
      alarms: { 'delivery-dlq': 'ALARM', 'fanout-dlq': 'OK' },
      deliveryDeadLetters: EVENTS.map((event) => pairKey('sub2', event)),
      deliveryDeadLetterDepth: 3,
      fanoutDeadLetters: 0,
      fanoutDeadLetterDepth: 0,
    },
  };
}

/** The gone receiver's e1: a first attempt that timed out (the receiver saw it), then `next`. */
function timedOutThen(evidence: Made, next: Evidence['goneAttempts'][number]) {
  evidence.goneAttempts = [{ eventId: 'e1', attempt: 1, result: 'failed' }, next];
  (evidence.receivers[3] as ChaosReceiver).tally.attempts.set('e1', 2);
}

function addFailingAttempt(evidence: Made, attempt: Evidence['goneAttempts'][number]) {
  evidence.failingAttempts.set(FAILING, [...(evidence.failingAttempts.get(FAILING) ?? []), attempt]);
}

const failed = (evidence: Evidence) =>
  judge(evidence)
    .filter((check) => !check.passed)
    .map((check) => check.name.split(':')[0]);

describe('Chaos checks', () => {
  it('pass a run where every promise held', () => {
    expect(failed(healthy())).toEqual([]);
  });

  // On a slow machine the first 410 can come back after the attempt's timeout: the retry gets it.
  it('pass a run where an attempt to the 410 receiver timed out before its answer', () => {
    const evidence = healthy();
    timedOutThen(evidence, { eventId: 'e1', attempt: 2, result: 'failed', statusCode: 410 });
    expect(failed(evidence)).toEqual([]);
  });

  it('pass a run where an attempt number is above the requests by a receive lost to a crash', () => {
    const evidence = healthy();
    (evidence.receivers[2] as ChaosReceiver).tally.attempts.set('e3', 1);
    evidence.receives.set(pairKey(FAILING, 'e3'), 2);
    addFailingAttempt(evidence, { eventId: 'e3', attempt: 2, result: 'failed' });
    expect(failed(evidence)).toEqual([]);
  });

  const failingSpans = (evidence: Made) => (evidence.receivers[2] as ChaosReceiver).tally.spans;

  it.each<[string, (evidence: Made) => void, string[]]>([
    [
      'an always-failing circuit that never opened',
      (evidence) => {
        evidence.operationalEventTimes.delete(OPENED);
        evidence.operationalEvents.delete(OPENED);
      },
      ['always-failing endpoints are probed, not hammered'],
    ],
    [
      'an always-failing circuit closed',
      (evidence) => evidence.operationalEvents.set(`webhook.subscription.circuit_closed ${FAILING}`, 1),
      ['always-failing endpoints are probed, not hammered'],
    ],
    [
      'a request while the circuit was open, past the admitted ones',
      (evidence) => failingSpans(evidence).splice(18, 0, { at: 10_000, endedAt: 10_050 }),
      ['always-failing endpoints are probed, not hammered'],
    ],
    [
      'two probes at once',
      (evidence) => failingSpans(evidence).push({ at: 31_120 }),
      ['always-failing endpoints are probed, not hammered'],
    ],
    [
      'more probes than openings',
      (evidence) =>
        failingSpans(evidence).push({ at: 70_000, endedAt: 70_050 }, { at: 90_000, endedAt: 90_050 }),
      ['always-failing endpoints are probed, not hammered'],
    ],
    [
      'a waiting receive numbered as an attempt',
      (evidence) => addFailingAttempt(evidence, { eventId: 'e2', attempt: 2, result: 'failed' }),
      ['waiting costs no attempt'],
    ],
    [
      'a flaky pair never delivered',
      (evidence) => evidence.receivers[0]?.tally.accepted.delete('e2'),
      ['flaky receivers', 'accounting'],
    ],
    [
      'a bad signature',
      (evidence) => {
        (evidence.receivers[1] as ChaosReceiver).tally.badSignatures = 1;
      },
      ['flaky receivers'],
    ],
    [
      'a failing pair missing from the DLQ',
      (evidence) => evidence.observed.deliveryDeadLetters.pop(),
      ['always-failing receivers', 'accounting'],
    ],
    [
      'the alarm not in ALARM',
      (evidence) => {
        evidence.observed.alarms['delivery-dlq'] = 'OK';
      },
      ['always-failing receivers'],
    ],
    [
      'a flaky pair both delivered and dead-lettered',
      (evidence) => evidence.observed.deliveryDeadLetters.push(pairKey('sub0', 'e1')),
      ['no other DLQ holds anything', 'accounting'],
    ],
    [
      'a message in the fan-out DLQ',
      (evidence) => {
        evidence.observed.fanoutDeadLetters = 1;
      },
      ['no other DLQ holds anything'],
    ],
    [
      'the gone subscription still active',
      (evidence) => {
        evidence.subscriptions = evidence.subscriptions.map((view) =>
          view.id === GONE ? { id: GONE, status: 'active' } : view,
        );
      },
      ['410 subscription'],
    ],
    [
      'the gone receiver asked twice for one event',
      (evidence) => (evidence.receivers[3] as ChaosReceiver).tally.attempts.set('e1', 2),
      ['410 subscription'],
    ],
    [
      'a 500 before the 410',
      (evidence) => {
        evidence.goneAttempts = [
          { eventId: 'e1', attempt: 1, result: 'failed', statusCode: 500 },
          { eventId: 'e1', attempt: 2, result: 'failed', statusCode: 410 },
        ];
        (evidence.receivers[3] as ChaosReceiver).tally.attempts.set('e1', 2);
      },
      ['410 subscription'],
    ],
    [
      'an attempt after the 410, cut short',
      (evidence) => {
        evidence.goneAttempts = [
          { eventId: 'e1', attempt: 1, result: 'failed', statusCode: 410 },
          { eventId: 'e1', attempt: 2, result: 'failed' },
        ];
      },
      ['410 subscription'],
    ],
    [
      'two 410s for one event after a timeout',
      (evidence) => {
        timedOutThen(evidence, { eventId: 'e1', attempt: 2, result: 'failed', statusCode: 410 });
        evidence.goneAttempts = [
          ...evidence.goneAttempts,
          { eventId: 'e1', attempt: 3, result: 'failed', statusCode: 410 },
        ];
        (evidence.receivers[3] as ChaosReceiver).tally.attempts.set('e1', 3);
      },
      ['410 subscription'],
    ],
    [
      'the receiver asked again after a timeout and a 410',
      (evidence) => {
        timedOutThen(evidence, { eventId: 'e1', attempt: 2, result: 'failed', statusCode: 410 });
        (evidence.receivers[3] as ChaosReceiver).tally.attempts.set('e1', 3);
      },
      ['410 subscription'],
    ],
    [
      'the owner told twice',
      (evidence) => evidence.operationalEvents.set(`webhook.subscription.disabled ${GONE}`, 2),
      ['410 subscription'],
    ],
    [
      'a queued gone pair never finished',
      (evidence) => evidence.completions.delete(pairKey(GONE, 'e2')),
      ['accounting'],
    ],
    [
      'a gone pair never queued though its event was queued before the first 410',
      (evidence) => evidence.queued.lastAt.set('e3', 10),
      ['accounting'],
    ],
    [
      'queues not drained',
      (evidence) => {
        evidence.drained = false;
      },
      ['the pipeline drained'],
    ],
  ])('fail on %s', (_name, breakIt, checks) => {
    const evidence = healthy();
    breakIt(evidence);
    expect(failed(evidence)).toEqual(checks);
  });
});
