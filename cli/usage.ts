/** A mistake in how pflow was called, or a path it cannot read: exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export const HELP = `pflow: declarative AI workflows

Usage:
  pflow validate [PATH…] [--format text|github|json] [--no-resolve]
      Validate definition files and directories (recursively, *.yaml/*.yml;
      default $PFLOW_DEFINITIONS, else ./definitions if it exists, else .)
      as one set. Exit 0 valid, 1 invalid, 2 usage or I/O error.
  pflow test [PATH…] [--format text|junit|github] [--watch] [--timeout D] [--parallel N]
      Run the cases of the WorkflowTest documents in the PATHs (default as
      validate), in this process, mocked, never reaching the network.
      Exit 0 all passed, 1 any failed, 2 usage or definition error.
  pflow graph FILE [--format mermaid|dot] [--workflow NAME]
      Print the DAG of a workflow. Exit 0, or 2 if the file is invalid.
  pflow run NAME [--input JSON | --input-file FILE] [--definitions DIR]
      Run a workflow in this process and print the finished run as JSON.
      Exit 0 succeeded, 1 failed or timed out, 2 usage or definition error.
  pflow serve [--definitions DIR] [--port N] [--host H] [--no-workers]
      The HTTP API and workers in one process (default 127.0.0.1:8080);
      --no-workers for an API tier scaled apart from the workers.
  pflow worker [--definitions DIR] [--port N] [--host H]
      Workers only, until SIGTERM/SIGINT; resumes unfinished runs. With
      --port, serves /healthz, /readyz and /metrics (for probes) there.
  pflow runs list|get|cancel|retry|watch [RUN_ID] [--server URL]
      Runs on a server ($PFLOW_URL, key $PFLOW_API_KEY); watch follows a run
      live and exits with its code (0 succeeded, 1 failed, 3 cancelled, 4 timed out).
  pflow apply [DIR] [--server URL] [--dry-run] [--exact]
      Register DIR's definitions on a server, all or none; say what changed.

--definitions defaults to $PFLOW_DEFINITIONS, else ./definitions if it exists,
else the bundled examples/. The store is $PFLOW_STORE_URL (default
sqlite:./.pflow/pflow.db), the broker $PFLOW_BROKER_URL (default memory:);
production is mongodb://… and amqp://… (docs/operations.md lists every setting).

Options:
  -h, --help     show this help (pflow COMMAND --help: that command's)
  -V, --version  show the version
`;
