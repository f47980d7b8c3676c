// npm runs this after `npm install` and `npm ci` (the `prepare` script): it
// bundles the web console into ui/dist. An install without dev dependencies
// (--omit=dev) has no Vite: it says so and succeeds, leaving the console
// unbuilt (the server then answers /ui with how to build it). Plain JavaScript:
// without dev dependencies the machine's own Node runs it, maybe without type stripping.
import { spawnSync } from "node:child_process";

try {
  import.meta.resolve("vite");
} catch {
  console.log("pflow: dev dependencies omitted; the web console is not built (npm run build:ui builds it)");
  process.exit(0);
}
const build = spawnSync("npm", ["run", "build:ui"], { stdio: "inherit" });
process.exit(build.status ?? 1);
