import type { ExecutionPlan, PlanTrigger } from "../../compiler/index.ts";
import type { Store } from "../store/store.ts";

/** A trigger of the latest registered version of its workflow: the ones in force. */
export interface ActiveTrigger {
  readonly workflow: string;
  /** The version whose definition declares it; its runs start on that version. */
  readonly version: number;
  readonly trigger: PlanTrigger;
}

export async function activeTriggers(store: Store): Promise<ActiveTrigger[]> {
  const records = await store.listDefinitions("Workflow");
  return records.flatMap((record) =>
    ((record.compiled as ExecutionPlan).triggers ?? []).map((trigger) => ({
      workflow: record.name,
      version: record.version,
      trigger,
    })),
  );
}
