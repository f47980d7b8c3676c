import type { RoutePlugin } from "../app.ts";
import type { createMetrics } from "../metrics.ts";
import { consoleRoutes } from "./console.ts";
import { deadLetterRoutes } from "./dead-letters.ts";
import { definitionRoutes } from "./definitions.ts";
import { eventRoutes } from "./events.ts";
import { hookRoutes } from "./hooks.ts";
import { modelHealthRoutes } from "./model-health.ts";
import { modelUsageRoutes } from "./model-usage.ts";
import { modelRoutes } from "./models.ts";
import { opsRoutes } from "./ops.ts";
import { runRoutes } from "./runs.ts";
import { triggerRoutes } from "./triggers.ts";
import { whoamiRoutes } from "./whoami.ts";

/** Every route of the API, in the order the OpenAPI document lists them, and the web console (/ui). */
export function allRoutes(metrics: ReturnType<typeof createMetrics>): RoutePlugin[] {
  return [
    runRoutes,
    definitionRoutes,
    modelRoutes,
    modelHealthRoutes,
    modelUsageRoutes,
    deadLetterRoutes,
    triggerRoutes,
    hookRoutes,
    eventRoutes,
    whoamiRoutes,
    opsRoutes(metrics),
    consoleRoutes(),
  ];
}
