import { describe, expect, test } from "bun:test";
import { Event } from "../src/index.ts";
import { dumps, loads } from "../src/codec/index.ts";

describe("Event (one process)", () => {
  test("Event starts clear; set/clear/isSet; waitSync returns the flag", () => {
    const e = Event();
    expect(e.isSet()).toBe(false);
    const t0 = performance.now();
    expect(e.waitSync(30)).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    e.set();
    e.set();
    expect(e.isSet()).toBe(true);
    expect(e.waitSync()).toBe(true);
    expect(e.waitSync(0)).toBe(true);
    e.clear();
    expect(e.waitSync(0)).toBe(false);
    expect(String(e)).toBe("<Event(unset)>");
  });

  test("Event.wait() resolves when set later, without blocking the event loop", async () => {
    const e = Event();
    setTimeout(() => e.set(), 20);
    expect(await e.wait(5000)).toBe(true);
    e.clear();
    expect(await e.wait(20)).toBe(false);
    expect(e.waitSync(-1)).toBe(false); // Python: a negative timeout does not wait
    expect(() => e.waitSync(Number.NaN)).toThrow(RangeError);
  });

  test("Event travels through the codec to the same flag", () => {
    const e = Event();
    const e2 = loads(dumps(e)) as ReturnType<typeof Event>;
    e2.set();
    expect(e.isSet()).toBe(true);
  });
});
