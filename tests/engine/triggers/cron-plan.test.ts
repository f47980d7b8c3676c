import { describe, expect, it } from "vitest";
import { cronSchedule } from "../../../compiler/index.ts";
import { decideCron, dueTicks, MAX_CATCH_UP } from "../../../engine/triggers/cron-plan.ts";
import { derivedRunId } from "../../../engine/triggers/run-ids.ts";

const at = (iso: string) => Date.parse(iso);
const isos = (ticks: readonly number[]) => ticks.map((tick) => new Date(tick).toISOString());
const MINUTE = 60_000;

describe("dueTicks: the ticks after the last one handled, up to now", () => {
  const hourly = cronSchedule("0 * * * *", "UTC");

  it("lists the ticks in (after, now], oldest first, now included", () => {
    expect(isos(dueTicks(hourly, at("2026-01-01T00:00:00Z"), at("2026-01-01T03:00:00Z")))).toEqual([
      "2026-01-01T01:00:00.000Z",
      "2026-01-01T02:00:00.000Z",
      "2026-01-01T03:00:00.000Z",
    ]);
    expect(dueTicks(hourly, at("2026-01-01T03:00:00Z"), at("2026-01-01T03:59:59Z"))).toEqual([]);
  });

  it("is bounded however long the gap: the latest 101 ticks of a year of seconds", () => {
    const everySecond = cronSchedule("* * * * * *", "UTC");
    const due = dueTicks(everySecond, at("2025-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z"));
    expect(due).toHaveLength(MAX_CATCH_UP + 1);
    expect(due.at(-1)).toBe(at("2026-01-01T00:00:00Z"));
  });

  it("reads the schedule in its time zone, across a daylight saving change", () => {
    const lisbon = cronSchedule("0 3 * * *", "Europe/Lisbon");
    // 03:00 in Lisbon is 03:00Z in winter and 02:00Z from the last Sunday of March.
    expect(isos(dueTicks(lisbon, at("2026-03-27T12:00:00Z"), at("2026-03-30T12:00:00Z")))).toEqual([
      "2026-03-28T03:00:00.000Z",
      "2026-03-29T02:00:00.000Z",
      "2026-03-30T02:00:00.000Z",
    ]);
  });
});

describe("decideCron: catch-up after downtime", () => {
  const due = [at("2026-01-01T01:00:00Z"), at("2026-01-01T02:00:00Z"), at("2026-01-01T03:00:00Z")];
  const onTime = at("2026-01-01T03:00:05Z");
  const late = at("2026-01-01T03:30:00Z");
  const grace = MINUTE;

  it("a tick on time fires, whatever catchUp says; ticks before it were missed", () => {
    expect(decideCron("none", due, onTime, grace)).toEqual({ fire: [due[2]], passOver: null });
    expect(decideCron("one", due, onTime, grace)).toEqual({ fire: [due[2]], passOver: null });
    expect(decideCron("all", due, onTime, grace)).toEqual({ fire: due, passOver: null });
  });

  it("none: a late tick fires nothing and is passed over", () => {
    expect(decideCron("none", due, late, grace)).toEqual({ fire: [], passOver: due[2] });
  });

  it("one: the latest tick fires once for the whole gap", () => {
    expect(decideCron("one", due, late, grace)).toEqual({ fire: [due[2]], passOver: null });
  });

  it("all: every tick of the gap, oldest first, at most 100", () => {
    expect(decideCron("all", due, late, grace)).toEqual({ fire: due, passOver: null });
    const many = Array.from({ length: 150 }, (_, i) => i * MINUTE);
    const decision = decideCron("all", many, 150 * MINUTE, grace);
    expect(decision.fire).toHaveLength(MAX_CATCH_UP);
    expect(decision.fire[0]).toBe(50 * MINUTE);
  });

  it("nothing due: nothing to do", () => {
    expect(decideCron("one", [], late, grace)).toEqual({ fire: [], passOver: null });
  });
});

describe("derivedRunId", () => {
  it("is a UUID, the same for the same parts, different for others", () => {
    const id = derivedRunId("cron", "nightly.cron-1", 1_800_000_000_000);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(derivedRunId("cron", "nightly.cron-1", 1_800_000_000_000)).toBe(id);
    expect(derivedRunId("cron", "nightly.cron-1", 1_800_000_060_000)).not.toBe(id);
    expect(derivedRunId("event", "nightly.cron-1", 1_800_000_000_000)).not.toBe(id);
  });
});
