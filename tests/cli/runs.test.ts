import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../cli/main.ts";
import { createMetrics } from "../../server/metrics.ts";
import { allRoutes } from "../../server/routes/index.ts";
import { pflow } from "../helpers/cli.ts";
import { yaml } from "../helpers/definitions.ts";
import { ADMIN_KEY, READER_KEY, type TestServer, testServer } from "../server/harness.ts";

// `pflow runs …` against a real server (the embedded adapters, listening on
// loopback), as a user would: PFLOW_URL and PFLOW_API_KEY, or --server.

const DEFINITIONS = [
  yaml`
    apiVersion: pflow/v1
    kind: Model
    metadata: { name: slow }
    spec:
      versions:
        "1": { provider: mock, latency: 300ms, response: { text: "done" } }
  `,
  yaml`
    apiVersion: pflow/v1
    kind: Workflow
    metadata: { name: steps }
    spec:
      nodes:
        one: { type: model, model: slow, input: { n: 1 } }
        two: { type: model, model: slow, input: { n: "{{ nodes.one.output.text }}" } }
  `,
  yaml`
    apiVersion: pflow/v1
    kind: Workflow
    metadata: { name: broken }
    spec:
      nodes:
        boom: { type: transform, expr: "$error('it broke')" }
  `,
  yaml`
    apiVersion: pflow/v1
    kind: Workflow
    metadata: { name: quick }
    spec:
      nodes:
        only: { type: transform, expr: "42" }
  `,
];

let server: TestServer;
const saved = { ...process.env };
beforeAll(async () => {
  server = await testServer({ definitions: DEFINITIONS, routes: allRoutes(createMetrics()) });
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  process.env = { ...saved };
});

function useServer(key = ADMIN_KEY) {
  process.env.PFLOW_URL = server.url;
  process.env.PFLOW_API_KEY = key;
}

async function start(workflow: string): Promise<string> {
  const response = await server.request("POST", `/v1/workflows/${workflow}/runs`, { body: {} });
  expect(response.status).toBe(202);
  return response.json.id as string;
}

async function finished(id: string): Promise<void> {
  await server.engine.waitForRun(id, 10_000);
}

describe("pflow runs list|get|cancel|retry", () => {
  it("lists runs as a table, filters them, and pages them", async () => {
    useServer();
    const quick = await start("quick");
    await finished(quick);
    const broken = await start("broken");
    await finished(broken);
    const table = await pflow("runs", "list");
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID +WORKFLOW +STATUS +CREATED +DURATION$/);
    expect(lines[1]).toMatch(new RegExp(`^${broken} +broken@1 +failed `));
    expect(table.stdout).toMatch(new RegExp(`${quick} +quick@1 +succeeded`));

    const failed = await pflow("runs", "list", "--status", "failed", "--format", "json");
    expect(JSON.parse(failed.stdout).items.map((run: { id: string }) => run.id)).toEqual([broken]);

    const page = await pflow("runs", "list", "--limit", "1", "--workflow", "quick");
    expect(page.stdout).toContain(quick);
    const paged = await pflow("runs", "list", "--limit", "1");
    expect(paged.stdout).toMatch(/^more: pflow runs list --limit 1 --cursor \S+$/m);

    expect(await pflow("runs", "list", "--status", "done")).toMatchObject({ code: 2 });
    expect((await pflow("runs", "list", "--status", "done")).stderr).toContain(
      "--status must be one of pending, running, succeeded, failed, cancelled, timed_out",
    );
  });

  it("gets a run as JSON; an unknown run is the server's 404, said, exit 1", async () => {
    useServer();
    const id = await start("quick");
    await finished(id);
    const got = await pflow("runs", "get", id);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ id, status: "succeeded", output: { only: 42 } });
    const unknown = await pflow("runs", "get", "00000000-0000-4000-8000-000000000000");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^pflow: no run/);
  });

  it("cancels a running run and retries it; cancelling a finished run is refused", async () => {
    useServer();
    const id = await start("steps");
    const cancelled = await pflow("runs", "cancel", id);
    expect(cancelled).toEqual({ code: 0, stdout: `run ${id}: cancelled\n`, stderr: "" });
    const again = await pflow("runs", "cancel", id);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^pflow: .*finished|cancelled/);
    const retried = await pflow("runs", "retry", id);
    expect(retried).toEqual({ code: 0, stdout: `run ${id}: running\n`, stderr: "" });
    await finished(id);
  });

  it("takes --server over PFLOW_URL, and says what is wrong with the key or the address", async () => {
    process.env.PFLOW_URL = "http://127.0.0.1:1";
    process.env.PFLOW_API_KEY = READER_KEY;
    expect((await pflow("runs", "list", "--server", server.url)).code).toBe(0);
    const unreachable = await pflow("runs", "list");
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain("cannot reach the pflow server at http://127.0.0.1:1");
    expect(unreachable.stderr).toContain("--server URL or PFLOW_URL");
    process.env.PFLOW_API_KEY = "not-a-key-0123456789";
    const refused = await pflow("runs", "list", "--server", server.url);
    expect(refused).toMatchObject({ code: 1, stderr: "pflow: the API key is not valid\n" });
    expect((await pflow("runs", "list", "--server", "ftp://x")).code).toBe(2);
    expect((await pflow("runs", "frob")).stderr).toContain('unknown subcommand "runs frob"');
    expect((await pflow("runs", "get")).code).toBe(2);
  });
});

