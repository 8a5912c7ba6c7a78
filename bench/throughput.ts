import { Agent, request } from 'undici';
import { USER_AGENT } from '../lambdas/delivery/deliver.js';
import { signatureHeaders } from '../lambdas/security/signing.js';
import { generateSigningSecret } from '../lambdas/storage/subscription-secrets.js';
import { clockMs } from './receiver.js';

/** The event every row sends: the limit and the naive loop POST exactly what the pipeline delivers for it. */
export const BENCH_EVENT_TYPE = 'bench.order.created';
export const BENCH_DATA = { orderId: 'ord_1234567890', amount: 4200, currency: 'EUR', items: 3 };

export interface Rate {
  deliveries: number;
  seconds: number;
  perSecond: number;
  /** Responses other than 2xx, or requests that threw. */
  failures: number;
  /** CPU time of the whole process (every thread: sender, receiver, engines) per delivery. */
  cpuMsPerDelivery: number;
}

function webhookBody(at: Date): string {
  return JSON.stringify({ type: BENCH_EVENT_TYPE, timestamp: at.toISOString(), data: BENCH_DATA });
}

function webhookHeaders(secret: string, id: string, at: Date, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    ...signatureHeaders([secret], id, at, body),
  };
}

/** Where a measurement starts: the clock and the process's CPU time. */
export function mark() {
  return { at: clockMs(), cpu: process.cpuUsage() };
}

export function cpuMsPerDelivery(since: ReturnType<typeof mark>, deliveries: number): number {
  const { user, system } = process.cpuUsage(since.cpu);
  return (user + system) / 1000 / deliveries;
}

function rate(deliveries: number, failures: number, since: ReturnType<typeof mark>): Rate {
  const seconds = (clockMs() - since.at) / 1000;
  return {
    deliveries,
    seconds,
    perSecond: deliveries / seconds,
    failures,
    cpuMsPerDelivery: cpuMsPerDelivery(since, deliveries),
  };
}

/**
 * The limit: one payload signed once, POSTed back to back by `concurrency` workers over as many keep-alive
 * connections. Nothing the service does per delivery can be cheaper than this on the same machine. A short
 * run on a small machine swings with garbage collection and neighbours, so it runs `rounds` times and the
 * median round counts.
 */
export async function measureLimit(
  url: string,
  options: { roundMs: number; rounds: number; warmupMs: number; concurrency: number },
): Promise<Rate & { concurrency: number; rounds: number[] }> {
  const agent = new Agent({ connections: options.concurrency, keepAliveTimeout: 60_000 });
  const at = new Date();
  const body = webhookBody(at);
  const headers = webhookHeaders(generateSigningSecret(), 'evt_limit', at, body);
  const run = async (ms: number) => {
    let delivered = 0;
    let failures = 0;
    const started = mark();
    const end = started.at + ms;
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (clockMs() < end) {
          try {
            const response = await request(url, { method: 'POST', headers, body, dispatcher: agent });
            await response.body.dump();
            if (response.statusCode >= 200 && response.statusCode < 300) delivered++;
            else failures++;
          } catch {
            failures++;
          }
        }
      }),
    );
    return rate(delivered, failures, started);
  };
  try {
    // The warm-up opens the connections and lets the JIT settle; it does not count.
    await run(options.warmupMs);
    const rounds: Rate[] = [];
    for (let round = 0; round < options.rounds; round++) rounds.push(await run(options.roundMs));
    const sorted = [...rounds].sort((a, b) => a.perSecond - b.perSecond);
    const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? rate(0, 0, mark());
    return {
      ...median,
      concurrency: options.concurrency,
      rounds: rounds.map((round) => Math.round(round.perSecond)),
    };
  } finally {
    await agent.close();
  }
}

/**
 * The naive alternative, as the articles' sample code has it: for each subscriber in turn, sign the payload
 * with its secret and await a fetch before moving on to the next one.
 */
export async function measureNaive(
  baseUrl: string,
  options: { durationMs: number; subscribers: number },
): Promise<Rate> {
  const subscribers = Array.from({ length: options.subscribers }, (_, index) => ({
    url: `${baseUrl}/naive/${index}`,
    secret: generateSigningSecret(),
  }));
  let delivered = 0;
  let failures = 0;
  const started = mark();
  const end = started.at + options.durationMs;
  for (let round = 0; clockMs() < end; round++) {
    for (const subscriber of subscribers) {
      const at = new Date();
      const body = webhookBody(at);
      try {
        const response = await fetch(subscriber.url, {
          method: 'POST',
          headers: webhookHeaders(subscriber.secret, `evt_naive_${round}`, at, body),
          body,
        });
        if (response.ok) delivered++;
        else failures++;
      } catch {
        failures++;
      }
      if (clockMs() >= end) break;
    }
  }
  return rate(delivered, failures, started);
}
