#!/usr/bin/env node
// Plain JavaScript on purpose: on an older Node this still runs and says what is
// wrong, instead of failing to load TypeScript. Node 24 runs the .ts files as they are.
const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  process.stderr.write(
    `pflow needs Node.js 24 or later (this is ${process.version}); run it with npx pflow or npm scripts from the project, which use the Node 24 in node_modules.\n`,
  );
  process.exit(2);
}
// Node's compile cache (in the OS temp directory, or NODE_COMPILE_CACHE): later
// start-ups reuse the compiled code of every module instead of compiling it again.
const { enableCompileCache } = await import("node:module");
enableCompileCache?.();
const { main } = await import("./main.ts");
process.exitCode = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTTY: process.stdout.isTTY === true,
  columns: process.stdout.columns,
});
