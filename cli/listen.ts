import { UsageError } from "./usage.ts";

/** Where a process listens: --host over PFLOW_HOST over loopback, --port over `portVariable`. */
export function listenAddress(
  flags: { host?: string | undefined; port?: string | undefined },
  portVariable: string,
  defaultPort: number | null,
): { host: string; port: number } | null {
  const host = flags.host ?? process.env.PFLOW_HOST ?? "127.0.0.1";
  const text = flags.port ?? process.env[portVariable];
  if (text === undefined || text === "") return defaultPort === null ? null : { host, port: defaultPort };
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be a port number, not "${text}"`);
  return { host, port };
}
