import { createServer } from "node:net";

/**
 * A port free on loopback right now, from the OS (port 0), for a child
 * process to listen on. A random pick from a range could hit a port in use:
 * RabbitMQ's distribution port (25672), another test's server.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
