import type { Task } from "./broker/broker.ts";

/**
 * What this process's workers hold right now, for /metrics: the deliveries
 * they are handling (worker slots busy, at most the consumer's concurrency)
 * and the executions they hold a lease on (by the task that claimed it). A
 * waiting run adds to neither: its wait and approval nodes hold no slot, no
 * lease and no message.
 */
export class WorkerActivity {
  slotsBusy = 0;
  readonly leases = new Set<Task>();

  get leasesHeld(): number {
    return this.leases.size;
  }
}
