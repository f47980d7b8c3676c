import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import { MongoClient } from "mongodb";
import { MongoStore } from "../../engine/store/mongo/mongo-store.ts";
import { freePort } from "../helpers/ports.ts";
import { AMQP_URL, MONGO_URL, mongoUrlFor } from "./services.ts";

/**
 * The production topology in miniature, for fault tests: real `pflow serve`
 * and `pflow worker` processes (the real bin) on a database and queues of
 * their own, against the real servers. Short leases and sweeps, so recovery
 * takes seconds, not minutes.
 */
const BIN = join(import.meta.dirname, "../../cli/pflow.js");
const NODE = process.execPath;

export interface Process {
  readonly child: ChildProcess;
  readonly name: string;
  /** What it has written to stderr (its logs), for failure messages. */
  readonly log: string[];
  readonly exited: Promise<number | null>;
}

export class Cluster {
  readonly dir: string;
  readonly database: string;
  readonly prefix: string;
  readonly env: NodeJS.ProcessEnv;
  readonly store: MongoStore;
  /** The MongoDB-wire server it keeps state on (services.ts: FerretDB unless told). */
  readonly mongo: string;
  readonly #processes = new Set<Process>();
  #api: { base: string; process: Process } | null = null;

  private constructor(definitions: string, env: NodeJS.ProcessEnv, mongo: string) {
    this.mongo = mongo;
    this.dir = mkdtempSync(join(tmpdir(), "pflow-cluster-"));
    mkdirSync(join(this.dir, "defs"));
    writeFileSync(join(this.dir, "defs", "workflows.yaml"), definitions);
    const id = randomUUID().replaceAll("-", "").slice(0, 12);
    this.database = `pflow_fault_${id}`;
    this.prefix = `pflow-fault-${id}`;
    this.env = {
      ...process.env,
      PFLOW_STORE_URL: mongoUrlFor(this.database, mongo),
      PFLOW_BROKER_URL: AMQP_URL,
      PFLOW_BROKER_PREFIX: this.prefix,
      PFLOW_DEFINITIONS: join(this.dir, "defs"),
      PFLOW_LOG_LEVEL: "info",
      PFLOW_LEASE_MS: "2000",
      PFLOW_SWEEP_INTERVAL_MS: "200",
      PFLOW_STRANDED_AFTER_MS: "3000",
      PFLOW_MAX_DELIVERIES: "3",
      PFLOW_SHUTDOWN_GRACE_MS: "500",
      ...env,
    };
    this.store = new MongoStore(mongoUrlFor(this.database, mongo));
  }

  static async start(
    definitions: string,
    env: NodeJS.ProcessEnv = {},
    mongo: string = MONGO_URL,
  ): Promise<Cluster> {
    const cluster = new Cluster(definitions, env, mongo);
    await cluster.store.start();
    return cluster;
  }

  get api(): string {
    if (!this.#api) throw new Error("no API process: call serve() first");
    return this.#api.base;
  }

  /** `pflow serve` on a free port, ready when /readyz says so. */
  async serve(options: { workers?: boolean } = {}): Promise<Process> {
    const port = await freePort();
    const args = ["serve", "--port", String(port), ...(options.workers === false ? ["--no-workers"] : [])];
    const started = this.#spawn(`serve:${port}`, args);
    const base = `http://127.0.0.1:${port}`;
    this.#api = { base, process: started };
    await this.until(
      () =>
        fetch(`${base}/readyz`).then(
          (response) => response.ok || undefined,
          () => undefined,
        ),
      `${started.name} to be ready`,
      30_000,
      started,
    );
    return started;
  }

  /** `pflow worker`, ready once it says it started. */
  async worker(): Promise<Process> {
    const started = this.#spawn(`worker:${this.#processes.size}`, ["worker"]);
    await this.until(
      async () => started.log.some((line) => line.includes('"worker started"')) || undefined,
      `${started.name} to start`,
      30_000,
      started,
    );
    return started;
  }

  async kill(target: Process, signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    target.child.kill(signal);
    const code = await target.exited;
    this.#processes.delete(target);
    if (this.#api?.process === target) this.#api = null;
    return code;
  }

  async killAll(): Promise<void> {
    await Promise.all([...this.#processes].map((each) => this.kill(each)));
  }

  async request(
    path: string,
    init: { method?: string; body?: unknown } = {},
    // biome-ignore lint/suspicious/noExplicitAny: a response body, which the tests' assertions check
  ): Promise<{ status: number; json: any }> {
    const response = await fetch(`${this.api}${path}`, {
      method: init.method ?? "GET",
      ...(init.body === undefined
        ? {}
        : { body: JSON.stringify(init.body), headers: { "content-type": "application/json" } }),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : null };
  }

  async startRun(workflow: string, input: unknown = {}): Promise<string> {
    const { status, json } = await this.request(`/v1/workflows/${workflow}/runs`, {
      method: "POST",
      body: { input },
    });
    if (status !== 201 && status !== 202 && status !== 200)
      throw new Error(`start ${workflow}: ${status} ${JSON.stringify(json)}`);
    return json.id as string;
  }

  /** Polls `probe` until it returns a value, failing after `timeoutMs` with the processes' last logs. */
  async until<T>(
    probe: () => Promise<T | undefined>,
    what: string,
    timeoutMs = 30_000,
    watched?: Process,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.logs()}`);
      if (watched && watched.child.exitCode !== null)
        throw new Error(`${watched.name} exited (${watched.child.exitCode}) before ${what}\n${this.logs()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Waits until the run has ended; returns its status. */
  async finished(runId: string, timeoutMs = 60_000): Promise<string> {
    return this.until(
      async () => {
        const run = await this.store.getRun(runId);
        return run && !["pending", "running"].includes(run.status) ? run.status : undefined;
      },
      `run ${runId} to end`,
      timeoutMs,
    );
  }

  logs(): string {
    return [...this.#processes]
      .map((each) => `--- ${each.name}\n${each.log.slice(-15).join("\n")}`)
      .join("\n");
  }

  async close(): Promise<void> {
    await this.killAll();
    await this.store.close();
    const client = new MongoClient(this.mongo, { serverSelectionTimeoutMS: 5000 });
    try {
      await client.db(this.database).dropDatabase();
    } finally {
      await client.close();
    }
    const connection = await amqp.connect(AMQP_URL);
    const channel = await connection.createChannel();
    await channel.deleteQueue(`${this.prefix}.tasks.default`);
    await channel.deleteQueue(`${this.prefix}.dead-letters`);
    await channel.deleteExchange(`${this.prefix}.deltas`);
    await connection.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  #spawn(name: string, args: string[]): Process {
    const child = spawn(NODE, [BIN, ...args], {
      env: this.env,
      cwd: this.dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log: string[] = [];
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n")) if (line) log.push(line);
      if (log.length > 2000) log.splice(0, log.length - 1000);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const started: Process = { child, name, log, exited };
    this.#processes.add(started);
    return started;
  }
}
