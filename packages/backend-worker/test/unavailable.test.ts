import { expect, test } from "bun:test";
import { BackendError, getAllStartMethods, getContext } from "@multiproc/core";
import { backend } from "../src/index.ts";

// The worker backend is not built yet (issue #3): it must say so, clearly, at start().
test("the worker backend refuses to start with a BackendError until issue #3 lands", () => {
  expect(backend.capabilities.available).toBe(false);
  expect(getAllStartMethods()).not.toContain("worker");
  const p = new (getContext("worker").Process)();
  expect(() => p.start()).toThrow(BackendError);
  expect(() => p.start()).toThrow(/not implemented yet/);
  expect(p.pid).toBeUndefined();
});
