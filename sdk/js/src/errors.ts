/**
 * Errors thrown by the Kiln SDK. Every one is a {@link KilnError}; an error
 * answer from the API becomes the {@link ApiError} subclass for its `code`.
 */

/** Base class of every error the SDK throws. */
export class KilnError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** kilnd could not be reached (refused, reset, DNS, TLS). */
export class ConnectionError extends KilnError {}

/** The client's request timeout passed before an answer came. */
export class TimeoutError extends KilnError {}

/** An error answer from the API, with its `status`, `code` and `message`. */
export class ApiError extends KilnError {
  /** The HTTP status. */
  readonly status: number;
  /** The API's error code, e.g. `not_found`. */
  readonly code: string;
  /** The API's message. */
  readonly apiMessage: string;
  /** The decoded error body, when there was one. */
  readonly body: unknown;

  constructor(status: number, code: string, message: string, body?: unknown) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
    this.apiMessage = message;
    this.body = body;
  }
}

/** 400 `bad_request`: malformed input, or a path into a read-only place. */
export class BadRequestError extends ApiError {}
/** 401 `unauthorized`: missing, unknown or revoked API key. */
export class AuthenticationError extends ApiError {}
/** 402 `quota_exceeded`: the workspace's credits are spent. */
export class QuotaExceededError extends ApiError {}
/** 404 `not_found`: no such sandbox, context, file, skill or route. */
export class NotFoundError extends ApiError {}
/** 409 `conflict`: the context is busy, or the Drive file exists. */
export class ConflictError extends ApiError {}
/** 413 `too_large`: a body, code or file over its cap. */
export class TooLargeError extends ApiError {}
/** 415 `unsupported_type`: a file type Drive or an action refuses. */
export class UnsupportedTypeError extends ApiError {}
/** 422 `invalid`: an action's operation failed. */
export class InvalidError extends ApiError {}
/** 429 `rate_limited`: the daemon's sandbox limit is reached. */
export class RateLimitedError extends ApiError {}
/** 500 `internal`: the daemon failed. */
export class InternalError extends ApiError {}
/** 503 `unavailable`: the sandbox ended mid-request, or a service is off. */
export class UnavailableError extends ApiError {}
/** 507 `insufficient_storage`: the sandbox's disk is full. */
export class InsufficientStorageError extends ApiError {}

type ApiErrorClass = new (status: number, code: string, message: string, body?: unknown) => ApiError;

const BY_CODE: Record<string, ApiErrorClass> = {
  bad_request: BadRequestError,
  unauthorized: AuthenticationError,
  quota_exceeded: QuotaExceededError,
  not_found: NotFoundError,
  conflict: ConflictError,
  too_large: TooLargeError,
  unsupported_type: UnsupportedTypeError,
  invalid: InvalidError,
  rate_limited: RateLimitedError,
  internal: InternalError,
  unavailable: UnavailableError,
  insufficient_storage: InsufficientStorageError,
};

const BY_STATUS: Record<number, ApiErrorClass> = {
  400: BadRequestError, 401: AuthenticationError, 402: QuotaExceededError, 404: NotFoundError,
  405: BadRequestError, 409: ConflictError, 413: TooLargeError, 415: UnsupportedTypeError,
  422: InvalidError, 429: RateLimitedError, 500: InternalError, 503: UnavailableError,
  507: InsufficientStorageError,
};

/** The {@link ApiError} subclass for an error answer (by code, else status). */
export function errorFromResponse(status: number, body: unknown, fallbackText = ""): ApiError {
  let code = "";
  let message = fallbackText;
  if (body && typeof body === "object" && "error" in body) {
    const err = (body as { error: unknown }).error;
    if (err && typeof err === "object") {
      const e = err as { code?: unknown; message?: unknown };
      code = typeof e.code === "string" ? e.code : "";
      message = typeof e.message === "string" ? e.message : fallbackText;
    }
  }
  const Cls = BY_CODE[code] ?? BY_STATUS[status] ?? ApiError;
  return new Cls(status, code || `http_${status}`, message || `HTTP ${status}`, body);
}

/** The API's description of code that failed inside the sandbox. */
export interface ExecutionErrorData {
  name: string;
  value: string;
  traceback: string;
  line?: number | null;
}

/**
 * Code that failed inside the sandbox: `name` (the exception's type, or
 * `TimeoutError`, `OutOfMemoryError`, `ContextStoppedError`, `CommandError`
 * for bash), `value`, `traceback`, and `line` in the submitted code when
 * known. Found on `execution.error`; `execution.throwIfError()` throws it.
 */
export class ExecutionError extends KilnError {
  /** The exception's message. */
  readonly value: string;
  /** The traceback text. */
  readonly traceback: string;
  /** The line of the submitted code, when known. */
  readonly line: number | null;

  constructor(data: ExecutionErrorData) {
    super(`${data.name}: ${data.value}`);
    // `name` is the failed code's exception type (ZeroDivisionError, ...).
    this.name = data.name;
    this.value = data.value;
    this.traceback = data.traceback ?? "";
    this.line = typeof data.line === "number" ? data.line : null;
  }

  /** True when the code ran past its execution timeout. */
  get isTimeout(): boolean {
    return this.name === "TimeoutError";
  }
}

/** A command ended with a non-zero exit code (thrown by `CommandResult.check()`). */
export class CommandExitError extends KilnError {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;

  constructor(exitCode: number, stdout: string, stderr: string) {
    super(`command exited with ${exitCode}: ${stderr.trim().slice(-500)}`);
    this.exitCode = exitCode;
    this.stdout = stdout;
    this.stderr = stderr;
  }
}
