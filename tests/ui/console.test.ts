import { mkdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, READER_KEY, type TestServer } from "../server/harness.ts";
import { type Browser, launchBrowser } from "./browser.ts";
import { consoleServer, deadLetteredRun } from "./console-server.ts";

// The console end to end, in a real browser against a real server: the five
// journeys of issue 11 (catalog, start a run from the form, watch it succeed,
// read both rounds' attempt errors of a retried failed node, replay a dead
// letter), then the key, keyboard, deep-link and narrow-screen behaviour.
// PFLOW_UI_SCREENSHOTS=docs/images writes the README's screenshots.

let server: TestServer;
let browser: Browser;
const SCREENSHOTS = process.env.PFLOW_UI_SCREENSHOTS;

beforeAll(async () => {
  server = await consoleServer();
  browser = await launchBrowser();
  if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** A tab signed in with `key` (the server has keys, so the console asks for one), at `path`. */
async function signedIn(
  path: string,
  key = ADMIN_KEY,
  viewport?: { width: number; height: number },
): Promise<Page> {
  const page = await browser.page(viewport);
  await page.goto(`${server.url}${path}`);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("main h1").first().waitFor();
  return page;
}

async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  if (SCREENSHOTS) await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage });
}

describe("the console's journeys", () => {
  it("1. opens the catalog: every workflow with its graph drawn", async () => {
    const page = await signedIn("/ui/");
    await expect.poll(() => page.locator(".card").count()).toBe(3);
    const greeting = page.locator('[data-workflow="greeting"]');
    await expect.poll(() => greeting.locator("[data-node]").count()).toBe(3);
    expect(await greeting.textContent()).toContain("Greets a new tenant");
    // The edges are drawn too: prepare → draft → finish.
    expect(await greeting.locator(".dag-edge").count()).toBe(2);
    await screenshot(page, "console-catalog");
    await page.close();
  });

  it("2 and 3. starts a run from the form generated from the inputs schema, and watches its graph turn to succeeded", async () => {
    const page = await signedIn("/ui/workflows/greeting");
    await page.getByRole("heading", { name: "Start a run" }).waitFor();
    // The form follows the schema: a required text field, an enum as a select with its default, an integer.
    expect(await page.getByLabel("tone").inputValue()).not.toBe("");
    expect(await page.getByLabel("rooms").inputValue()).toBe("2");
    await page.getByLabel("name").fill("Ana");
    await page.getByLabel("tone").selectOption({ label: "formal" });
    await page.getByRole("button", { name: "Start run" }).click();

    await page.waitForURL(/\/ui\/runs\/[^/?]+/);
    const runId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "");
    const run = await server.request("GET", `/v1/runs/${runId}`);
    expect(run.json.input).toEqual({ name: "Ana", tone: "formal", rooms: 2 });

    // Live: the model node runs (5 s: room for a slow first render on a busy machine), streaming its text into the node panel, then everything succeeds.
    const draft = page.locator('[data-node="draft"]');
    await expect.poll(() => draft.getAttribute("data-status"), { timeout: 10_000 }).toBe("running");
    await draft.click();
    await expect
      .poll(() => page.getByTestId("draft").textContent(), { timeout: 10_000 })
      .toMatch(/^Dear Ana/);
    if (SCREENSHOTS) await expect.poll(() => page.getByTestId("draft").textContent()).toContain("flat");
    await screenshot(page, "console-run");
    for (const node of ["prepare", "draft", "finish"]) {
      await expect
        .poll(() => page.locator(`[data-node="${node}"]`).getAttribute("data-status"), { timeout: 15_000 })
        .toBe("succeeded");
    }
    await expect
      .poll(() => page.locator('[data-testid="run-status"] [data-status]').getAttribute("data-status"))
      .toBe("succeeded");
    // Status by icon as well as colour.
    expect(await draft.locator(".dag-icon").textContent()).toBe("✓");
    await page.close();
  });

  it("4. opens a failed run's node and reads the attempt errors of both rounds after a retry", async () => {
    const started = await server.request("POST", "/v1/workflows/fragile/runs?wait=20", {
      body: { input: {} },
    });
    expect(started.json.status).toBe("failed");
    const runId = started.json.id as string;

    const page = await signedIn(`/ui/runs/${runId}`);
    await expect.poll(() => page.locator('[data-node="call"]').getAttribute("data-status")).toBe("failed");
    await page.getByRole("button", { name: "Retry run" }).click();
    await expect
      .poll(() => page.locator('[data-testid="run-status"] [data-status]').getAttribute("data-status"), {
        timeout: 20_000,
      })
      .toBe("failed");
    await expect
      .poll(() => page.getByTestId("run-round").textContent(), { timeout: 10_000 })
      .toContain("round 2");

    await page.locator('[data-node="call"]').click();
    const attempts = page.locator(".node-panel .attempt");
    await expect.poll(() => attempts.count(), { timeout: 10_000 }).toBe(4);
    for (const round of [1, 2]) {
      const errors = await page
        .locator(`.node-panel .attempt[data-round="${round}"] .attempt-error`)
        .allTextContents();
      expect(errors).toHaveLength(2);
      for (const text of errors) expect(text).toMatch(/mock-failure: flaky@1: mock failure on attempt \d/);
    }
    // The timeline shows both rounds' attempts, and where the second round began.
    await expect.poll(() => page.locator('[data-row="call"] .bar-failed').count()).toBe(4);
    expect(await page.locator(".round-mark").count()).toBeGreaterThan(0);
    await screenshot(page, "console-failed-run", true);
    await page.close();
  });

  it("5. replays a dead letter", async () => {
    const { runId, letterId } = await deadLetteredRun(server);
    await expect
      .poll(async () => (await server.request("GET", `/v1/runs/${runId}`)).json.status, { timeout: 10_000 })
      .toBe("failed");

    const page = await signedIn("/ui/dead-letters");
    const row = page.locator(`tr[data-letter="${letterId}"]`);
    await row.getByRole("button", { name: "Inspect" }).click();
    expect(await page.locator(".detail-row").textContent()).toContain("handler crashed");
    await row.getByRole("button", { name: "Replay" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain(`Replayed: run ${runId}`);
    await expect.poll(() => row.count()).toBe(0);
    await expect
      .poll(async () => (await server.request("GET", `/v1/runs/${runId}`)).json.status, { timeout: 10_000 })
      .toBe("succeeded");
    await page.close();
  });
});

describe("the console's other pages", () => {
  it("shows a model's versions, aliases with their canary, health and calls over time", async () => {
    await server.request("POST", "/v1/workflows/greeting/runs?wait=20", { body: { input: { name: "Rui" } } });
    await server.engine.services.calls.flush();
    const page = await signedIn("/ui/models/writer");
    const rows = page.locator("table.list").first().locator("tbody tr");
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.first().textContent()).toContain("mock");
    expect(await page.locator(".aliases").textContent()).toContain("canary: 10% of new runs get 2");
    await expect
      .poll(() => page.locator(".usage figcaption").textContent())
      .toMatch(/^[1-9]\d* calls? in 24 steps of 1 h/);
    await screenshot(page, "console-model", true);
    await page.getByRole("navigation").getByRole("link", { name: "Models" }).click();
    await page.getByRole("link", { name: "writer" }).waitFor();
    await page.close();
  });

  it("lists runs filtered by workflow and status, and opens one by its id", async () => {
    const { json } = await server.request("POST", "/v1/workflows/fragile/runs?wait=20", {
      body: { input: {} },
    });
    const page = await signedIn("/ui/runs?workflow=fragile&status=failed");
    await page.locator(`tr[data-run="${json.id}"]`).waitFor();
    const statuses = await page
      .locator("table.runs tbody [data-status]")
      .evaluateAll((cells) => cells.map((cell) => cell.getAttribute("data-status")));
    expect(new Set(statuses)).toEqual(new Set(["failed"]));
    await page.getByLabel("Run id").fill(json.id);
    await page.getByRole("button", { name: "Open" }).click();
    await page.waitForURL(`**/ui/runs/${json.id}`);
    await page.close();
  });
});

