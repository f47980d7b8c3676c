import { parseArgs } from "node:util";
import { ApiClient, ApiError, ServerUnreachable, serverSettings } from "./api-client.ts";
import { EXIT, UsageError } from "./usage.ts";
import { watchRun } from "./watch-command.ts";

/**
 * `pflow runs list|get|cancel|retry|watch` against a server (--server URL or
 * PFLOW_URL, key PFLOW_API_KEY): the runs API of docs/api.md from a terminal.
 * Exit 0 done, 1 the server refused (its problem's detail is printed) or could
 * not be reached, 2 usage; `watch` exits with the run's own code (RUN_EXIT).
 */
export interface RunsIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

const SUBCOMMANDS = ["list", "get", "cancel", "retry", "watch"] as const;
const RUN_STATUSES = ["pending", "running", "succeeded", "failed", "cancelled", "timed_out"];

export async function runsCommand(args: string[], io: RunsIo): Promise<number> {
  const [sub, ...rest] = args;
  if (!SUBCOMMANDS.includes(sub as (typeof SUBCOMMANDS)[number]))
    throw new UsageError(
      sub === undefined
        ? "pflow runs takes a subcommand: list, get, cancel, retry or watch"
        : `unknown subcommand "runs ${sub}" (there are: ${SUBCOMMANDS.join(", ")})`,
    );
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      server: { type: "string" },
      format: { type: "string" },
      workflow: { type: "string" },
      status: { type: "string" },
      limit: { type: "string" },
      cursor: { type: "string" },
    },
  });
  const client = new ApiClient(serverSettings(values.server));
  if (sub === "list") {
    if (positionals.length > 0)
      throw new UsageError("pflow runs list takes no RUN_ID; filter with --workflow, --status");
    return guarded(io, () => listRuns(client, values, io));
  }
  if (positionals.length !== 1) throw new UsageError(`pflow runs ${sub} takes one RUN_ID`);
  const id = positionals[0] as string;
  if (sub === "watch") return watchRun(client, id, io);
  return guarded(io, async () => {
    if (sub === "get") {
      const { body } = await client.request("GET", `/v1/runs/${encodeURIComponent(id)}`);
      io.stdout(`${JSON.stringify(body, null, 2)}\n`);
      return EXIT.ok;
    }
    const { body } = await client.request<{ id: string; status: string }>(
      "POST",
      `/v1/runs/${encodeURIComponent(id)}/${sub}`,
    );
    io.stdout(`run ${body.id}: ${body.status}\n`);
    return EXIT.ok;
  });
}

async function listRuns(
  client: ApiClient,
  values: { format?: string; workflow?: string; status?: string; limit?: string; cursor?: string },
  io: RunsIo,
): Promise<number> {
  const format = values.format ?? "text";
  if (format !== "text" && format !== "json")
    throw new UsageError(`--format must be text or json, not "${format}"`);
  if (values.status !== undefined && !RUN_STATUSES.includes(values.status))
    throw new UsageError(`--status must be one of ${RUN_STATUSES.join(", ")}, not "${values.status}"`);
  if (values.limit !== undefined && !/^(100|[1-9][0-9]?)$/.test(values.limit))
    throw new UsageError(`--limit must be a whole number from 1 to 100, not "${values.limit}"`);
  const query = new URLSearchParams();
  for (const key of ["workflow", "status", "limit", "cursor"] as const) {
    const value = values[key];
    if (value !== undefined) query.set(key, value);
  }
  const { body } = await client.request<{ items: RunSummary[]; next: string | null }>(
    "GET",
    `/v1/runs${query.size > 0 ? `?${query}` : ""}`,
  );
  if (format === "json") {
    io.stdout(`${JSON.stringify(body, null, 2)}\n`);
    return EXIT.ok;
  }
  io.stdout(runsTable(body.items));
  if (body.next !== null) io.stdout(`more: pflow runs list${more(values)} --cursor ${body.next}\n`);
  return EXIT.ok;
}

interface RunSummary {
  id: string;
  workflow: { name: string; version: number };
  status: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error: { code: string; message: string } | null;
}

export function runsTable(items: readonly RunSummary[]): string {
  if (items.length === 0) return "no runs\n";
  const rows = items.map((run) => [
    run.id,
    `${run.workflow.name}@${run.workflow.version}`,
    run.status,
    run.createdAt.replace("T", " ").replace(/\.\d+Z$/, "Z"),
    duration(run),
  ]);
  const header = ["ID", "WORKFLOW", "STATUS", "CREATED", "DURATION"];
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] as string).length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] as number))
      .join("  ")
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}

function duration(run: RunSummary): string {
  if (run.startedAt === null) return "";
  const end = run.finishedAt === null ? Date.now() : Date.parse(run.finishedAt);
  const ms = end - Date.parse(run.startedAt);
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s${run.finishedAt === null ? "…" : ""}`;
}

function more(values: { workflow?: string; status?: string; limit?: string }): string {
  return ["workflow", "status", "limit"]
    .filter((key) => values[key as keyof typeof values] !== undefined)
    .map((key) => ` --${key} ${values[key as keyof typeof values]}`)
    .join("");
}

/** A refusal or an unreachable server as its message on stderr and exit 1. */
async function guarded(io: RunsIo, work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ApiError || error instanceof ServerUnreachable) {
      io.stderr(`pflow: ${error.message}\n`);
      return EXIT.failed;
    }
    throw error;
  }
}
