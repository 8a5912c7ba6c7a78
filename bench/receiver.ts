import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

/**
 * The one receiver every row POSTs to: a bare node:http server answering 204, on its own thread so that its
 * work is not charged to the sender's event loop. It does not verify signatures (that is the subscriber's
 * cost, the same for every sender). It counts requests in shared memory and, when asked, records each
 * arrival's webhook-id, path and time for latency. The isolation rows start a second one that misbehaves:
 * it answers 500, or takes the request and never answers (with a delay, it answers 204 late).
 */
export interface Arrival {
  id: string;
  path: string;
  /** clockMs() when the body had fully arrived. */
  at: number;
}

/** Milliseconds on the monotonic clock, which every thread of the process shares. */
export function clockMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** How the receiver answers: `hang` holds the request open until the answer changes. */
export type Answer = 'ok' | 'fail' | 'hang';

type Command =
  | { kind: 'delay'; ms: number }
  | { kind: 'answer'; answer: Answer }
  | { kind: 'record'; on: boolean }
  | { kind: 'take' };

interface Setup {
  counter: SharedArrayBuffer;
}

if (!isMainThread && (workerData as { benchReceiver?: Setup } | undefined)?.benchReceiver) {
  serve((workerData as { benchReceiver: Setup }).benchReceiver);
}

function serve(setup: Setup) {
  const counter = new Int32Array(setup.counter);
  let delayMs = 0;
  let answer: Answer = 'ok';
  const hung = new Set<ServerResponse>();
  let recording = false;
  let arrivals: Arrival[] = [];
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (recording) {
        arrivals.push({ id: String(request.headers['webhook-id']), path: request.url ?? '', at: clockMs() });
      }
      if (answer === 'hang') {
        hung.add(response);
        response.on('close', () => hung.delete(response));
        return;
      }
      const status = answer === 'fail' ? 500 : 204;
      const reply = () => {
        response.writeHead(status).end();
        Atomics.add(counter, 0, 1);
      };
      if (delayMs > 0) setTimeout(reply, delayMs);
      else reply();
    });
  });
  // Idle keep-alive connections survive the pauses between rows.
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    parentPort?.postMessage({ port: (server.address() as AddressInfo).port });
  });
  parentPort?.on('message', (command: Command) => {
    if (command.kind === 'delay') delayMs = command.ms;
    if (command.kind === 'answer') {
      answer = command.answer;
      // Held requests are cut off, so that no sender waits on a receiver nobody measures any more.
      if (answer !== 'hang') for (const response of hung) response.destroy();
    }
    if (command.kind === 'record') recording = command.on;
    if (command.kind === 'take') {
      parentPort?.postMessage(arrivals);
      arrivals = [];
      return;
    }
    parentPort?.postMessage('ok');
  });
}

export interface Receiver {
  /** http://127.0.0.1:port, without a trailing slash; any path is accepted. */
  url: string;
  /** Requests answered since start. */
  answered(): number;
  /** Resolves once `count` requests have been answered, or after `timeoutMs` (false then). */
  waitForAnswered(count: number, timeoutMs: number): Promise<boolean>;
  setDelay(ms: number): Promise<void>;
  setAnswer(answer: Answer): Promise<void>;
  record(on: boolean): Promise<void>;
  /** The arrivals recorded since the last take, oldest first. */
  takeArrivals(): Promise<Arrival[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { benchReceiver: { counter: counter.buffer } },
  });
  const reply = () =>
    new Promise<unknown>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (message) => {
        worker.off('error', reject);
        resolve(message);
      });
    });
  const { port } = (await reply()) as { port: number };
  // Commands are sent one at a time and answered in order, so one pending reply at a time.
  let queue: Promise<unknown> = Promise.resolve();
  const send = (command: Command) => {
    const next = queue.then(() => {
      const answer = reply();
      worker.postMessage(command);
      return answer;
    });
    queue = next.catch(() => undefined);
    return next;
  };
  const answered = () => Atomics.load(counter, 0);
  return {
    url: `http://127.0.0.1:${port}`,
    answered,
    async waitForAnswered(count, timeoutMs) {
      const deadline = clockMs() + timeoutMs;
      while (answered() < count) {
        if (clockMs() > deadline) return false;
        await sleep(2);
      }
      return true;
    },
    setDelay: async (ms) => void (await send({ kind: 'delay', ms })),
    setAnswer: async (answer) => void (await send({ kind: 'answer', answer })),
    record: async (on) => void (await send({ kind: 'record', on })),
    takeArrivals: async () => (await send({ kind: 'take' })) as Arrival[],
    close: async () => void (await worker.terminate()),
  };
}
