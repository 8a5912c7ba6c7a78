import { createServer, type ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { listen, readBody } from '../local/http-server.js';

/**
 * The chaos run's subscribers: real HTTP servers on loopback, one per subscription. Each verifies every
 * request's signature with its subscription's secret (standardwebhooks, as a subscriber would), counts
 * requests by webhook-id so duplicates show, and misbehaves as its profile says:
 *   flaky    fails `failureRate` of requests, each failure a 500, a hang past the sender's per-attempt
 *            timeout or a connection reset, and answers `slowRate` of the others slowly but successfully;
 *   failing  fails every request the same ways;
 *   gone     answers 410 Gone.
 * Choices come from the receiver's own seeded stream.
 */
export type ReceiverKind = 'flaky' | 'failing' | 'gone';
type FailureMode = 'error' | 'hang' | 'reset';

export interface ReceiverProfile {
  kind: ReceiverKind;
  failureRate: number;
  failureModes: readonly FailureMode[];
  slowRate: number;
  /** A slow answer takes between these, well inside the sender's per-attempt timeout. */
  slowMs: readonly [min: number, max: number];
  /** A hang is cut off after this long, in case the sender never gives up. */
  hangLimitMs: number;
}

/** One request as the receiver saw it: when it arrived and when its exchange ended (performance.now()). */
export interface RequestSpan {
  at: number;
  /** Unset while the exchange is open. */
  endedAt?: number;
}

interface ReceiverTally {
  requests: number;
  /** Every request, in arrival order, so overlaps and requests after a circuit opened show. */
  spans: RequestSpan[];
  /** performance.now() of the first request. */
  firstRequestAt?: number;
  /** Requests whose signature did not verify with the subscription's secret (answered 401). */
  badSignatures: number;
  /** Answers by kind; `abandoned` is a slow answer whose sender had already given up. */
  answers: Record<'ok' | 'slow' | 'error' | 'hang' | 'reset' | 'gone' | 'abandoned', number>;
  /** Requests per webhook-id, verified ones only. */
  attempts: Map<string, number>;
  /** 2xx answers per webhook-id: more than one is a duplicate delivery. */
  accepted: Map<string, number>;
}

export interface ChaosReceiver {
  name: string;
  profile: ReceiverProfile;
  url: string;
  useSecret(secret: string): void;
  tally: ReceiverTally;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function startChaosReceiver(
  name: string,
  profile: ReceiverProfile,
  random: () => number,
): Promise<ChaosReceiver> {
  let webhook: Webhook | undefined;
  const tally: ReceiverTally = {
    requests: 0,
    spans: [],
    badSignatures: 0,
    answers: { ok: 0, slow: 0, error: 0, hang: 0, reset: 0, gone: 0, abandoned: 0 },
    attempts: new Map(),
    accepted: new Map(),
  };
  const count = (map: Map<string, number>, id: string) => map.set(id, (map.get(id) ?? 0) + 1);

  const accept = (id: string, response: ServerResponse, slow: boolean) => {
    // The sender may have timed out meanwhile; an answer nobody reads is no delivery.
    if (response.destroyed || response.socket?.destroyed !== false) {
      tally.answers.abandoned++;
      return;
    }
    tally.answers[slow ? 'slow' : 'ok']++;
    count(tally.accepted, id);
    response.writeHead(204).end();
  };

  const server = createServer(async (request, response) => {
    tally.firstRequestAt ??= performance.now();
    const span: RequestSpan = { at: performance.now() };
    tally.spans.push(span);
    response.on('close', () => {
      span.endedAt = performance.now();
    });
    const body = await readBody(request, MAX_BODY_BYTES);
    tally.requests++;
    let id: string;
    try {
      if (!webhook || body === undefined) throw new Error('not verifiable');
      webhook.verify(body, request.headers as Record<string, string>);
      id = String(request.headers['webhook-id']);
    } catch {
      tally.badSignatures++;
      response.writeHead(401).end();
      return;
    }
    count(tally.attempts, id);

    if (profile.kind === 'gone') {
      tally.answers.gone++;
      response.writeHead(410).end();
      return;
    }
    if (profile.kind === 'failing' || random() < profile.failureRate) {
      const mode = profile.failureModes[Math.floor(random() * profile.failureModes.length)] ?? 'error';
      tally.answers[mode]++;
      if (mode === 'error') response.writeHead(500).end();
      else if (mode === 'reset') request.socket.resetAndDestroy();
      else hang(response, profile.hangLimitMs);
      return;
    }
    if (random() < profile.slowRate) {
      const [min, max] = profile.slowMs;
      setTimeout(() => accept(id, response, true), min + random() * (max - min));
      return;
    }
    accept(id, response, false);
  });
  const port = await listen(server, 0, '127.0.0.1');
  return {
    name,
    profile,
    url: `http://127.0.0.1:${port}/${name}`,
    useSecret(secret) {
      webhook = new Webhook(secret);
    },
    tally,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Never answers: the sender's per-attempt timeout ends the exchange, or the limit does. */
function hang(response: ServerResponse, limitMs: number) {
  const limit = setTimeout(() => response.socket?.destroy(), limitMs);
  response.on('close', () => clearTimeout(limit));
}
