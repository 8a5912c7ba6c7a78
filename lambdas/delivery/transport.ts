/**
 * The HTTP side of a delivery, on node:http and node:https alone: one keep-alive connection pool per deliver
 * handler, the SSRF guard on every new connection, the error classes an attempt records, and a bounded read
 * of the response body.
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import {
  BLOCKED_ADDRESS,
  BlockedAddressError,
  guardedLookup,
  type HostResolver,
  hostnameProblem,
} from '../security/address-guard.js';
import type { AttemptRecord } from '../storage/attempts.js';

export type ErrorClass = NonNullable<AttemptRecord['errorClass']>;

/**
 * At most `limit` bytes of a body as text; leaving the loop early lets go of the rest unread. A multi-byte
 * character cut at the limit is dropped rather than mangled. Undefined when the body failed mid-read (the
 * attempt's result stands; only the snippet is lost).
 */
export async function readBodyPrefix(
  body: AsyncIterable<Uint8Array>,
  limit: number,
): Promise<string | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size >= limit) break;
    }
  } catch {
    return undefined;
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, limit), { stream: true });
}

/**
 * node:http fails a request with the socket's or the resolver's error, its code on the error itself (an
 * AggregateError carries the first address's code), or with the attempt signal's TimeoutError.
 */
export function classifyError(error: unknown): ErrorClass {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return 'timeout';
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === BLOCKED_ADDRESS) return 'blocked_address';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns_error';
  return 'connection_error';
}

/** One POST as a delivery makes it; `signal` bounds the whole exchange, body included. */
interface WebhookRequest {
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
}

/** What a delivery reads of a response: redirects are responses like any other, never followed. */
export interface WebhookResponse {
  status: number;
  /** Lower-case names. */
  headers: IncomingHttpHeaders;
  /** Read it, or discard it: one of the two frees the connection. */
  body: AsyncIterable<Uint8Array>;
  discard(): void;
}

/** The transport a delivery uses, so tests can stand in for the network. */
export type WebhookFetch = (url: string, request: WebhookRequest) => Promise<WebhookResponse>;

export interface TransportOptions {
  allowPrivateUrls: boolean;
  resolveHost?: HostResolver | undefined;
}

/** One transport per set of dependencies (one per deliver handler), so its connections are reused. */
const transports = new WeakMap<TransportOptions, WebhookFetch>();

export function transportOf(deps: TransportOptions): WebhookFetch {
  let transport = transports.get(deps);
  if (!transport) {
    transport = webhookTransport(deps);
    transports.set(deps, transport);
  }
  return transport;
}

/**
 * An idle pooled connection is closed after this long, before a receiver's own keep-alive timeout (5 s in
 * Node's server, the shortest common default) can close it under a request that is reusing it.
 */
const IDLE_CONNECTION_MS = 4_000;

/**
 * A discarded body is drained, so that a finished one returns its connection to the pool; past this many
 * bytes (or the attempt's timeout) the connection is closed instead. The attempt does not wait for either.
 */
const DRAIN_LIMIT_BYTES = 64 * 1024;

/**
 * POSTs over one keep-alive connection pool per protocol. Unless private URLs are allowed, every request
 * and new connection passes the SSRF guard: an IP-literal or local-only host is refused before connecting
 * (net never calls `lookup` for an IP literal), and a host name is resolved by guardedLookup, which
 * refuses the host if any address is not global and otherwise hands the socket exactly the addresses it
 * checked. A pooled connection was checked when it was opened. TLS verifies the certificate against the
 * host name, which is also the SNI.
 */
export function webhookTransport(options: TransportOptions): WebhookFetch {
  const pool = {
    keepAlive: true,
    timeout: IDLE_CONNECTION_MS,
    ...(options.allowPrivateUrls ? {} : { lookup: guardedLookup(options.resolveHost) }),
  };
  const agents = { http: new HttpAgent(pool), https: new HttpsAgent(pool) };
  return async (url, { headers, body, signal }) => {
    const target = new URL(url);
    const problem = options.allowPrivateUrls ? undefined : hostnameProblem(target.hostname);
    if (problem) throw new BlockedAddressError(problem);
    signal.throwIfAborted();
    const secure = target.protocol === 'https:';
    const request = (secure ? httpsRequest : httpRequest)(target, {
      method: 'POST',
      agent: secure ? agents.https : agents.http,
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    });
    let response: IncomingMessage | undefined;
    // Until the exchange is over (body ended or cut off), the signal cuts it short at whatever stage it is:
    // connecting, awaiting headers, reading or draining the body.
    const abort = () => (response ?? request).destroy(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    request.once('close', () => signal.removeEventListener('abort', abort));
    return await new Promise<WebhookResponse>((resolve, reject) => {
      request.on('error', reject);
      request.once('response', (message: IncomingMessage) => {
        response = message;
        // A body's errors reach whoever iterates it; an abandoned body's errors concern no one.
        message.on('error', () => undefined);
        resolve({
          status: message.statusCode ?? 0,
          headers: message.headers,
          body: message,
          discard: () => drain(message),
        });
      });
      request.end(body);
    });
  };
}

function drain(message: IncomingMessage): void {
  let drained = 0;
  message.on('data', (chunk: Buffer) => {
    drained += chunk.byteLength;
    if (drained > DRAIN_LIMIT_BYTES) message.destroy();
  });
}
