/**
 * Errors typed by what the caller does next: a retryable error is worth another
 * attempt (a timeout, a 503, a malformed reply); a non-retryable one is not (a
 * 400, a schema violation, a failed expression). Retry is decided where the
 * error is made, not guessed later from a message.
 */
export interface NodeError {
  readonly code: string;
  readonly message: string;
}

export class ExecutionError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, retryable: boolean, options?: ErrorOptions) {
    super(message, options);
    this.name = "ExecutionError";
    this.code = code;
    this.retryable = retryable;
  }

  static retryable(code: string, message: string, options?: ErrorOptions): ExecutionError {
    return new ExecutionError(code, message, true, options);
  }

  static nonRetryable(code: string, message: string, options?: ErrorOptions): ExecutionError {
    return new ExecutionError(code, message, false, options);
  }

  toJSON(): NodeError {
    return { code: this.code, message: this.message };
  }
}

/**
 * Any thrown value as an ExecutionError. An AbortError from the attempt's own
 * timeout is retryable (`timeout`); anything unknown is a bug, not retried.
 */
export function asExecutionError(error: unknown): ExecutionError {
  if (error instanceof ExecutionError) return error;
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return ExecutionError.retryable("timeout", error.message || "the attempt timed out", { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return ExecutionError.nonRetryable("internal", message, { cause: error });
}
