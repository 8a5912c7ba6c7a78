/**
 * The HTTP side of a delivery: one keep-alive connection pool per deliver handler, the SSRF guard on every
 * new connection, the error classes an attempt records, and a bounded read of the response body.
 */
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import {
  BLOCKED_ADDRESS,
  BlockedAddressError,
  guardedLookup,
  type HostResolver,
  hostnameProblem,
} from './address-guard.js';
import type { AttemptRecord } from './attempts.js';

export type ErrorClass = NonNullable<AttemptRecord['errorClass']>;

/**
 * At most `limit` bytes of a body as text, then the rest is cancelled unread. A multi-byte character cut at
 * the limit is dropped rather than mangled. Undefined when the body failed mid-read (the attempt's result
 * stands; only the snippet is lost).
 */
export async function readBodyPrefix(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<string | undefined> {
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    return undefined;
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, limit), { stream: true });
}

/** fetch rejects with a TimeoutError from the abort signal, or a TypeError whose cause is the socket's error. */
export function classifyError(error: unknown): ErrorClass {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return 'timeout';
  const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  if (code === BLOCKED_ADDRESS) return 'blocked_address';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns_error';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'timeout';
  return 'connection_error';
}

/** The part of fetch a delivery uses, so tests can stand in for the network. */
export type WebhookFetch = (
  url: string,
  init: {
    method: 'POST';
    headers: Record<string, string>;
    body: string;
    redirect: 'manual';
    signal: AbortSignal;
  },
) => Promise<WebhookResponse>;

export interface WebhookResponse {
  status: number;
  headers: { get(name: string): string | null };
  body: ReadableStream<Uint8Array> | null;
}

export interface TransportOptions {
  allowPrivateUrls: boolean;
  resolveHost?: HostResolver;
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
 * fetch over one keep-alive connection pool. Unless private URLs are allowed, every new connection is made
 * through the SSRF guard: an IP-literal or local-only host is refused before connecting, and a host name is
 * resolved by guardedLookup, which refuses the host if any address is not global and otherwise hands the
 * socket exactly the addresses it checked. A pooled connection was checked when it was opened.
 */
export function webhookTransport(options: TransportOptions): WebhookFetch {
  const dispatcher = new Agent(
    options.allowPrivateUrls ? {} : { connect: guardedConnector(options.resolveHost) },
  );
  return (url, init) => undiciFetch(url, { ...init, dispatcher });
}

function guardedConnector(resolveHost: HostResolver | undefined): buildConnector.connector {
  const connect = buildConnector({ lookup: guardedLookup(resolveHost) });
  return (options, callback) => {
    // undici passes IPv6 literals unbracketed; net never calls `lookup` for an IP literal.
    const problem = hostnameProblem(options.hostname);
    if (problem) queueMicrotask(() => callback(new BlockedAddressError(problem), null));
    else connect(options, callback);
  };
}
