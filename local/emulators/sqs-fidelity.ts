import { findPackageJSON } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MAX_VISIBILITY_SECONDS } from '../../lambdas/contract/retry-schedule.js';

/**
 * Where fauxqs (2.4.1) and real SQS disagree on something the service relies on, this corrects fauxqs at
 * start-up, from our side, so the handlers and their SDK calls stay exactly as on AWS. Each correction first
 * checks that fauxqs still has the shape it was written for and throws otherwise: a fauxqs upgrade that
 * changes them must be looked at, not silently run uncorrected.
 *
 *   message bodies        SQS accepts #x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF; fauxqs's
 *                         check lacks the regex `u` flag, so it refuses every character outside the Basic
 *                         Multilingual Plane (emoji, CJK extension B, mathematical letters)
 *   visibility ceiling    SQS keeps a received message invisible at most 12 hours from the ReceiveMessage, and
 *                         refuses a ChangeMessageVisibility that would go beyond; fauxqs only checks each
 *                         call's own value (0–43,200)
 */

/** fauxqs's body check as shipped, and SQS's own character set. */
const FAUXQS_BODY_CHECK = '[^\\x09\\x0A\\x0D\\x20-\\uD7FF\\uE000-\\uFFFD]';
const SQS_BODY_CHECK = '[^\\x09\\x0A\\x0D\\x20-\\uD7FF\\uE000-\\uFFFD\\u{10000}-\\u{10FFFF}]';

interface InflightEntry {
  receiptHandle: string;
}
interface FauxqsQueue {
  inflightMessages: Map<string, InflightEntry>;
  dequeue(...args: unknown[]): { ReceiptHandle: string }[];
  changeVisibility(receiptHandle: string, timeoutSeconds: number): void;
}
type SqsErrorClass = new (code: string, message: string) => Error;

let applied: Promise<void> | undefined;

/** Applies the corrections once per process (every fauxqs app in it shares the patched modules). */
export function applySqsFidelity(): Promise<void> {
  applied ??= patch();
  return applied;
}

async function patch(): Promise<void> {
  // The modules fauxqs itself imports: the same instances, reached by path since its exports name only the app.
  const packageJson = findPackageJSON('fauxqs', import.meta.url);
  if (!packageJson) fail('its package.json is not found');
  const base = pathToFileURL(join(dirname(packageJson), 'dist/'));
  const [types, store, errors] = await Promise.all([
    import(new URL('sqs/sqsTypes.js', base).href),
    import(new URL('sqs/sqsStore.js', base).href),
    import(new URL('common/errors.js', base).href),
  ]);
  correctBodyCheck(types.INVALID_MESSAGE_BODY_CHAR);
  enforceVisibilityCeiling(store.SqsQueue?.prototype, errors.SqsError);
}

function fail(what: string): never {
  throw new Error(
    `fauxqs has changed (${what}); local/emulators/sqs-fidelity.ts no longer applies and must be revisited`,
  );
}

function correctBodyCheck(check: unknown): void {
  if (!(check instanceof RegExp)) fail('INVALID_MESSAGE_BODY_CHAR is not exported from sqsTypes.js');
  if (check.source === SQS_BODY_CHECK && check.unicode) return;
  if (check.source !== FAUXQS_BODY_CHECK || check.flags !== '') {
    fail(`its body check is /${check.source}/${check.flags}`);
  }
  // fauxqs's send actions hold this very RegExp object, so it is recompiled in place (Annex B compile()).
  check.compile(SQS_BODY_CHECK, 'u');
  const emoji = String.fromCodePoint(0x1f600);
  if (check.test(emoji) || !check.test('\uFFFF') || !check.test('\uD800'))
    fail('the corrected check misbehaves');
}

function enforceVisibilityCeiling(queue: FauxqsQueue | undefined, SqsError: SqsErrorClass | undefined): void {
  if (typeof queue?.dequeue !== 'function' || typeof queue.changeVisibility !== 'function') {
    fail('SqsQueue has no dequeue/changeVisibility');
  }
  if (typeof SqsError !== 'function') fail('common/errors.js has no SqsError');
  // When each receive happened, by its in-flight entry (a new one per receive, dropped with it).
  const receivedAt = new WeakMap<InflightEntry, number>();
  const { dequeue, changeVisibility } = queue;
  queue.dequeue = function (this: FauxqsQueue, ...args: unknown[]) {
    const received = dequeue.apply(this, args);
    if (!Array.isArray(received)) fail('dequeue no longer returns the received messages');
    const now = Date.now();
    for (const message of received) {
      const entry = this.inflightMessages.get(message.ReceiptHandle);
      if (entry) receivedAt.set(entry, now);
    }
    return received;
  };
  queue.changeVisibility = function (this: FauxqsQueue, receiptHandle: string, timeoutSeconds: number) {
    const entry = this.inflightMessages.get(receiptHandle);
    const since = entry && receivedAt.get(entry);
    if (since !== undefined && Date.now() + timeoutSeconds * 1000 > since + MAX_VISIBILITY_SECONDS * 1000) {
      // SQS's own answer (ChangeMessageVisibilityBatch would report it per entry; the service never calls it).
      throw new SqsError(
        'InvalidParameterValue',
        `Value ${timeoutSeconds} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [${MAX_VISIBILITY_SECONDS} seconds]`,
      );
    }
    changeVisibility.call(this, receiptHandle, timeoutSeconds);
  };
}
