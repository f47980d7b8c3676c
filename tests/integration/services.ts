import { execFileSync } from "node:child_process";

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

/**
 * Restarts RabbitMQ's application (the node started by scripts/services.sh):
 * every connection drops, as in a broker restart, and durable queues stay.
 */
export function restartRabbitMq(): void {
  const node = process.env.PFLOW_TEST_RABBITMQ_NODE ?? "pflow-test@localhost";
  execFileSync("rabbitmqctl", ["-n", node, "stop_app"], { stdio: "ignore" });
  execFileSync("rabbitmqctl", ["-n", node, "start_app"], { stdio: "ignore" });
}