describe("pflow runs watch", () => {
  it("follows a run to its end, a line per change off a terminal, and exits 0 when it succeeded", async () => {
    useServer();
    const id = await start("steps");
    const watched = await pflow("runs", "watch", id);
    expect(watched.code).toBe(0);
    expect(watched.stdout).toMatch(new RegExp(`^run ${id}  steps v1  `));
    expect(watched.stdout).toMatch(/\d\d:\d\d:\d\d one succeeded\n/);
    expect(watched.stdout).toMatch(/\d\d:\d\d:\d\d two succeeded\n/);
    expect(watched.stdout).toMatch(/\d\d:\d\d:\d\d run succeeded\n/);
    expect(watched.stdout.endsWith(`run ${id} succeeded (exit 0)\n`)).toBe(true);
  });

  it("exits 1 for a failed run, 3 for a cancelled one, 5 for an unknown one", async () => {
    useServer();
    const broken = await start("broken");
    const failed = await pflow("runs", "watch", broken);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain("it broke");

    const slow = await start("steps");
    const watching = pflow("runs", "watch", slow);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await server.request("POST", `/v1/runs/${slow}/cancel`);
    const cancelled = await watching;
    expect(cancelled.code).toBe(3);
    expect(cancelled.stdout.endsWith(`run ${slow} cancelled (exit 3)\n`)).toBe(true);

    const unknown = await pflow("runs", "watch", "00000000-0000-4000-8000-000000000000");
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toMatch(/^pflow: no run/);
  });

  it("on a terminal, redraws the node table in place until the run ends", async () => {
    useServer();
    const id = await start("steps");
    const frames: string[] = [];
    const code = await main(["runs", "watch", id], {
      stdout: (text) => frames.push(text),
      stderr: () => {},
      isTTY: true,
      columns: 80,
    });
    expect(code).toBe(0);
    // Each redraw moves up over the lines drawn before it and clears them.
    expect(frames.slice(1).some((frame) => frame.startsWith("\x1b[3F"))).toBe(true);
    const last = frames.at(-2) ?? "";
    expect(last).toContain("✓ one");
    expect(last).toContain("✓ two");
    expect(frames.at(-1)).toBe(`run ${id} succeeded (exit 0)\n`);
  });
});

describe("pflow runs watch when the event stream drops", () => {
  it("connects again after the last event it got, and still sees the run to its end", async () => {
    // A proxy in front of the real server that cuts the first event stream after its first event.
    let streams = 0;
    const resumedAfter: (string | undefined)[] = [];
    const proxy = createServer((request, response) => {
      const isStream = request.url?.endsWith("/events") ?? false;
      if (isStream) {
        streams++;
        resumedAfter.push(request.headers["last-event-id"] as string | undefined);
      }
      const cutAfterFirst = isStream && streams === 1;
      const upstream = httpRequest(
        `${server.url}${request.url}`,
        { method: request.method, headers: request.headers },
        (reply) => {
          response.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.on("data", (chunk: Buffer) => {
            response.write(chunk);
            if (cutAfterFirst && /^id: \d+$/m.test(String(chunk))) {
              reply.destroy();
              response.end();
            }
          });
          reply.on("end", () => response.end());
          reply.on("error", () => response.end());
        },
      );
      request.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const { port } = proxy.address() as AddressInfo;
    try {
      process.env.PFLOW_API_KEY = ADMIN_KEY;
      const id = await start("steps");
      const watched = await pflow("runs", "watch", id, "--server", `http://127.0.0.1:${port}`);
      expect(watched.code).toBe(0);
      expect(watched.stdout.endsWith(`run ${id} succeeded (exit 0)\n`)).toBe(true);
      expect(streams).toBeGreaterThanOrEqual(2);
      expect(resumedAfter[0]).toBeUndefined();
      expect(Number(resumedAfter[1])).toBeGreaterThanOrEqual(1);
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
