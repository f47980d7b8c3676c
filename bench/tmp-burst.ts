import { embeddedEngine } from "./embedded-engine.ts";
import { MAP_RUNS_WORKFLOW, mapRunsBurst } from "./map-runs.ts";
const { engine, close } = await embeddedEngine([{ path: "map-run.yaml", text: MAP_RUNS_WORKFLOW }]);
await mapRunsBurst(engine, 20, 20);
for (let i = 0; i < 2; i++) console.log((await mapRunsBurst(engine, 500, 20)).toFixed(0));
await close();
