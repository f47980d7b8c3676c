import { watch } from "node:fs";
import { stat } from "node:fs/promises";
import { dirname, resolve, sep } from "node:path";
import { parseArgs } from "node:util";
import {
  collectDefinitionFiles,
  DefinitionsNotFound,
  parseDuration,
  validateDefinitions,
  type WorkflowTest,
} from "../compiler/index.ts";
import { defaultDefinitionsDir } from "./definitions-dir.ts";
import { formatFindings } from "./findings-format.ts";
import type { Io } from "./main.ts";
import { formatResults, TEST_FORMATS, type TestFormat } from "./test/test-report.ts";
import { EXIT, UsageError } from "./usage.ts";

/**
 * `pflow test [PATH…]`: runs the cases of the WorkflowTest documents found in
 * the PATHs (default: the definitions folder, else `.`). A test runs against
 * the definitions around it: a directory is validated as one set, as
 * `pflow validate` does, and a file given alone brings the directory it is in
 * (tests sit beside the workflows they test), though only its own tests run.
 * Exit 0 all passed, 1 any failed, 2 usage or definition error.
 */
export interface TestCommandOptions {
  /** Ends --watch (the process's SIGINT when unset). */
  readonly signal?: AbortSignal;
}

export async function testCommand(args: string[], io: Io, options: TestCommandOptions = {}): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      format: { type: "string", default: "text" },
      watch: { type: "boolean", default: false },
      timeout: { type: "string" },
      parallel: { type: "string" },
    },
  });
  const format = values.format as TestFormat;
  if (!TEST_FORMATS.includes(format))
    throw new UsageError(`--format must be text, junit or github, not "${values.format}"`);
  const caseTimeoutMs = values.timeout === undefined ? undefined : parseDuration(values.timeout);
  if (caseTimeoutMs === undefined && values.timeout !== undefined)
    throw new UsageError(`--timeout must be a duration such as 30s or 2m, not "${values.timeout}"`);
  const parallel = values.parallel === undefined ? 8 : Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 256)
    throw new UsageError(`--parallel must be an integer from 1 to 256, not "${values.parallel}"`);
  const paths = positionals.length > 0 ? positionals : [defaultDefinitionsDir() ?? "."];
  const once = () =>
    testOnce(paths, format, io, { parallel, ...(caseTimeoutMs === undefined ? {} : { caseTimeoutMs }) });
  if (!values.watch) return once();
  return watchLoop(paths, once, io, options.signal);
}

async function testOnce(
  paths: readonly string[],
  format: TestFormat,
  io: Io,
  runOptions: { parallel: number; caseTimeoutMs?: number },
): Promise<number> {
  const started = performance.now();
  const scope = await scopeOf(paths);
  const { files } = await collectDefinitionFiles(scope.sets);
  const set = validateDefinitions(files);
  if (!set.valid) {
    const findings = formatFindings(set.files, format === "github" ? "github" : "text");
    (format === "junit" ? io.stderr : io.stdout)(findings);
    io.stderr("pflow test: the definitions are not valid; no test ran\n");
    return EXIT.usage;
  }
  const tests = set.tests.filter((test) => scope.selects(test));
  if (tests.length === 0)
    throw new UsageError(`no WorkflowTest documents in ${paths.join(", ")} (kind: WorkflowTest)`);
  // Loaded only here: validating needs none of the engine.
  const { runTests } = await import("./test/run-tests.ts");
  const results = await runTests(set, tests, runOptions);
  io.stdout(formatResults(results, format, performance.now() - started));
  return results.every((r) => r.passed) ? EXIT.ok : EXIT.failed;
}

/** The directories validated as the set, and which tests the PATHs select. */
async function scopeOf(
  paths: readonly string[],
): Promise<{ sets: string[]; selects(test: WorkflowTest): boolean }> {
  const sets = new Set<string>();
  const files = new Set<string>();
  const dirs: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
      throw new DefinitionsNotFound(
        error.code === "ENOENT" ? `${path}: no such file or directory` : `${path}: ${error.message}`,
      );
    });
    if (info.isDirectory()) {
      sets.add(path);
      dirs.push(resolve(path) + sep);
    } else {
      sets.add(dirname(path));
      files.add(resolve(path));
    }
  }
  // A directory inside another given one would be read twice: keep the outer one.
  const outer = [...sets].filter(
    (dir) =>
      ![...sets].some((other) => other !== dir && (resolve(dir) + sep).startsWith(resolve(other) + sep)),
  );
  return {
    sets: outer,
    selects: (test) => {
      const file = resolve(test.file);
      return files.has(file) || dirs.some((dir) => file.startsWith(dir));
    },
  };
}

/** Runs, then again after each change under the PATHs, until the signal (or SIGINT). */
async function watchLoop(
  paths: readonly string[],
  once: () => Promise<number>,
  io: Io,
  signal: AbortSignal | undefined,
): Promise<number> {
  const stop = signal ?? interrupted();
  let code = await runReporting(once, io);
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  const changed = (file: string | null) => {
    if (file !== null && !/\.ya?ml$/.test(file)) return;
    clearTimeout(timer);
    // Editors write a file in several steps: one run for the burst.
    timer = setTimeout(() => {
      running = running.then(async () => {
        io.stdout(`\n— ${file ?? "a file"} changed: running again —\n`);
        code = await runReporting(once, io);
      });
    }, 150);
  };
  // The directories, not the files given: a test runs against the workflows beside it.
  const folders = new Set<string>();
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined) folders.add(info.isDirectory() ? path : dirname(path));
  }
  const watchers = [...folders].map((folder) =>
    watch(folder, { recursive: true, signal: stop }, (_event, file) =>
      changed(file === null ? null : String(file)),
    ),
  );
  io.stdout("watching for changes (Ctrl-C to stop)\n");
  await new Promise<void>((done) => {
    if (stop.aborted) done();
    else stop.addEventListener("abort", () => done(), { once: true });
  });
  clearTimeout(timer);
  for (const watcher of watchers) watcher.close();
  await running;
  return code;
}

/** One run whose usage or definition error is reported, not thrown: watching goes on. */
async function runReporting(once: () => Promise<number>, io: Io): Promise<number> {
  try {
    return await once();
  } catch (error) {
    if (error instanceof UsageError || error instanceof DefinitionsNotFound) {
      io.stderr(`pflow: ${error.message}\n`);
      return EXIT.usage;
    }
    throw error;
  }
}

function interrupted(): AbortSignal {
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  return controller.signal;
}