describe("the console's quality", () => {
  it("asks for a key, refuses a wrong one with a clear message, and shows only what the key's scopes allow", async () => {
    const page = await browser.page();
    await page.goto(`${server.url}/ui/workflows/greeting`);
    await page.getByLabel("API key").fill("not-a-key-of-this-server");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("did not accept");
    await page.getByLabel("API key").fill(READER_KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "greeting" }).waitFor();
    // The workflow loads after its heading shows: wait for the page's body.
    await page.getByText("Starting runs needs a key with the runs:write scope").waitFor();
    expect(await page.getByRole("button", { name: "Start run" }).count()).toBe(0);
    // The key is kept for the tab (sessionStorage), not beyond it.
    expect(await page.evaluate(() => sessionStorage.getItem("pflow.apiKey"))).toBe(READER_KEY);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    await page.close();
  });

  it("answers deep links with the app, and unknown pages with its not-found page", async () => {
    const page = await signedIn("/ui/workflows/fragile");
    expect(await page.locator("main h1").textContent()).toBe("fragile");
    await page.goto(`${server.url}/ui/no/such/page`);
    await page.getByRole("heading", { name: "Not found" }).waitFor();
    await page.close();
  });

  it("works by keyboard: Tab reaches the graph's nodes, Enter opens one", async () => {
    const { json } = await server.request("POST", "/v1/workflows/fragile/runs?wait=20", {
      body: { input: {} },
    });
    const page = await signedIn(`/ui/runs/${json.id}`);
    await page.locator('[data-node="call"]').waitFor();
    let focused = "";
    for (let i = 0; i < 40 && focused !== "call"; i++) {
      await page.keyboard.press("Tab");
      focused = await page.evaluate<string>("document.activeElement?.getAttribute('data-node') ?? ''");
    }
    expect(focused).toBe("call");
    await page.keyboard.press("Enter");
    await page.getByRole("complementary", { name: "Node call" }).waitFor();
    expect(new URL(page.url()).searchParams.get("node")).toBe("call");
    await page.close();
  });

  it("fits a narrow screen: no page-wide horizontal scrolling on the runs and a run's page", async () => {
    const { json } = await server.request("POST", "/v1/workflows/greeting/runs?wait=20", {
      body: { input: { name: "Eva" } },
    });
    const page = await signedIn("/ui/runs", ADMIN_KEY, { width: 390, height: 844 });
    await page.locator("table.runs").waitFor();
    const overflow = () => page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.goto(`${server.url}/ui/runs/${json.id}?node=draft`);
    await page.getByRole("complementary", { name: "Node draft" }).waitFor();
    await page.locator('[data-row="draft"]').waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(page, "console-run-narrow", true);
    await page.close();
  });

  it("loads the first page with at most 300 KB of gzipped JavaScript, sent compressed", async () => {
    const page = await browser.page();
    const scripts: { url: string; encoding: string | undefined }[] = [];
    page.on("response", (response) => {
      if (response.request().resourceType() === "script")
        scripts.push({ url: response.url(), encoding: response.headers()["content-encoding"] });
    });
    await page.goto(`${server.url}/ui/`);
    await page.getByLabel("API key").waitFor();
    expect(scripts.length).toBeGreaterThan(0);
    let gzipped = 0;
    for (const script of scripts) {
      // The build's own compressed copy, not compressed per request.
      expect(["br", "gzip"]).toContain(script.encoding);
      const body = Buffer.from(await (await fetch(script.url)).arrayBuffer());
      gzipped += gzipSync(body).length;
    }
    expect(gzipped).toBeLessThanOrEqual(300 * 1024);
    await page.close();
  });
});
