import { parseArgs } from "node:util";
import {
  collectDefinitionFiles,
  type DefinitionSet,
  type SourceFile,
  validateDefinitions,
} from "../compiler/index.ts";
import { ApiClient, ApiError, ServerUnreachable, serverSettings } from "./api-client.ts";
import { DEFAULT_DEFINITIONS_DIR } from "./definitions-dir.ts";
import { formatFindings } from "./findings-format.ts";
import { EXIT, UsageError } from "./usage.ts";

/**
 * `pflow apply [DIR]`: registers the committed definitions of DIR on a server
 * (CI after a merge), and says what changed. All or nothing as far as a
 * client can make it: DIR is validated whole, together with what the server
 * holds that DIR does not (so references resolve as they will there), before
 * anything is registered; one invalid file and nothing is. Definitions on the
 * server but not in DIR are reported and left alone: the API removes nothing
 * (runs pin versions), and --exact makes their presence an error instead
 * (docs/decisions.md). A Model document whose committed content is an older
 * version of the server's (an alias moved or a canary rolled back through the
 * API since) is not registered back over it: it is reported.
 */
type Kind = "Workflow" | "Model";

interface Remote {
  readonly latest: number;
  /** Hash of each version, oldest first. */
  readonly hashes: readonly string[];
  readonly source: string;
}

interface Change {
  readonly kind: Kind;
  readonly name: string;
  readonly source: string;
  readonly action: "new" | "changed" | "unchanged" | "behind";
  readonly remote?: Remote;
}

const PATH = { Workflow: "workflows", Model: "models" } as const;

export async function applyCommand(
  args: string[],
  stdout: (text: string) => void,
  stderr: (text: string) => void,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      server: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      exact: { type: "boolean", default: false },
    },
  });
  if (positionals.length > 1) throw new UsageError("pflow apply takes one DIR");
  // The committed definitions folder, never the bundled examples that serve falls back to: a
  // production server must not get the tutorial set because a checkout lacked the folder.
  const dir = positionals[0] ?? (process.env.PFLOW_DEFINITIONS || DEFAULT_DEFINITIONS_DIR);
  const client = new ApiClient(serverSettings(values.server));
  const { files } = await collectDefinitionFiles([dir]);
  try {
    const remote = await remoteDefinitions(client);
    const local = validateDefinitions(files, { resolve: false });
    const localNames = new Set(
      local.files.flatMap((file) => file.documents.map((d) => `${d.kind}/${d.name}`)),
    );
    const absent = [...remote.keys()].filter((key) => !localNames.has(key));
    // Validated with the server's definitions that DIR lacks, as the server will resolve references.
    const set = validateDefinitions([...files, ...(await sourcesOf(client, absent))]);
    const ours = new Set(files.map((file) => file.path));
    const reports = set.files.filter((file) => ours.has(file.path));
    if (!reports.every((file) => file.valid)) {
      stderr(formatFindings(reports, "text"));
      stderr(`pflow: the definitions in ${dir} are not valid: nothing was registered\n`);
      return EXIT.failed;
    }
    const changes = await plan(client, set, remote, localNames);
    const extra = absent.map((key) => key.replace("/", " ").replace(/^(\w+)/, (kind) => kind.toLowerCase()));
    if (values.exact && extra.length > 0) {
      stderr(
        `pflow: the server has definitions that ${dir} does not (${extra.join(", ")}); with --exact nothing was registered\n`,
      );
      return EXIT.failed;
    }
    let registered = 0;
    for (const change of changes) {
      const label = `${change.kind.toLowerCase()} ${change.name}`;
      if (change.action === "unchanged") {
        stdout(`${label}: unchanged (version ${change.remote?.latest})\n`);
        continue;
      }
      if (change.action === "behind") {
        const at = (change.remote?.hashes.indexOf(hashOf(set, change)) ?? -1) + 1;
        stdout(
          `${label}: not registered: the committed document is version ${at}, and the server has moved on to version ${change.remote?.latest} (an alias moved or a canary rolled back; GET /v1/models/${change.name}/history says why); commit the server's document to keep it, or change the committed one\n`,
        );
        continue;
      }
      if (values["dry-run"]) {
        stdout(`${label}: would register a ${change.action === "new" ? "first" : "new"} version\n`);
        continue;
      }
      try {
        const { body } = await client.request<{ version: number; created: boolean }>(
          "PUT",
          `/v1/${PATH[change.kind]}/${encodeURIComponent(change.name)}`,
          { yaml: change.source },
        );
        registered++;
        stdout(
          body.created
            ? `${label}: version ${body.version} (${change.action === "new" ? "new" : "changed"})\n`
            : `${label}: unchanged (version ${body.version})\n`,
        );
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        stderr(
          `pflow: ${label} was refused: ${error.message}${registered > 0 ? ` (the ${registered} before it were registered)` : ""}\n`,
        );
        for (const finding of error.errors) stderr(`  ${JSON.stringify(finding)}\n`);
        return EXIT.failed;
      }
    }
    if (extra.length > 0)
      stdout(
        `on the server, not in ${dir} (left as they are; pflow apply removes nothing): ${extra.join(", ")}\n`,
      );
    stdout(`${summary(changes, values["dry-run"])}\n`);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof ApiError || error instanceof ServerUnreachable) {
      stderr(`pflow: ${error.message}\n`);
      return EXIT.failed;
    }
    throw error;
  }
}

