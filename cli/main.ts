import { DefinitionsNotFound } from "../compiler/index.ts";
import { ConfigurationError, UnreachableError } from "../engine/create.ts";
import { applyCommand } from "./apply-command.ts";
import { COMMAND_HELP, version } from "./command-help.ts";
import { graphCommand } from "./graph-command.ts";
import { runCommand } from "./run-command.ts";
import { runsCommand } from "./runs-command.ts";
import { serveCommand } from "./serve-command.ts";
import { EXIT, HELP, UsageError } from "./usage.ts";
import { validateCommand } from "./validate-command.ts";
import { workerCommand } from "./worker-command.ts";

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stdout is a terminal (live views redraw in place), and its width. */
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Runs one pflow command and returns its exit code; never calls process.exit. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...args] = argv;
  try {
    const help = command === undefined ? undefined : COMMAND_HELP[command];
    if (help !== undefined && (args.includes("--help") || args.includes("-h"))) {
      io.stdout(help);
      return EXIT.ok;
    }
    switch (command) {
      case "validate":
        return await validateCommand(args, io.stdout);
      case "graph":
        return await graphCommand(args, io.stdout, io.stderr);
      case "run":
        return await runCommand(args, io.stdout, io.stderr);
      case "worker":
        return await workerCommand(args);
      case "serve":
        return await serveCommand(args);
      case "runs":
        return await runsCommand(args, io);
      case "apply":
        return await applyCommand(args, io.stdout, io.stderr);
      case "version":
      case "--version":
      case "-V":
        io.stdout(version());
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
    if (error instanceof UnreachableError) {
      io.stderr(`pflow: ${error.message}\n`);
      return EXIT.failed;
    }
    if (
      error instanceof UsageError ||
      error instanceof DefinitionsNotFound ||
      error instanceof ConfigurationError ||
      isParseArgsError(error)
    ) {
      io.stderr(`pflow: ${(error as Error).message}\n`);
      if (error instanceof UsageError || isParseArgsError(error)) io.stderr("Run pflow --help for usage.\n");
      return EXIT.usage;
    }
    throw error;
  }
}

function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}
