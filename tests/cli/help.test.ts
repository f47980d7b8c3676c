import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COMMAND_HELP } from "../../cli/command-help.ts";
import { pflow } from "../helpers/cli.ts";

// `pflow COMMAND --help` for every command main.ts dispatches, and `pflow --version`.

const ROOT = join(import.meta.dirname, "../..");
const NOT_COMMANDS = new Set(["help", "-h", "--help", "version", "--version", "-V"]);
const commands = [...readFileSync(join(ROOT, "cli/main.ts"), "utf8").matchAll(/case "([^"]+)":/g)]
  .map((m) => m[1] as string)
  .filter((name) => !NOT_COMMANDS.has(name));

describe("pflow COMMAND --help", () => {
  it("finds the commands", () => {
    expect(commands).toEqual(expect.arrayContaining(["validate", "run", "serve", "worker", "runs", "apply"]));
  });

  for (const command of commands) {
    it(`${command} --help and -h print its usage and exit 0`, async () => {
      const long = await pflow(command, "--help");
      expect(long.code).toBe(0);
      // From COMMAND_HELP, or from a command that prints its own usage.
      expect(long.stdout).toContain(`pflow ${command}`);
      expect(await pflow(command, "-h")).toEqual(long);
      const help = COMMAND_HELP[command];
      if (help !== undefined) {
        expect(long.stdout).toBe(help);
        expect(help).toMatch(new RegExp(`^Usage: pflow ${command}\\b`));
        expect(help).toMatch(/Exit/);
      }
    });
  }

  it("works after other arguments too, doing nothing else", async () => {
    expect((await pflow("runs", "watch", "some-id", "--help")).stdout).toBe(COMMAND_HELP.runs);
  });
});

describe("pflow --version", () => {
  it("prints the package's version and the Node.js running it", async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V", "version"])
      expect(await pflow(flag)).toEqual({
        code: 0,
        stdout: `pflow ${pkg.version} (Node.js ${process.version})\n`,
        stderr: "",
      });
  });
});
