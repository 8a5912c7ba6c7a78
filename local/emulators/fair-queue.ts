/**
 * The dequeue order of an SQS fair queue, for fauxqs (applied by sqs-fidelity.ts), as the SQS developer guide
 * documents it in "How Amazon SQS fair queues work"
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues-detailed.html):
 *
 *   tenants        a message's MessageGroupId; each message without one is a tenant of its own
 *   noisy          a tenant with more than 10% of the queue's in-flight messages and at least 30 of its own in
 *                  flight (SQS calls this its concurrency share)
 *   order          while a tenant is noisy, a receive returns quiet tenants' messages whenever any are
 *                  waiting, and noisy tenants' messages only to fill the rest, first from the noisy tenant
 *                  with the fewest in flight
 *   quiet again    once its backlog is drained, or when it has sent nothing for 5 minutes
 *
 * SQS also counts a tenant noisy when it takes more than 10% of the consumers' recent processing time; that
 * measure is not reproduced here (so a tenant with few but slow messages is never noisy locally). SQS's
 * thresholds are approximate, these are exact. "In flight" is what SQS counts: received and not yet deleted,
 * including messages waiting for a retry behind their visibility timeout.
 */
const NOISY_SHARE = 0.1;
const NOISY_MIN_IN_FLIGHT = 30;
const QUIET_AFTER_MS = 5 * 60 * 1000;

/** The part of a fauxqs message the order looks at. */
export interface GroupedMessage {
  messageGroupId?: string | undefined;
}

/** One standard queue's tenants, as far as fairness needs them. */
export class FairQueue {
  /** When each tenant last sent a message. */
  private readonly lastSent = new Map<string, number>();
  private readonly noisy = new Set<string>();

  sent(group: string, at: number): void {
    this.lastSent.set(group, at);
  }

  /** Whether a receive may be reordered; cheap, so that a queue without a noisy tenant costs nothing more. */
  mayReorder(inFlight: number): boolean {
    return this.noisy.size > 0 || inFlight >= NOISY_MIN_IN_FLIGHT;
  }

  /**
   * Moves the messages a receive of `count` is to return to the front of `waiting` (fauxqs receives from
   * the front), in the documented order, and updates which tenants are noisy.
   */
  reorder(
    waiting: GroupedMessage[],
    inFlight: Iterable<{ message: GroupedMessage }>,
    inFlightTotal: number,
    count: number,
    now: number,
  ): void {
    const inFlightByGroup = new Map<string, number>();
    for (const { message } of inFlight) {
      const group = message.messageGroupId;
      if (group !== undefined) inFlightByGroup.set(group, (inFlightByGroup.get(group) ?? 0) + 1);
    }
    const recentlySent = (group: string) =>
      now - (this.lastSent.get(group) ?? Number.NEGATIVE_INFINITY) < QUIET_AFTER_MS;
    for (const group of this.noisy) if (!recentlySent(group)) this.noisy.delete(group);
    for (const [group, own] of inFlightByGroup) {
      if (own >= NOISY_MIN_IN_FLIGHT && own > NOISY_SHARE * inFlightTotal && recentlySent(group)) {
        this.noisy.add(group);
      }
    }
    if (this.noisy.size === 0) return;

    // The quiet messages to return, and each noisy tenant's waiting messages (the first `count` of them).
    const picked: number[] = [];
    const noisyWaiting = new Map<string, { indices: number[]; total: number; taken: number }>();
    let scanned = 0;
    // Once the quiet messages fill the receive, a noisy tenant seen waiting keeps a backlog after it.
    while (scanned < waiting.length && (picked.length < count || noisyWaiting.size < this.noisy.size)) {
      const group = waiting[scanned]?.messageGroupId;
      if (group === undefined || !this.noisy.has(group)) {
        if (picked.length < count) picked.push(scanned);
      } else {
        const seen = noisyWaiting.get(group) ?? { indices: [], total: 0, taken: 0 };
        if (seen.total === 0) noisyWaiting.set(group, seen);
        if (seen.indices.length < count) seen.indices.push(scanned);
        seen.total++;
      }
      scanned++;
    }
    // The rest of the receive from the noisy tenants, each message from the one with the fewest in flight.
    while (picked.length < count) {
      let next: { indices: number[]; taken: number } | undefined;
      let fewest = Number.POSITIVE_INFINITY;
      for (const [group, seen] of noisyWaiting) {
        const own = (inFlightByGroup.get(group) ?? 0) + seen.taken;
        if (seen.taken < seen.indices.length && own < fewest) {
          next = seen;
          fewest = own;
        }
      }
      if (!next) break;
      picked.push(next.indices[next.taken++] as number);
    }
    // A tenant whose every waiting message this receive takes (or that had none) has drained its backlog;
    // the scan stops early only while every noisy tenant has messages left after the receive.
    for (const group of this.noisy) {
      const seen = noisyWaiting.get(group);
      if (!seen || seen.total === seen.taken) this.noisy.delete(group);
    }
    moveToFront(waiting, picked);
  }
}

/** Moves the messages at `indices` to the front of `waiting`, in that order; the others keep theirs. */
function moveToFront(waiting: GroupedMessage[], indices: readonly number[]): void {
  if (indices.every((index, position) => index === position)) return;
  const end = Math.max(...indices) + 1;
  const chosen = new Set(indices);
  const front = indices.map((index) => waiting[index] as GroupedMessage);
  for (let index = 0; index < end; index++) {
    if (!chosen.has(index)) front.push(waiting[index] as GroupedMessage);
  }
  // Written over the same positions: the messages after `end` do not move.
  for (let index = 0; index < end; index++) waiting[index] = front[index] as GroupedMessage;
}
