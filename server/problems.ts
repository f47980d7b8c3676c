/**
 * The one table of API problem types (RFC 9457 problem details). Every error
 * the API returns is one of these, as `application/problem+json` with `type`,
 * `title`, `status`, `detail` (and `errors` for validation findings).
 * docs/api.md documents each; tests/server fail if one is missing there.
 */
export const PROBLEMS = {
  "bad-request": { status: 400, title: "The request is not valid" },
  "invalid-input": { status: 400, title: "The input does not fit the workflow's inputs schema" },
  "invalid-definition": { status: 400, title: "The definition is not valid" },
  unauthorized: { status: 401, title: "An API key is required" },
  forbidden: { status: 403, title: "The API key lacks the scope this needs" },
  "not-found": { status: 404, title: "Not found" },
  "method-not-allowed": { status: 405, title: "The path does not take this method" },
  conflict: { status: 409, title: "The current state does not allow this" },
  "payload-too-large": { status: 413, title: "The body is too large" },
  "unsupported-media-type": { status: 415, title: "The body's content type is not accepted here" },
  "rate-limited": { status: 429, title: "Too many requests" },
  internal: { status: 500, title: "Internal error" },
  unavailable: { status: 503, title: "A backing service is unavailable" },
} as const;

export type ProblemType = keyof typeof PROBLEMS;

export const PROBLEM_BASE = "https://schemas.propertyflow.ai/pflow/problems/";

export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly errors?: readonly unknown[];
}

/** An error a route throws to answer with a problem. */
export class Problem extends Error {
  readonly problem: ProblemType;
  readonly errors: readonly unknown[] | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    problem: ProblemType,
    detail: string,
    options: { errors?: readonly unknown[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = "Problem";
    this.problem = problem;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }

  get status(): number {
    return PROBLEMS[this.problem].status;
  }

  body(): ProblemBody {
    const { status, title } = PROBLEMS[this.problem];
    return {
      type: `${PROBLEM_BASE}${this.problem}`,
      title,
      status,
      detail: this.message,
      ...(this.errors === undefined ? {} : { errors: this.errors }),
    };
  }
}
