import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import type { QueueHandler } from '../../lambdas/contract/handlers.js';
import { INITIAL_CONCURRENCY } from '../../local/emulators/event-source-mapping.js';
import { queueDepth } from '../../local/emulators/queue-metrics.js';
import type { QueueFunctionName } from '../../local/service.js';
import { waitFor } from '../../local/wait.js';
import { startTestService } from '../support/service.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
type Queue = 'fanout' | 'delivery';

/**
 * A queue consumer that counts its invocations under way and holds each batch until released, standing in for
 * the real handler: what is measured is how many invocations the mapping runs at once.
 */
function heldConsumer() {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const counts = { inFlight: 0, peak: 0, started: 0, finished: 0, messages: 0 };
  const handler: QueueHandler = async (event) => {
    counts.started++;
    counts.messages += event.Records.length;
    counts.inFlight++;
    counts.peak = Math.max(counts.peak, counts.inFlight);
    await released;
    counts.inFlight--;
    counts.finished++;
    return { batchItemFailures: [] };
  };
  return { counts, handler, release: () => release() };
}

/** What the test under way started, for afterEach to stop. */
let running: Omit<Awaited<ReturnType<typeof startHeld>>, 'logged'> | undefined;

/** Local mode's event source mappings, with the consumers held and the maxima given to the definition. */
async function startHeld(options: { fanoutMaxConcurrency?: number; deliveryMaxConcurrency?: number }) {
  const consumers = { fanout: heldConsumer(), deliver: heldConsumer() };
  const service = await startTestService({
    ...options,
    wrapQueueHandler: (name: QueueFunctionName) => consumers[name].handler,
  });
  const logged: string[] = [];
  const sources = service.startEventSources((line) => logged.push(line));
  running = { service, consumers, sources };
  return { service, consumers, sources, logged };
}

/** `count` messages on the queue; bodies do not matter to a held consumer. */
async function fill(service: Service, queue: Queue, count: number) {
  for (let sent = 0; sent < count; sent += 10) {
    await service.clients.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: service.resources.queues[queue].url,
        Entries: Array.from({ length: Math.min(10, count - sent) }, (_, index) => ({
          Id: String(index),
          MessageBody: `message ${sent + index}`,
        })),
      }),
    );
  }
}

const drained = (service: Service, queue: Queue) => async () => {
  const { visible, inFlight } = await queueDepth(service.clients.sqs, service.resources.queues[queue].url);
  return visible === 0 && inFlight === 0 ? true : undefined;
};

describe('Local mode: the event source mappings scale with the backlog, up to their maximum concurrency', () => {
  afterEach(async () => {
    if (!running) return;
    const { service, consumers, sources } = running;
    running = undefined;
    // Released first, so that a failed test's held batches do not keep the pollers from stopping.
    for (const consumer of Object.values(consumers)) consumer.release();
    await Promise.all(Object.values(sources).map((mapping) => mapping.stop()));
    await service.close();
  });

  it('adds invocations while messages remain, never more than the maximum, and falls back when the queue is empty', async () => {
    const maximum = 8;
    const { service, consumers, sources, logged } = await startHeld({ deliveryMaxConcurrency: maximum });
    const deliver = consumers.deliver;
    expect(sources.delivery.status()).toEqual({ concurrency: INITIAL_CONCURRENCY, maxConcurrency: maximum });

    // More batches than the maximum, each held: only scaling up can take the invocations past the first five.
    await fill(service, 'delivery', 20 * maximum);
    await waitFor(() => (deliver.counts.inFlight === maximum ? true : undefined), {
      what: `${maximum} deliver invocations at once`,
    });
    expect(sources.delivery.status().concurrency).toBe(maximum);
    // Messages remain and the mapping keeps deciding whether to scale (every second): it stays at the maximum.
    // A slow machine only gives it fewer chances to go wrong here, never a false failure.
    await sleep(2_500);
    expect(deliver.counts.inFlight).toBe(maximum);
    expect(sources.delivery.status().concurrency).toBe(maximum);

    deliver.release();
    await waitFor(drained(service, 'delivery'), { what: 'the delivery queue to drain' });
    await waitFor(() => (sources.delivery.status().concurrency === INITIAL_CONCURRENCY ? true : undefined), {
      what: `the delivery pollers to fall back to ${INITIAL_CONCURRENCY}`,
    });
    expect(deliver.counts.peak).toBe(maximum);
    // The idle fan-out queue never scaled; no batch failed.
    expect(sources.fanout.status().concurrency).toBe(INITIAL_CONCURRENCY);
    expect(consumers.fanout.counts.started).toBe(0);
    expect(logged).toEqual([]);
  });

  it('starts no more pollers than a maximum below five', async () => {
    const { service, consumers, sources } = await startHeld({ fanoutMaxConcurrency: 2 });
    expect(sources.fanout.status()).toEqual({ concurrency: 2, maxConcurrency: 2 });

    await fill(service, 'fanout', 100);
    await waitFor(() => (consumers.fanout.counts.inFlight === 2 ? true : undefined), {
      what: 'two fan-out invocations at once',
    });
    // As above: time for the mapping to (wrongly) scale while messages remain.
    await sleep(2_500);
    expect(consumers.fanout.counts.peak).toBe(2);
    expect(sources.fanout.status().concurrency).toBe(2);
    consumers.fanout.release();
    await waitFor(drained(service, 'fanout'), { what: 'the fan-out queue to drain' });
    expect(consumers.fanout.counts.peak).toBe(2);
    expect(sources.fanout.status().concurrency).toBe(2);
  });

  it('stops every poller, letting each batch under way finish first', async () => {
    const { service, consumers, sources } = await startHeld({ deliveryMaxConcurrency: 6 });
    const deliver = consumers.deliver;
    await fill(service, 'delivery', 100);
    await waitFor(() => (deliver.counts.inFlight === 6 ? true : undefined), {
      what: 'six deliver invocations at once',
    });

    let stopped = false;
    const stopping = Promise.all([sources.fanout.stop(), sources.delivery.stop()]).then(() => {
      stopped = true;
    });
    // The idle fan-out pollers end within their long poll; the held batches keep delivery from stopping.
    await waitFor(() => (sources.fanout.status().concurrency === 0 ? true : undefined), {
      what: 'the fan-out pollers to stop',
    });
    expect(stopped).toBe(false);
    expect(deliver.counts.inFlight).toBe(6);

    deliver.release();
    await stopping;
    // Each poller finished its batch and took no other; what the batches took is deleted, the rest stays.
    expect(deliver.counts).toMatchObject({ started: 6, finished: 6, inFlight: 0 });
    expect(sources.delivery.status().concurrency).toBe(0);
    expect(await queueDepth(service.clients.sqs, service.resources.queues.delivery.url)).toEqual({
      visible: 100 - deliver.counts.messages,
      inFlight: 0,
    });
  });
});
