import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

/**
 * Compresses the built console once, at build time: a `.br` and a `.gz` next
 * to each script, stylesheet and page in ui/dist, which the server sends to
 * browsers that accept them (@fastify/static's preCompressed) instead of
 * compressing on every request.
 */
export function compressDist(dist: string): number {
  let files = 0;
  for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
    if (
      !entry.isFile() ||
      !/\.(js|css|html|svg|json)$/.test(entry.name) ||
      entry.parentPath.includes(".vite")
    )
      continue;
    const path = join(entry.parentPath, entry.name);
    const body = readFileSync(path);
    writeFileSync(`${path}.gz`, gzipSync(body, { level: 9 }));
    writeFileSync(
      `${path}.br`,
      brotliCompressSync(body, {
        params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY },
      }),
    );
    files++;
  }
  return files;
}

if (import.meta.main) {
  const files = compressDist(new URL("dist", import.meta.url).pathname);
  console.log(`console: ${files} files compressed (.br, .gz)`);
}