/** What the server holds: every workflow and model by `Kind/name`, with its versions' hashes. */
async function remoteDefinitions(client: ApiClient): Promise<Map<string, { kind: Kind; name: string }>> {
  const out = new Map<string, { kind: Kind; name: string }>();
  for (const kind of ["Model", "Workflow"] as const) {
    const { body } = await client.request<{ items: { name: string }[] }>("GET", `/v1/${PATH[kind]}`);
    for (const item of body.items) out.set(`${kind}/${item.name}`, { kind, name: item.name });
  }
  return out;
}

async function remote(client: ApiClient, kind: Kind, name: string): Promise<Remote> {
  const { body } = await client.request<{
    latest: number;
    definition: string;
    versions?: { version: number; hash: string }[];
    history?: { version: number; hash: string }[];
  }>("GET", `/v1/${PATH[kind]}/${encodeURIComponent(name)}`);
  // A workflow lists its versions as `versions`; a model as `history` (its `versions` are the model's own).
  const versions = (kind === "Model" ? body.history : body.versions) ?? [];
  return { latest: body.latest, hashes: versions.map((v) => v.hash), source: body.definition };
}

/** The YAML of the server's definitions DIR does not have, as files to validate with DIR's. */
async function sourcesOf(client: ApiClient, keys: readonly string[]): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  for (const key of keys) {
    const [kind, name] = key.split("/") as [Kind, string];
    files.push({
      path: `${PATH[kind]}/${name} (on the server)`,
      text: (await remote(client, kind, name)).source,
    });
  }
  return files;
}

function hashOf(set: DefinitionSet, change: { kind: Kind; name: string }): string {
  return (
    (change.kind === "Model" ? set.models.get(change.name)?.hash : set.workflows.get(change.name)?.hash) ?? ""
  );
}

/**
 * DIR's definitions in the order to register them: models, then workflows
 * with the sub-workflows they call before them, each with what it changes.
 */
async function plan(
  client: ApiClient,
  set: DefinitionSet,
  onServer: ReadonlyMap<string, unknown>,
  localNames: ReadonlySet<string>,
): Promise<Change[]> {
  const ordered: { kind: Kind; name: string }[] = [...set.models.keys()]
    .sort()
    .map((name) => ({ kind: "Model", name }));
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (name: string) => {
    if (done.has(name) || visiting.has(name)) return;
    visiting.add(name);
    for (const ref of set.workflows.get(name)?.workflows ?? []) visit(ref.split("@")[0] as string);
    done.add(name);
    if (set.workflows.has(name)) ordered.push({ kind: "Workflow", name });
  };
  for (const name of [...set.workflows.keys()].sort()) visit(name);

  const changes: Change[] = [];
  for (const { kind, name } of ordered) {
    if (!localNames.has(`${kind}/${name}`)) continue;
    const source = set.sources.get(`${kind}/${name}`) ?? "";
    if (!onServer.has(`${kind}/${name}`)) {
      changes.push({ kind, name, source, action: "new" });
      continue;
    }
    const server = await remote(client, kind, name);
    const hash = hashOf(set, { kind, name });
    const action =
      server.hashes.at(-1) === hash
        ? "unchanged"
        : kind === "Model" && server.hashes.includes(hash)
          ? "behind"
          : "changed";
    changes.push({ kind, name, source, action, remote: server });
  }
  return changes;
}

function summary(changes: readonly Change[], dryRun: boolean): string {
  const count = (action: Change["action"]) => changes.filter((c) => c.action === action).length;
  const parts = [`${count("new")} new`, `${count("changed")} changed`, `${count("unchanged")} unchanged`];
  if (count("behind") > 0) parts.push(`${count("behind")} behind the server`);
  const total = `${changes.length} definition${changes.length === 1 ? "" : "s"}`;
  return `${total}: ${parts.join(", ")}${dryRun ? " (dry run: nothing registered)" : ""}`;
}
