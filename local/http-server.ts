import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ApiRequest, NormalizedResponse } from './emulators/api-gateway.js';

/**
 * Local mode's HTTP front door: the API as API Gateway would serve it, plus local-only routes without auth,
 * `GET /health`, `GET /_local/status` and `POST /_local/redrive`. It listens before the service is built, so
 * the port is taken (or refused) at once and `/health` answers 503 until `serve` is called.
 */
const REDRIVE_QUEUES = ['delivery', 'fanout'] as const;
export type RedriveQueue = (typeof REDRIVE_QUEUES)[number];

interface LocalHttpTarget {
  api(request: ApiRequest): Promise<NormalizedResponse>;
  status(): Promise<unknown>;
  /** Moves the queue's dead letters back to it: what `npm run redrive` does on AWS. */
  redrive?(queue: RedriveQueue): Promise<{ moved: number }>;
}

export interface LocalHttpServer {
  url: string;
  serve(target: LocalHttpTarget): void;
  close(): Promise<void>;
}

export async function startHttpServer(options: {
  port: number;
  host: string;
  log: (line: string) => void;
}): Promise<LocalHttpServer> {
  let target: LocalHttpTarget | undefined;

  const handle = async (request: IncomingMessage): Promise<NormalizedResponse> => {
    const path = request.url ?? '/';
    const method = request.method ?? 'GET';
    const { pathname } = new URL(path, 'http://localhost');
    const allowed = LOCAL_ROUTES.get(pathname);
    if (allowed && !allowed.includes(method)) {
      return error(405, 'method_not_allowed', `${method} is not allowed on ${pathname}`, {
        allow: allowed.join(', '),
      });
    }
    if (pathname === '/health') {
      return target ? json(200, { status: 'ok' }) : json(503, { status: 'starting' });
    }
    if (!target) return error(503, 'service_unavailable', 'local mode is starting');
    if (pathname === '/_local/status') return json(200, await target.status());
    const body = await readBodyBytes(request, API_GATEWAY_MAX_BODY_BYTES);
    if (body === undefined) return error(413, 'payload_too_large', 'the request body exceeds 10 MB');
    if (pathname === '/_local/redrive') return redrive(target, body.toString('utf8'));
    return target.api({
      method,
      path,
      headers: flattenHeaders(request),
      ...(body.length > 0 ? { body } : {}),
    });
  };

  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    let reply: NormalizedResponse;
    try {
      reply = await handle(request);
    } catch (failure) {
      options.log(`[http] ${request.method} ${request.url} failed: ${(failure as Error).message}`);
      reply = error(500, 'internal_error', 'Internal server error');
    }
    // Given explicitly so that a HEAD answer carries its GET's length (Node sends none for HEAD).
    const headers = { 'content-length': String(Buffer.byteLength(reply.body)), ...reply.headers };
    response.writeHead(reply.statusCode, headers).end(reply.body);
  });
  answerClientErrors(server);
  const port = await listen(server, options.port, options.host);
  return {
    url: `http://${options.host}:${port}`,
    serve(value) {
      target = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Local-only routes and their methods; HEAD answers as GET does, without the body. */
const LOCAL_ROUTES: ReadonlyMap<string, readonly string[]> = new Map([
  ['/health', ['GET', 'HEAD']],
  ['/_local/status', ['GET', 'HEAD']],
  ['/_local/redrive', ['POST']],
]);

/** What API Gateway accepts as a request body; larger requests never reach a function. */
const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Node's own answers to requests it cannot parse or wait for, by error code; anything else is a 400. */
const CLIENT_ERRORS: Readonly<Record<string, [status: number, code: string, message: string]>> = {
  HPE_HEADER_OVERFLOW: [431, 'request_header_fields_too_large', 'the request headers exceed 16 KB'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'payload_too_large', 'the chunk extensions are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request_timeout', 'the request did not arrive in time'],
};

/**
 * Node answers what it cannot parse (or what arrives too slowly) itself, with an empty body. Here the answer is
 * the API's JSON error instead, and the connection is closed, as Node does. Like Node, it answers only when
 * the socket can still take it and no response of its own has started on it.
 */
function answerClientErrors(server: Server): void {
  const responding = new WeakMap<Socket, ServerResponse>();
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    responding.set(request.socket, response);
    response.once('finish', () => responding.delete(request.socket));
  });
  server.on('clientError', (failure: NodeJS.ErrnoException, socket: Socket) => {
    if (failure.code === 'ECONNRESET' || !socket.writable || responding.has(socket)) {
      socket.destroy();
      return;
    }
    const [status, code, message] = CLIENT_ERRORS[failure.code ?? ''] ?? [
      400,
      'bad_request',
      `the request is not valid HTTP/1.1 (${failure.code ?? failure.message})`,
    ];
    const body = JSON.stringify({ error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'content-type: application/json\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        'connection: close\r\n\r\n' +
        body,
    );
  });
}

/** Listens and resolves with the port, or rejects when it cannot (EADDRINUSE) instead of crashing. */
export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

async function redrive(target: LocalHttpTarget, body: string): Promise<NormalizedResponse> {
  if (!target.redrive) return error(404, 'not_found', 'redrive is not available here');
  let queue: unknown;
  try {
    queue = (JSON.parse(body) as { queue?: unknown } | null)?.queue;
  } catch {
    return error(400, 'invalid_json', 'the request body must be a JSON document');
  }
  if (!REDRIVE_QUEUES.includes(queue as RedriveQueue)) {
    return error(422, 'validation_error', `queue: must be one of ${REDRIVE_QUEUES.join(', ')}`);
  }
  return json(200, await target.redrive(queue as RedriveQueue));
}

function error(
  statusCode: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): NormalizedResponse {
  const reply = json(statusCode, { error: { code, message } });
  return { ...reply, headers: { ...reply.headers, ...headers } };
}

function json(statusCode: number, value: unknown): NormalizedResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}

/**
 * The body as text, or undefined when it is larger than `maxBytes`: the rest is read and dropped rather than
 * kept, so that the connection can still carry the answer.
 */
export async function readBody(request: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  return (await readBodyBytes(request, maxBytes))?.toString('utf8');
}

/** As readBody, but the bytes as sent, for API Gateway's handling of bodies that are not UTF-8 text. */
async function readBodyBytes(request: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size <= maxBytes) chunks.push(chunk as Buffer);
  }
  return size > maxBytes ? undefined : Buffer.concat(chunks);
}

/** Repeated headers are joined with commas, as API Gateway does for payload format 2.0. */
function flattenHeaders(request: IncomingMessage): Record<string, string> {
  return Object.fromEntries(
    Object.entries(request.headers).flatMap(([name, value]) =>
      value === undefined ? [] : [[name, Array.isArray(value) ? value.join(',') : value]],
    ),
  );
}
