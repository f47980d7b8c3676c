import { connect as tcpConnect } from "node:net";
import { AMQP_URL, MONGO_ATOMIC_URL, MONGO_URL } from "./services.ts";

/**
 * The integration suite runs against real servers and fails, never skips, when
 * one is missing: a suite that passes because it tested nothing is worse than
 * a red build. Start them with `scripts/services.sh` (CI does).
 */
export default async function checkServices(): Promise<void> {
  const missing: string[] = [];
  for (const [what, url] of [
    ["MongoDB-wire server FerretDB (PFLOW_TEST_MONGO_URL)", MONGO_URL],
    ["atomic MongoDB-wire server mongo-java-server (PFLOW_TEST_MONGO_ATOMIC_URL)", MONGO_ATOMIC_URL],
    ["RabbitMQ (PFLOW_TEST_AMQP_URL)", AMQP_URL],
  ] as const) {
    if (!(await reachable(url))) missing.push(`${what} at ${redacted(url)}`);
  }
  if (missing.length > 0) {
    throw new Error(
      `the integration suite needs real servers, and these do not answer: ${missing.join("; ")}. ` +
        "Start them with scripts/services.sh, or point the variables at running ones.",
    );
  }
}

function reachable(url: string): Promise<boolean> {
  const { hostname, port, protocol } = new URL(url);
  const defaultPort = protocol.startsWith("amqp") ? 5672 : 27017;
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: hostname, port: Number(port || defaultPort), timeout: 3000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function redacted(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}
