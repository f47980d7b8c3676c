import { availableParallelism } from "node:os";
import { Piscina } from "piscina";
import type {
  DefinitionSet,
  Diagnostic,
  FileReport,
  SourceFile,
  ValidateOptions,
} from "../compiler/index.ts";
import { Problem } from "./problems.ts";

/**
 * Validates definitions sent over the API on worker threads, so parsing and
 * compiling a large YAML file never blocks the event loop that answers other
 * requests (health checks included). The YAML limits bound what a file may
 * expand to; the time budget and the thread's heap bound what is left (a file
 * within the limits that is still slow to compile). A file past either is
 * refused with a `yaml-limits` finding, as a YAML bomb is.
 */
export interface ValidationSettings {
  /** How long one validation may take, waiting for a thread included. */
  readonly timeoutMs: number;
  /** Threads validating at once. */
  readonly threads: number;
  /** Validations waiting for a thread; past it, 503. */
  readonly maxQueue: number;
  /** Heap of each thread: a validation that needs more is refused, the process lives on. */
  readonly memoryMb: number;
}

export const DEFAULT_VALIDATION: ValidationSettings = {
  timeoutMs: 20_000,
  threads: Math.max(1, Math.min(4, availableParallelism() - 1)),
  maxQueue: 32,
  memoryMb: 1024,
};

export class DefinitionValidator {
  readonly #settings: ValidationSettings;
  readonly #pool: Piscina;

  constructor(settings: Partial<ValidationSettings> = {}) {
    this.#settings = { ...DEFAULT_VALIDATION, ...settings };
    this.#pool = new Piscina({
      filename: new URL("./validation-worker.ts", import.meta.url).href,
      minThreads: 0,
      maxThreads: this.#settings.threads,
      maxQueue: this.#settings.maxQueue,
      // A thread is kept a minute after its last validation, not for ever: an idle API holds none.
      idleTimeout: 60_000,
      resourceLimits: { maxOldGenerationSizeMb: this.#settings.memoryMb },
    });
  }

  /** `validateDefinitions`, on a thread. */
  async validate(files: readonly SourceFile[], options: ValidateOptions = {}): Promise<DefinitionSet> {
    const { timeoutMs, maxQueue, memoryMb } = this.#settings;
    if (this.#pool.queueSize >= maxQueue) {
      throw new Problem("unavailable", "the server is validating too many definitions at once; try again", {
        headers: { "retry-after": "5" },
      });
    }
    try {
      return await this.#pool.run({ files, options }, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if ((error as Error).name === "AbortError" || (error as Error).name === "TimeoutError") {
        return refused(files, `validating the file took longer than ${timeoutMs / 1000} s, the limit`);
      }
      if (code === "ERR_WORKER_OUT_OF_MEMORY") {
        return refused(files, `validating the file needed more than ${memoryMb} MB of memory, the limit`);
      }
      throw error;
    }
  }

  close(): Promise<void> {
    return this.#pool.destroy();
  }
}

/** Every file of the set invalid with one `yaml-limits` finding: the set as a whole could not be validated. */
function refused(files: readonly SourceFile[], message: string): DefinitionSet {
  const reports = files.map((file): FileReport => {
    const finding: Diagnostic = {
      code: "yaml-limits",
      severity: "error",
      message: `${message}; split it or make it smaller`,
      file: file.path,
      line: 1,
      column: 1,
      pointer: "",
      document: 0,
    };
    return { path: file.path, valid: false, documents: [], errors: [finding], warnings: [] };
  });
  return {
    valid: false,
    files: reports,
    workflows: new Map(),
    models: new Map(),
    sources: new Map(),
    tests: [],
  };
}
