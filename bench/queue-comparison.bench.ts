/**
 * The embedded default against BullMQ flows on Redis, in the same run, on the
 * same shape (bench/map-runs.ts): BENCH_RUNS runs (500) of a BENCH_ITEMS-item
 * (20) map of no-op transforms, started at once. In BullMQ a run is a flow: a
 * parent job that gathers its children's values, and one child job per item.
 * Both run in this process with the same concurrency (BENCH_CONCURRENCY, 16:
 * the embedded worker's default); Redis is Debian's redis-server, started here
 * on a free loopback port without persistence, and stopped at the end.
 * Each side runs BENCH_ROUNDS times (3), alternating; medians are reported.
 *
 * Run: npm run bench:queues   (needs redis-server on the PATH: apt-get install redis-server)
 */
import { compareWithBullmq } from "./bullmq-flows.ts";
import { embeddedEngine } from "./embedded-engine.ts";
import { MAP_RUNS_WORKFLOW } from "./map-runs.ts";

const shape = {
  runs: Number(process.env.BENCH_RUNS ?? 500),
  items: Number(process.env.BENCH_ITEMS ?? 20),
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 16),
};
const { engine, close } = await embeddedEngine([{ path: "map-run.yaml", text: MAP_RUNS_WORKFLOW }], {
  config: { concurrency: shape.concurrency },
});
try {
  await compareWithBullmq(engine, shape, Number(process.env.BENCH_ROUNDS ?? 3));
} finally {
  await close();
}
