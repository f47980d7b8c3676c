import { DefinitionsNotFound } from "../compiler/load.ts";
import { EXIT, HELP, UsageError } from "./usage.ts";

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stdout is a terminal (live views redraw in place), and its width. */
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/**
 * Runs one pflow command and returns its exit code; never calls process.exit.
 * Each command's module is imported when it runs, not before: `pflow validate`
 * in CI loads the compiler, never the engine, the server or their drivers.
 */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (command !== undefined && (args.includes("--help") || args.includes("-h"))) {
      const help = (await import("./command-help.ts")).COMMAND_HELP[command];
      if (help !== undefined) {
        io.stdout(help);
        return EXIT.ok;
      }
    }
    switch (command) {
      case "validate":
        return await (await import("./validate-command.ts")).validateCommand(args, io.stdout);
      case "test":
        return await (await import("./test-command.ts")).testCommand(args, io);
      case "graph":
        return await (await import("./graph-command.ts")).graphCommand(args, io.stdout, io.stderr);
      case "run":
        return await (await import("./run-command.ts")).runCommand(args, io.stdout, io.stderr);
      case "worker":
        return await (await import("./worker-command.ts")).workerCommand(args);
      case "serve":
        return await (await import("./serve-command.ts")).serveCommand(args);
      case "runs":
        return await (await import("./runs-command.ts")).runsCommand(args, io);
      case "apply":
        return await (await import("./apply-command.ts")).applyCommand(args, io.stdout, io.stderr);
      case "version":
      case "--version":
      case "-V":
        io.stdout((await import("./command-help.ts")).version());
        return EXIT.ok;
      case undefined:
      case "help":
      case "-h":
      case "--help":
        io.stdout(HELP);
        return command === undefined ? EXIT.usage : EXIT.ok;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof DefinitionsNotFound || isParseArgsError(error)) {
      io.stderr(`pflow: ${(error as Error).message}\n`);
      if (error instanceof UsageError || isParseArgsError(error)) io.stderr("Run pflow --help for usage.\n");
      return EXIT.usage;
    }
    // The engine's errors can only come from a command that loaded the engine already.
    const { ConfigurationError, UnreachableError } = await import("../engine/create.ts");
    if (error instanceof UnreachableError) {
      io.stderr(`pflow: ${error.message}\n`);
      return EXIT.failed;
    }
    if (error instanceof ConfigurationError) {
      io.stderr(`pflow: ${error.message}\n`);
      return EXIT.usage;
    }
    throw error;
  }
}

function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}
