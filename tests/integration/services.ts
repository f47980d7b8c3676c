import { execFileSync } from "node:child_process";
import { join } from "node:path";

/**
 * Where the integration suite finds its real servers: the environment
 * (PFLOW_TEST_MONGO_URL, PFLOW_TEST_AMQP_URL), else what scripts/services.sh
 * starts on loopback. Nothing here starts or mocks a server.
 */
export const MONGO_URL = process.env.PFLOW_TEST_MONGO_URL ?? "mongodb://127.0.0.1:27017/";
export const AMQP_URL = process.env.PFLOW_TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";

/** A MongoDB URL on its own database (each test its own, so tests never see each other's data). */
export function mongoUrlFor(database: string): string {
  const url = new URL(MONGO_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/** The script that starts the servers; it also stops and restarts them for the fault tests. */
const SERVICES = join(import.meta.dirname, "../../scripts/services.sh");

/**
 * Restarts the RabbitMQ node started by scripts/services.sh, as a broker
 * restart does: every connection drops, durable queues stay. The whole node,
 * not its application: see restart_rabbitmq in the script. The script reads
 * the same PFLOW_TEST_* settings as this suite, so it restarts the node this
 * suite talks to.
 */
export function restartRabbitMq(): void {
  execFileSync(SERVICES, ["restart-rabbitmq"], { stdio: "ignore" });
}

/** Stops the MongoDB-wire server (FerretDB), to cut the store off. */
export function stopMongo(): void {
  execFileSync(SERVICES, ["stop-mongo"], { stdio: "ignore" });
}

/** Starts it again (the script leaves RabbitMQ as it is). */
export function startMongo(): void {
  execFileSync(SERVICES, ["start"], { stdio: "ignore" });
}
