/**
 * Errors a client can cause. Each carries its HTTP status and a stable machine code; the API maps them to
 * `{ "error": { "code", "message" } }` in one place (api/handler.ts). Anything that is not an HttpError is a bug or
 * an outage and becomes a bare 500 without details.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }

  toJSON(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export class BadRequestError extends HttpError {
  constructor(code: string, message: string) {
    super(400, code, message);
  }
}

export class UnauthorizedError extends HttpError {
  constructor(code: string, message: string) {
    super(401, code, message);
  }
}

export class NotFoundError extends HttpError {
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

export class MethodNotAllowedError extends HttpError {
  /** The path's methods, for the `Allow` header RFC 9110 requires on a 405. */
  constructor(
    message: string,
    readonly allowed: readonly string[],
  ) {
    super(405, 'method_not_allowed', message);
  }
}

export class ConflictError extends HttpError {
  constructor(message: string) {
    super(409, 'conflict', message);
  }
}

export class PayloadTooLargeError extends HttpError {
  constructor(message: string) {
    super(413, 'payload_too_large', message);
  }
}

export class UnsupportedMediaTypeError extends HttpError {
  constructor(message: string) {
    super(415, 'unsupported_media_type', message);
  }
}

export class ValidationError extends HttpError {
  constructor(message: string) {
    super(422, 'validation_error', message);
  }
}

/** A limit the client can get back under by removing something (e.g. deleting subscriptions). */
export class LimitReachedError extends HttpError {
  constructor(code: string, message: string) {
    super(422, code, message);
  }
}

/** Too many requests in the current window; the API answers with a Retry-After header. */
export class TooManyRequestsError extends HttpError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, 'rate_limited', message);
  }
}

/** A dependency (EventBridge, DynamoDB, SQS) failed in a way the client can retry; never a client mistake. */
export class ServiceUnavailableError extends HttpError {
  constructor(message: string) {
    super(503, 'service_unavailable', message);
  }
}

/** Why a queue message can never be processed; a DLQ message attribute carries it. */
export type PoisonReason =
  | 'not_json'
  | 'not_an_event'
  | 'no_tenant'
  | 'unknown_tenant'
  | 'invalid_event_type'
  | 'invalid_detail'
  | 'too_large'
  | 'invalid_event_id'
  | 'malformed_job'
  | 'malformed_delivery';

/**
 * A queue message that can never be processed, whatever the retries: the permanent failure of a queue
 * consumer. Every other error a consumer meets (a throttle, a failed SQS or DynamoDB call) is transient and
 * left to SQS to retry. The message says what is wrong, the action what an operator can do about it.
 */
export class PoisonMessageError extends Error {
  override name = 'PoisonMessageError';
  readonly reason: PoisonReason;
  readonly action: string;

  constructor(message: string, problem: { reason: PoisonReason; action: string }) {
    super(message);
    this.reason = problem.reason;
    this.action = problem.action;
  }
}
