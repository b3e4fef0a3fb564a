/** Conformance: Event shared with children, set and waited for from either side. */
import { describe, expect, test } from "bun:test";
import * as targets from "../fixtures/shared-targets.ts";
import { CHILD_TIMEOUT, NO_WAIT_MS, run, type Suite, waitInChild } from "./harness.ts";

export function eventTests(s: Suite): void {
  const { mp } = s;
  describe(`[${s.backend}] Event across children`, () => {
    for (const async of [false, true]) {
      const form = async ? "wait" : "waitSync";
      test(`Event.${form} in a child returns true once the parent sets it, false on timeout`, async () => {
        const event = mp.Event();
        expect((await run(new mp.Process({ target: targets.waitForEvent, args: [event, 50, async] }))).exitCode).toBe(
          3,
        );
        const p = new mp.Process({ target: targets.waitForEvent, args: [event, CHILD_TIMEOUT, async] });
        p.start();
        await Bun.sleep(100);
        expect(p.isAlive()).toBe(true);
        event.set();
        await p.join(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(0);
        // Already set: returns at once, in a child too.
        expect((await run(new mp.Process({ target: targets.waitForEvent, args: [event, 0, async] }))).exitCode).toBe(0);
        event.clear();
        expect((await run(new mp.Process({ target: targets.waitForEvent, args: [event, 20, async] }))).exitCode).toBe(
          3,
        );
      });

      test(`Event.${form} in the parent returns when a child sets it`, async () => {
        const event = mp.Event();
        const p = new mp.Process({ target: targets.setEventLater, args: [event, 100] });
        p.start();
        expect(event.isSet()).toBe(false);
        expect(async ? await event.wait(CHILD_TIMEOUT) : event.waitSync(CHILD_TIMEOUT)).toBe(true);
        expect(event.isSet()).toBe(true);
        await p.join(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(0);
      });
    }

    test("Event.wait(-1) in a child does not wait (Python: a negative timeout is 0); NaN is a RangeError", async () => {
      const event = mp.Event();
      for (const call of ["Event.waitSync", "Event.wait"] as const) {
        const r = await waitInChild(s, call, event, -1);
        expect({ call, ...r, ms: 0 }).toEqual({ call, result: false, ms: 0 });
        expect(r.ms).toBeLessThan(NO_WAIT_MS);
      }
      event.set();
      expect(await waitInChild(s, "Event.wait", event, -1)).toMatchObject({ result: true });
      expect(() => event.waitSync(Number.NaN)).toThrow(/Event\.wait timeout .*got NaN/);
      expect(() => event.waitSync("5" as unknown as number)).toThrow(/got "5"/);
    });

    test("Event.set() wakes every waiting child: each was asleep in wait before, each returns true after it", async () => {
      const event = mp.Event();
      const woke = mp.RawArray("d", 3);
      const kids = [false, true, false].map(
        (async, slot) =>
          new mp.Process({ target: targets.waitForEventTimed, args: [event, woke, slot, CHILD_TIMEOUT, async] }),
      );
      for (const k of kids) k.start();
      // Each child marks -1 just before its wait; give them time to fall asleep in it.
      const deadline = performance.now() + CHILD_TIMEOUT;
      while ([...woke].some((t) => t !== -1) && performance.now() < deadline) await Bun.sleep(10);
      await Bun.sleep(100);
      // None returned before the set: a wait that returns early fails here.
      expect([...woke]).toEqual([-1, -1, -1]);
      const setAt = Date.now();
      event.set();
      for (const k of kids) await k.join(CHILD_TIMEOUT);
      // Each wait returned true (0, not the timeout's 3), and only after set().
      expect(kids.map((k) => k.exitCode)).toEqual([0, 0, 0]);
      expect([...woke].map((t) => t >= setAt)).toEqual([true, true, true]);
    });
  });
}
