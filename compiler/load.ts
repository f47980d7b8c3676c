import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join, relative, resolve, sep } from "node:path";
import type { SourceFile } from "./validate.ts";

/**
 * Finds definition files. A file named on the command line is always validated;
 * in a directory, `*.yaml` and `*.yml` files are found recursively, skipping
 * hidden directories and node_modules, and only files that declare a pflow
 * document (`apiVersion: pflow/…` or `kind: Workflow|Model|WorkflowTest`) are taken, so that
 * `pflow validate .` in a repository ignores CI, compose and Helm YAML.
 */
export class DefinitionsNotFound extends Error {
  override readonly name = "DefinitionsNotFound";
}

export interface CollectedFiles {
  readonly files: readonly SourceFile[];
  /** YAML files found in directories that hold no pflow document. */
  readonly skipped: readonly string[];
}

const YAML_EXTENSIONS = new Set([".yaml", ".yml"]);
const LOOKS_LIKE_PFLOW =
  /^[ \t]*(?:apiVersion:[ \t]*["']?pflow\/|kind:[ \t]*["']?(?:Workflow|Model|WorkflowTest)["']?[ \t]*(?:#.*)?$)/m;

export async function collectDefinitionFiles(paths: readonly string[]): Promise<CollectedFiles> {
  const files: SourceFile[] = [];
  const skipped: string[] = [];
  // A file named twice (defs and ./defs/a.yaml) is validated once.
  const seen = new Set<string>();
  const take = (path: string, text: string) => {
    const key = resolve(path);
    if (seen.has(key)) return;
    seen.add(key);
    files.push({ path: display(path), text });
  };
  for (const path of paths) {
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
      throw new DefinitionsNotFound(
        error.code === "ENOENT" ? `${path}: no such file or directory` : `${path}: ${error.message}`,
      );
    });
    if (info.isDirectory()) {
      const found = await walk(path);
      if (found.length === 0) {
        throw new DefinitionsNotFound(`${path}: no definitions found (looked for *.yaml and *.yml files)`);
      }
      let definitions = 0;
      for (const file of found) {
        const text = await readText(file);
        if (!LOOKS_LIKE_PFLOW.test(text)) {
          skipped.push(display(file));
          continue;
        }
        definitions++;
        take(file, text);
      }
      if (definitions === 0) {
        throw new DefinitionsNotFound(
          `${path}: no definitions found (${found.length} YAML file${found.length === 1 ? "" : "s"}, none with apiVersion: pflow/v1)`,
        );
      }
    } else {
      take(path, await readText(path));
    }
  }
  return { files, skipped };
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: Error) => {
    throw new DefinitionsNotFound(`${dir}: ${error.message}`);
  });
  const found: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith(".") && entry.name !== "node_modules") found.push(...(await walk(path)));
    } else if (entry.isFile() && YAML_EXTENSIONS.has(extname(entry.name))) {
      found.push(path);
    }
  }
  return found;
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new DefinitionsNotFound(`${path}: ${(error as Error).message}`);
  }
}

/** Paths as a person typed them, with forward slashes and no leading ./ */
function display(path: string): string {
  const rel = relative(".", path) || path;
  const shown = rel.startsWith("..") ? path : rel;
  return shown.split(sep).join("/");
}
