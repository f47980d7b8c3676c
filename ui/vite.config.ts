import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/**
 * The web console: a Preact single-page app, bundled into ui/dist and served
 * by `pflow serve` at /ui (server/routes/console.ts). `npm run build:ui` builds
 * it (npm install and npm ci run that as `prepare`); ui/budget.ts then checks
 * the first page's JavaScript against its budget.
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/ui/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    manifest: true,
    target: "es2022",
    // Everything is served by the pflow server itself: no CDN, works offline.
    assetsInlineLimit: 0,
  },
});
