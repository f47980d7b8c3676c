/**
 * Peak resident memory of the processes a benchmark runs or talks to, read
 * from /proc (Linux): the benchmarks at scale report each process's peak RSS.
 * - a process the benchmark spawned: its VmHWM (the kernel's own high-water
 *   mark over the process's life, which is the benchmark's window), read
 *   before it is stopped;
 * - a long-running server (RabbitMQ, mongo-java-server): VmRSS sampled while
 *   the benchmark runs, since its VmHWM covers every earlier run too; what it
 *   held when sampling began is reported beside the peak.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

function statusField(pid: number, field: "VmRSS" | "VmHWM"): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(
      readFileSync(`/proc/${pid}/status`, "utf8"),
    );
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined; // the process has exited
  }
}

/** The process's peak RSS over its life, in bytes (undefined once it has exited). */
export function peakRss(pid: number): number | undefined {
  return statusField(pid, "VmHWM");
}

/** The id of the process listening on 127.0.0.1:`port` (`ss -ltnp`), if any. */
export function listenerPid(port: number): number | undefined {
  try {
    const out = execFileSync("ss", ["-Hltnp", `sport = :${port}`], { encoding: "utf8" });
    const match = /pid=(\d+)/.exec(out);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Samples the RSS of `pids` every `everyMs` until stopped; reports each one's first and peak sample. */
export function sampleRss(
  pids: Readonly<Record<string, number | undefined>>,
  everyMs = 250,
): { stop(): Record<string, { atStart: number; peak: number }> } {
  const seen: Record<string, { atStart: number; peak: number }> = {};
  const sample = () => {
    for (const [name, pid] of Object.entries(pids)) {
      if (pid === undefined) continue;
      const rss = statusField(pid, "VmRSS");
      if (rss === undefined) continue;
      const entry = seen[name];
      if (entry) entry.peak = Math.max(entry.peak, rss);
      else seen[name] = { atStart: rss, peak: rss };
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return seen;
    },
  };
}

export const megabytes = (bytes: number | undefined): string =>
  bytes === undefined ? "?" : `${(bytes / 2 ** 20).toFixed(0)} MB`;
