/**
 * The openai provider's own cost per call, against the fake OpenAI server of
 * the tests on loopback (no model, no network): sequential chat calls, then
 * sequential streamed chat calls (one delta per word of the echo), then
 * 50 chat calls at once. The best of three rounds of each.
 *
 * Run: npm run bench:openai
 */
import { performance } from "node:perf_hooks";
import { EgressPolicy } from "../engine/providers/egress.ts";
import { OpenAIProvider } from "../engine/providers/openai.ts";
import { startFakeServer } from "../tests/engine/providers/fake-openai-server.ts";
import { callOf, openAiVersion } from "../tests/engine/providers/provider-call.ts";

const server = await startFakeServer();
const provider = new OpenAIProvider({
  secrets: () => "sk-bench",
  egress: new EgressPolicy({ allowLoopback: true }),
});
const version = openAiVersion(`${server.url}/v1`, { apiKeySecret: "KEY" });
const prompt = { prompt: "Describe a bright two-room flat with a sea view in twenty words" };

async function measure(
  name: string,
  calls: number,
  one: () => Promise<unknown>,
  parallel = 1,
): Promise<void> {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    server.reset();
    const started = performance.now();
    for (let done = 0; done < calls; done += parallel)
      await Promise.all(Array.from({ length: parallel }, one));
    best = Math.min(best, performance.now() - started);
  }
  console.log(
    `${name.padEnd(28)} ${((best / calls) * 1000).toFixed(0).padStart(6)} µs/call  ${((calls / best) * 1000).toFixed(0)} calls/s`,
  );
}

await measure("chat, sequential", 1000, () => provider.call(callOf(version, prompt)));
await measure("chat streamed, sequential", 500, () =>
  provider.call(callOf(version, prompt, { onDelta: () => {} })),
);
await measure("chat, 50 at once", 2000, () => provider.call(callOf(version, prompt)), 50);
await server.close();
