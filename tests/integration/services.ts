import { execFileSync } from "node:child_process";
import { join } from "node:path";

/**
 * Where the integration suite finds its real servers: the environment
 * (PFLOW_TEST_MONGO_URL, PFLOW_TEST_MONGO_ATOMIC_URL, PFLOW_TEST_AMQP_URL), else
 * what scripts/services.sh starts on loopback. Nothing here starts or mocks a server.
 */
export const MONGO_URL = process.env.PFLOW_TEST_MONGO_URL ?? "mongodb://127.0.0.1:27017/";
export const MONGO_ATOMIC_URL = process.env.PFLOW_TEST_MONGO_ATOMIC_URL ?? "mongodb://127.0.0.1:27018/";
export const AMQP_URL = process.env.PFLOW_TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";

/** A MongoDB URL on its own database (each test its own, so tests never see each other's data). */
export function mongoUrlFor(database: string, server: string = MONGO_URL): string {
  const url = new URL(server);
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

/**
 * A MongoDB-wire server of the suite, and the mode the store takes on it
 * (server-traits.ts): FerretDB 1.x, whose updates are not atomic, gets the
 * locked mode; mongo-java-server, atomic per collection as MongoDB is per
 * document, the atomic mode production runs. The MongoDB tests run on both.
 */
export interface MongoServer {
  readonly name: string;
  readonly url: string;
  readonly mode: "locked" | "atomic";
  /** Stops it, to cut the store off (its data stays: FerretDB's SQLite, mongo-java-server's H2 file). */
  stop(): void;
}

export const MONGO_SERVERS: readonly MongoServer[] = [
  { name: "FerretDB", url: MONGO_URL, mode: "locked", stop: () => services("stop-mongo") },
  {
    name: "mongo-java-server",
    url: MONGO_ATOMIC_URL,
    mode: "atomic",
    stop: () => services("stop-mongo-atomic"),
  },
];

/** Starts whatever of the servers is stopped again (what runs is left as it is). */
export function startMongo(): void {
  services("start");
}

function services(command: string): void {
  execFileSync(SERVICES, [command], { stdio: "ignore" });
}
