import type { RoutePlugin } from "../app.ts";
import type { createMetrics } from "../metrics.ts";
import { deadLetterRoutes } from "./dead-letters.ts";
import { definitionRoutes } from "./definitions.ts";
import { modelHealthRoutes } from "./model-health.ts";
import { modelRoutes } from "./models.ts";
import { opsRoutes } from "./ops.ts";
import { runRoutes } from "./runs.ts";

/** Every route of the API, in the order the OpenAPI document lists them. */
export function allRoutes(metrics: ReturnType<typeof createMetrics>): RoutePlugin[] {
  return [runRoutes, definitionRoutes, modelRoutes, modelHealthRoutes, deadLetterRoutes, opsRoutes(metrics)];
}
