import { findPackageJSON } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MAX_VISIBILITY_SECONDS } from '../../lambdas/contract/retry-schedule.js';
import { FairQueue, type GroupedMessage } from './fair-queue.js';

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
 *   message groups        SQS keeps the MessageGroupId of a standard queue's message (its tenant in a fair queue)
 *                         and returns it as a system attribute; fauxqs accepts it and drops it
 *   fair queues           SQS dequeues a standard queue fairly: while one tenant (message group) is noisy, a
 *                         receive returns the other tenants' messages first (fair-queue.ts has the documented
 *                         rules, and what is not reproduced); fauxqs returns messages in the order they became
 *                         visible
 *
 * applySqsFidelity must run before fauxqs's app is built (engines.ts): the send actions are corrected as the
 * app registers them.
 */

/** fauxqs's body check as shipped, and SQS's own character set. */
const FAUXQS_BODY_CHECK = '[^\\x09\\x0A\\x0D\\x20-\\uD7FF\\uE000-\\uFFFD]';
const SQS_BODY_CHECK = '[^\\x09\\x0A\\x0D\\x20-\\uD7FF\\uE000-\\uFFFD\\u{10000}-\\u{10FFFF}]';

interface FauxqsMessage extends GroupedMessage {
  messageId: string;
}
interface InflightEntry {
  receiptHandle: string;
  message: FauxqsMessage;
}
interface FauxqsQueue {
  /** Visible messages, received from the front. */
  messages: FauxqsMessage[];
  inflightMessages: Map<string, InflightEntry>;
  isFifo(): boolean;
  /** Returns expired receives and delayed messages to `messages`. */
  processTimers(): void;
  dequeue(maxCount: number, ...rest: unknown[]): { ReceiptHandle: string }[];
  changeVisibility(receiptHandle: string, timeoutSeconds: number): void;
}
interface FauxqsStore {
  getQueue(queueUrl: string): FauxqsQueue | undefined;
}
interface FauxqsStoreClass {
  createMessage(...args: unknown[]): FauxqsMessage;
}
/** What the send actions read of a request, and answer. */
interface SendRequest {
  QueueUrl: string;
  MessageGroupId?: string;
  Entries?: { Id: string; MessageGroupId?: string }[];
}
interface SendAnswer {
  MessageId?: string;
  Successful?: { Id: string; MessageId: string }[];
}
type ActionHandler = (body: SendRequest, store: FauxqsStore, ...rest: unknown[]) => unknown;
interface FauxqsRouter {
  register(action: string, handler: ActionHandler): void;
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
  const [types, store, router, errors] = await Promise.all([
    import(new URL('sqs/sqsTypes.js', base).href),
    import(new URL('sqs/sqsStore.js', base).href),
    import(new URL('sqs/sqsRouter.js', base).href),
    import(new URL('common/errors.js', base).href),
  ]);
  correctBodyCheck(types.INVALID_MESSAGE_BODY_CHAR);
  enforceVisibilityCeiling(store.SqsQueue?.prototype, errors.SqsError);
  keepMessageGroups(router.SqsRouter?.prototype, store.SqsStore);
  dequeueFairly(store.SqsQueue?.prototype);
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
  queue.dequeue = function (this: FauxqsQueue, maxCount: number, ...rest: unknown[]) {
    const received = dequeue.call(this, maxCount, ...rest);
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

/** Each standard queue's tenants, from its first message with a group (the others are never reordered). */
const fairQueues = new WeakMap<FauxqsQueue, FairQueue>();

function keepMessageGroups(router: FauxqsRouter | undefined, Store: FauxqsStoreClass | undefined): void {
  if (typeof router?.register !== 'function') fail('SqsRouter has no register');
  if (typeof Store?.createMessage !== 'function') fail('SqsStore has no createMessage');
  // The messages the send in progress creates, by id: fauxqs's send actions are synchronous, so one at a time.
  let created: Map<string, FauxqsMessage> | undefined;
  const { createMessage } = Store;
  Store.createMessage = function (this: unknown, ...args: unknown[]) {
    const message = createMessage.apply(this, args);
    created?.set(message.messageId, message);
    return message;
  };
  const keepingGroups =
    (action: string, handler: ActionHandler): ActionHandler =>
    (body, store, ...rest) => {
      created = new Map();
      let answer: unknown;
      let made: Map<string, FauxqsMessage>;
      try {
        answer = handler(body, store, ...rest);
      } finally {
        made = created;
        created = undefined;
      }
      if (answer instanceof Promise) fail(`${action} is no longer synchronous`);
      const queue = store.getQueue(body.QueueUrl);
      // fauxqs keeps a FIFO queue's groups itself, and fair queues are standard queues.
      if (!queue || queue.isFifo()) return answer;
      const { MessageId, Successful = [] } = answer as SendAnswer;
      const groups = new Map((body.Entries ?? []).map((entry) => [entry.Id, entry.MessageGroupId]));
      const sent =
        action === 'SendMessage'
          ? [{ messageId: MessageId, group: body.MessageGroupId }]
          : Successful.map((entry) => ({ messageId: entry.MessageId, group: groups.get(entry.Id) }));
      const now = Date.now();
      for (const { messageId, group } of sent) {
        if (group === undefined) continue;
        const message = messageId === undefined ? undefined : made.get(messageId);
        if (!message) fail(`${action} answered a message that SqsStore.createMessage did not make`);
        message.messageGroupId = group;
        const tenants = fairQueues.get(queue) ?? new FairQueue();
        fairQueues.set(queue, tenants);
        tenants.sent(group, now);
      }
      return answer;
    };
  const { register } = router;
  router.register = function (this: FauxqsRouter, action: string, handler: ActionHandler) {
    const sends = action === 'SendMessage' || action === 'SendMessageBatch';
    register.call(this, action, sends ? keepingGroups(action, handler) : handler);
  };
}

function dequeueFairly(queue: FauxqsQueue | undefined): void {
  if (typeof queue?.dequeue !== 'function' || typeof queue.processTimers !== 'function') {
    fail('SqsQueue has no dequeue/processTimers');
  }
  const { dequeue } = queue;
  queue.dequeue = function (this: FauxqsQueue, maxCount: number, ...rest: unknown[]) {
    const tenants = fairQueues.get(this);
    if (tenants?.mayReorder(this.inflightMessages.size)) {
      if (!Array.isArray(this.messages)) fail('SqsQueue keeps no messages array');
      // Expired receives back among the visible messages first, as fauxqs's dequeue does before it takes any.
      this.processTimers();
      const inFlight = this.inflightMessages;
      tenants.reorder(this.messages, inFlight.values(), inFlight.size, Math.min(maxCount, 10), Date.now());
    }
    return dequeue.call(this, maxCount, ...rest);
  };
}
