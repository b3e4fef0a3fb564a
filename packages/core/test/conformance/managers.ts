/** Conformance: a SyncManager started with each backend, its proxies used by children of each backend (Python: multiprocessing.managers). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ProcessError, type SyncManager } from "../../src/index.ts";
import * as mt from "../fixtures/manager-targets.ts";
import { CHILD_TIMEOUT, run, type Suite } from "./harness.ts";

export function managerTests(s: Suite): void {
  const { mp } = s;
  describe(`[${s.backend}] Manager`, () => {
    let m: SyncManager;
    beforeAll(async () => {
      m = await mp.Manager();
    }, CHILD_TIMEOUT);
    afterAll(async () => {
      await m.shutdown();
    }, CHILD_TIMEOUT);

    test(
      "a child updates a dict, a list and a Namespace passed in args; the parent sees it",
      async () => {
        const d = await m.dict<string, unknown>();
        const l = await m.list<unknown>([1]);
        const ns = await m.Namespace();
        await run(new mp.Process({ target: mt.setInDict, args: [d, "from", "child"] }));
        await run(new mp.Process({ target: mt.appendToList, args: [l, 2n] }));
        await run(new mp.Process({ target: mt.setName, args: [ns, "Bob"] }));
        expect(await d.get("from")).toBe("child");
        expect(await l.copy()).toEqual([1, 2n]);
        expect(String(ns)).toBe("Namespace(name='Bob')");
      },
      CHILD_TIMEOUT,
    );

    test(
      "an error of the server's object reaches the caller with its class",
      async () => {
        const l = await m.list();
        const err = (await l.get(3).catch((e: unknown) => e)) as Error;
        expect(err.name).toBe("IndexError");
        expect(err.message).toBe("list index out of range");
        await expect(l.get("x" as never)).rejects.toBeInstanceOf(TypeError);
      },
      CHILD_TIMEOUT,
    );

    test(
      "calls after shutdown throw ProcessError",
      async () => {
        const m2 = await mp.Manager();
        const d = await m2.dict({ a: 1 });
        expect(d.getSync("a")).toBe(1);
        await m2.shutdown();
        await expect(d.get("a")).rejects.toBeInstanceOf(ProcessError);
        expect(() => d.getSync("a")).toThrow(ProcessError);
      },
      CHILD_TIMEOUT,
    );
  });
}
