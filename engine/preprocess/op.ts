/**
 * A preprocess operation: a pure function of its arguments (`with`, already
 * resolved and checked against schemas/ops/<name>.schema.json, defaults
 * applied). It throws an ExecutionError (non-retryable: the same input fails the
 * same way) for input it cannot handle.
 */
export interface PreprocessOp {
  readonly name: string;
  run(args: Record<string, unknown>, signal: AbortSignal): unknown | Promise<unknown>;
}
