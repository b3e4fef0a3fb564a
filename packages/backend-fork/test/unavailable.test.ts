import { expect, test } from "bun:test";
import { BackendError, getAllStartMethods, getContext } from "@multiproc/core";
import { backend } from "../src/index.ts";

// The fork backend is not built yet (issue #4): it must say so, clearly, at start().
test("the fork backend refuses to start with a BackendError until issue #4 lands", () => {
  expect(backend.capabilities.available).toBe(false);
  expect(getAllStartMethods()).not.toContain("fork");
  const p = new (getContext("fork").Process)();
  expect(() => p.start()).toThrow(BackendError);
  expect(() => p.start()).toThrow(/not implemented yet/);
  expect(p.pid).toBeUndefined();
});
