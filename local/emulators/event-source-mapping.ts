import { setTimeout as sleep } from 'node:timers/promises';
import { type Poll, pollAndLog } from './event-source.js';

/**
 * How a Lambda SQS event source mapping on a standard queue scales, with ScalingConfig.MaximumConcurrency set,
 * as the Lambda developer guide describes it ("Configuring scaling behavior for SQS event source mappings"):
 * it polls with five concurrent batches, each one invocation; while messages remain it adds up to 300
 * concurrent invocations a minute, never beyond the maximum; when traffic is low it scales back to five
 * (the further step down to two is not made when a maximum is set).
 *
 * Reproduced: one poller per concurrent invocation (receive a batch, invoke, delete the successes, receive
 * again), five at first (or the maximum, when smaller), five more each second while messages remain, and never
 * more than the maximum. Simplified: AWS does not document how it decides that messages remain or when it
 * scales back, so here messages remain while the queue has visible ones (its ApproximateNumberOfMessages), and
 * a poller whose receive comes back empty stops while there are more than five. There is no account or function
 * concurrency to throttle against: locally every invocation the mapping starts runs.
 */
export const INITIAL_CONCURRENCY = 5;
const SCALE_UP_PER_MINUTE = 300;
const SCALE_INTERVAL_MS = 1_000;
const SCALE_UP_STEP = (SCALE_UP_PER_MINUTE * SCALE_INTERVAL_MS) / 60_000;

export interface EventSourceMappingStatus {
  /** Pollers running now, each at most one invocation at a time. */
  concurrency: number;
  maxConcurrency: number;
}

export interface EventSourceMapping {
  status(): EventSourceMappingStatus;
  /** Stops every poller: a receive under way ends within its short long poll, a batch under way finishes. */
  stop(): Promise<void>;
}

export interface EventSourceMappingOptions {
  maxConcurrency: number;
  /** Messages visible on the queue: while there are any, the mapping scales up. */
  visibleMessages: () => Promise<number>;
  log: (line: string) => void;
}

export function startEventSourceMapping(
  name: string,
  poll: Poll,
  options: EventSourceMappingOptions,
): EventSourceMapping {
  const { maxConcurrency, visibleMessages, log } = options;
  const floor = Math.min(INITIAL_CONCURRENCY, maxConcurrency);
  const stopping = new AbortController();
  const pollers = new Set<Promise<void>>();
  // Counted apart from the set, and as a poller returns: the next one deciding whether to leave must see it.
  let concurrency = 0;

  const runPoller = async () => {
    try {
      while (!stopping.signal.aborted) {
        const result = await pollAndLog(name, poll, log, stopping.signal);
        if (result?.received === 0 && concurrency > floor) return;
      }
    } finally {
      concurrency--;
    }
  };
  const add = (count: number) => {
    for (let i = 0; i < count; i++) {
      concurrency++;
      const poller: Promise<void> = runPoller().finally(() => pollers.delete(poller));
      pollers.add(poller);
    }
  };

  const scaling = (async () => {
    while (!stopping.signal.aborted) {
      await sleep(SCALE_INTERVAL_MS, undefined, { signal: stopping.signal }).catch(() => undefined);
      if (stopping.signal.aborted || concurrency >= maxConcurrency) continue;
      try {
        const visible = await visibleMessages();
        if (visible > 0 && !stopping.signal.aborted) {
          add(Math.min(SCALE_UP_STEP, maxConcurrency - concurrency));
        }
      } catch (error) {
        log(`[${name}] queue depth unavailable, not scaling this time: ${(error as Error).message}`);
      }
    }
  })();

  add(floor);
  return {
    status: () => ({ concurrency, maxConcurrency }),
    async stop() {
      stopping.abort();
      await scaling;
      await Promise.all(pollers);
    },
  };
}
