import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetrics } from "../../server/metrics.ts";
import { allRoutes } from "../../server/routes/index.ts";
import { ADMIN_KEY, READER_KEY, type TestServer, testServer } from "../server/harness.ts";
import { type Browser, launchBrowser } from "./browser.ts";

// A run waiting for a person, in the console: the node shows as waiting, for
// what, and a key with runs:approve decides it from the node's panel; a key
// without it is told who can.

const REVIEWED = `apiVersion: pflow/v1
kind: Workflow
metadata: { name: reviewed }
spec:
  nodes:
    draft: { type: transform, expr: "'A bright flat by the sea'" }
    review: { type: approval, needs: [draft], description: "Check the description before it goes out", timeout: 1h }
    publish: { type: transform, when: "{{ nodes.review.output.approved }}", expr: "nodes.draft.output" }
`;

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  server = await testServer({ definitions: [REVIEWED], routes: allRoutes(createMetrics()) });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function signedIn(path: string, key: string): Promise<Page> {
  const page = await browser.page();
  await page.goto(`${server.url}${path}`);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("main h1").first().waitFor();
  return page;
}

async function waitingRun(): Promise<string> {
  const { id } = await server.engine.startRun({ workflow: "reviewed", input: {} });
  await expect
    .poll(async () => (await server.engine.services.store.getExecution(`${id}/review`))?.status)
    .toBe("waiting");
  return id;
}

describe("an approval in the console", () => {
  it("shows the node waiting, and a key with runs:approve approves it from the node's panel", async () => {
    const runId = await waitingRun();
    const page = await signedIn(`/ui/runs/${runId}`, ADMIN_KEY);
    const review = page.locator('[data-node="review"]');
    await expect.poll(() => review.getAttribute("data-status")).toBe("waiting");
    await review.click();
    const panel = page.getByRole("complementary", { name: "Node review" });
    expect(await panel.textContent()).toContain("for a decision (approval)");
    expect(await panel.textContent()).toContain("Check the description before it goes out");
    await panel.getByLabel("Comment (optional)").fill("Reads well");
    await panel.getByRole("button", { name: "Approve" }).click();
    await expect.poll(() => review.getAttribute("data-status"), { timeout: 15_000 }).toBe("succeeded");
    await expect
      .poll(() => page.locator('[data-node="publish"]').getAttribute("data-status"), { timeout: 15_000 })
      .toBe("succeeded");
    const decided = await server.engine.services.store.getExecution(`${runId}/review`);
    expect(decided?.output).toMatchObject({ approved: true, comment: "Reads well" });
    await page.close();
  });

  it("offers no decision to a key without runs:approve", async () => {
    const runId = await waitingRun();
    const page = await signedIn(`/ui/runs/${runId}?node=review`, READER_KEY);
    const panel = page.getByRole("complementary", { name: "Node review" });
    await panel.waitFor();
    await expect
      .poll(() => panel.textContent())
      .toContain("Waiting for a decision by a key with runs:approve");
    expect(await panel.getByRole("button", { name: "Approve" }).count()).toBe(0);
    await page.close();
  });
});
