import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

/**
 * The console's budget: at most 300 KB of gzipped JavaScript for the first
 * page, i.e. the entry chunk of ui/dist and every chunk it imports statically
 * (pages loaded on first use are not counted). `npm run build:ui` runs this
 * after the build and fails over budget; tests/ui measures the same from the
 * browser's side.
 */
export const BUDGET_BYTES = 300 * 1024;

interface ManifestChunk {
  readonly file: string;
  readonly isEntry?: boolean;
  readonly imports?: readonly string[];
}

export function firstPageJs(dist: string): { files: string[]; gzipBytes: number } {
  const manifest = JSON.parse(readFileSync(`${dist}/.vite/manifest.json`, "utf8")) as Record<
    string,
    ManifestChunk
  >;
  const files = new Set<string>();
  const visit = (key: string) => {
    const chunk = manifest[key];
    if (!chunk || files.has(chunk.file)) return;
    files.add(chunk.file);
    for (const imported of chunk.imports ?? []) visit(imported);
  };
  for (const [key, chunk] of Object.entries(manifest)) if (chunk.isEntry) visit(key);
  const gzipBytes = [...files].reduce(
    (sum, file) => sum + gzipSync(readFileSync(`${dist}/${file}`)).length,
    0,
  );
  return { files: [...files], gzipBytes };
}

if (import.meta.main) {
  const dist = new URL("dist", import.meta.url).pathname;
  const { files, gzipBytes } = firstPageJs(dist);
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  console.log(
    `console: first page JavaScript ${kb(gzipBytes)} gzipped (${files.join(", ")}); budget ${kb(BUDGET_BYTES)}`,
  );
  if (gzipBytes > BUDGET_BYTES) {
    console.error(`console: over budget by ${kb(gzipBytes - BUDGET_BYTES)}`);
    process.exitCode = 1;
  }
}
