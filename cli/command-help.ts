import { readFileSync } from "node:fs";
import { join } from "node:path";

/** `pflow COMMAND --help`: each command's usage, options and exit codes. */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  validate: `Usage: pflow validate [PATH…] [--format text|github|json] [--no-resolve]

Validates definition files and directories (recursively, *.yaml/*.yml; default
$PFLOW_DEFINITIONS, else ./definitions if it exists, else .) as one set: YAML,
schema, expressions, the graph, references across files.

  --format text     one line per finding (file:line:col: severity code: message),
                    then a summary line (default)
  --format github   GitHub Actions annotations
  --format json     the report of POST /v1/validate
  --no-resolve      skip the checks across files (models, sub-workflows)

Exit: 0 valid, 1 invalid, 2 usage or I/O error. Codes: docs/language.md.
`,
  test: `Usage: pflow test [PATH…] [--format text|junit|github] [--watch] [--timeout D] [--parallel N]

Runs the cases of the WorkflowTest documents in the PATHs (default as validate)
in this process, on a throwaway embedded store, with the mocks they give; no case
reaches the network. docs/testing.md.

  --format text     one line per case, the differences, a summary line (default)
  --format junit    JUnit XML, for CI test reports
  --format github   annotations at the line of each failing case
  --watch           run again when a file changes
  --timeout D       each case's time limit (30s, 2m)
  --parallel N      cases at once (default 8)

Exit: 0 all passed, 1 any failed, 2 usage or definition error.
`,
  graph: `Usage: pflow graph FILE [--format mermaid|dot] [--workflow NAME]

Prints the DAG of a workflow of FILE (the first, or --workflow NAME) as Mermaid
(default) or Graphviz DOT.

Exit: 0, or 2 if the file is invalid or the workflow is not in it.
`,
  run: `Usage: pflow run NAME [--input JSON | --input-file FILE] [--definitions DIR]

Runs workflow NAME in this process, on the configured store (the embedded SQLite
file .pflow/pflow.db by default), and prints the finished run as JSON. DIR's
definitions are registered first (each new version is said on stderr; unchanged
content registers none); NAME may also be one the store holds from before.

Exit: 0 succeeded, 1 failed or timed out, 2 usage or definition error (an input
the workflow's inputs schema refuses included).
`,
  serve: `Usage: pflow serve [--definitions DIR] [--port N] [--host H] [--no-workers]

The HTTP API (and the web console at /ui) with workers, in one process; default
127.0.0.1:8080. Without PFLOW_API_KEYS it listens on loopback only.
--no-workers: an API tier scaled apart from \`pflow worker\` processes.
Stops gracefully on SIGTERM/SIGINT, or when the process that started it exits.

Exit: 0 after a graceful stop, 2 usage or configuration error.
`,
  worker: `Usage: pflow worker [--definitions DIR] [--port N] [--host H]

Workers only, until SIGTERM/SIGINT (or until the process that started it exits);
resumes unfinished runs. With --port (or PFLOW_WORKER_PORT) it serves /healthz,
/readyz and /metrics there.

Exit: 0 after a graceful stop, 2 usage or configuration error.
`,
  runs: `Usage: pflow runs list [--workflow NAME] [--status S] [--limit N] [--cursor C] [--format text|json]
       pflow runs get RUN_ID
       pflow runs cancel RUN_ID
       pflow runs retry RUN_ID
       pflow runs watch RUN_ID
       (each with [--server URL])

Runs on a pflow server: --server URL, else $PFLOW_URL, else http://127.0.0.1:8080;
the API key from $PFLOW_API_KEY. list prints a table (newest first), get the run
as JSON, cancel and retry the run's new status. watch draws the run's nodes and
their statuses live until the run ends (one line per change when the output is
not a terminal).

Exit (list, get, cancel, retry): 0 done, 1 the server refused (its message is
printed) or could not be reached, 2 usage.
Exit (watch): the run's end: 0 succeeded, 1 failed, 3 cancelled, 4 timed out;
2 usage; 5 the server refused (an unknown run, say) or could not be reached.
`,
  apply: `Usage: pflow apply [DIR] [--server URL] [--dry-run] [--exact]

Registers the Workflow and Model documents of DIR (default: $PFLOW_DEFINITIONS,
else ./definitions; never the bundled examples) on a server (--server URL, else $PFLOW_URL, else
http://127.0.0.1:8080; key $PFLOW_API_KEY with the definitions:write scope), and
prints what changed: a new version, or unchanged. DIR is validated whole first,
with what the server holds; if anything is invalid, nothing is registered.
Definitions on the server but not in DIR are listed and left as they are.

  --dry-run   say what would change; register nothing
  --exact     fail, registering nothing, if the server holds definitions DIR lacks

Exit: 0 applied, 1 invalid definitions, a refusal, or an unreachable server, 2 usage.
`,
};

export function version(): string {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "package.json"), "utf8")) as {
    version: string;
  };
  return `pflow ${pkg.version} (Node.js ${process.version})\n`;
}
