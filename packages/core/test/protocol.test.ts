import { describe, expect, test } from "bun:test";
import { ProcessError } from "../src/index.ts";
import { bootstrapSchema, isBootstrap, parseBootstrap } from "../src/protocol/index.ts";

const good = {
  type: "bootstrap",
  version: 1,
  backend: "spawn",
  name: "Process-1",
  daemon: false,
  identity: [1],
  parent: { pid: 1, name: "MainProcess" },
  cls: null,
  target: { module: "/app/main.ts", name: "work" },
  argv: ["/usr/bin/bun", "/app/main.ts", "--verbose"],
  authkey: new Uint8Array(32),
  args: new Uint8Array(),
  fields: new Uint8Array(),
};

describe("protocol: bootstrap", () => {
  test("parseBootstrap() accepts a sound message", () => {
    expect(parseBootstrap(good).name).toBe("Process-1");
  });

  test("parseBootstrap() names the bad field of a malformed message", () => {
    expect(() => parseBootstrap({ ...good, daemon: "yes" })).toThrow(ProcessError);
    expect(() => parseBootstrap({ ...good, daemon: "yes" })).toThrow(/Malformed bootstrap message: daemon:/);
    expect(() => parseBootstrap({ ...good, target: { module: "", name: "x" } })).toThrow(/target\.module/);
    expect(() => parseBootstrap({ ...good, backend: "thread" })).toThrow(/backend/);
    expect(() => parseBootstrap("garbage")).toThrow(/Malformed bootstrap message/);
    expect(() => parseBootstrap({ ...good, version: 2 })).toThrow(/version/);
  });
});

describe("protocol: isBootstrap agrees with the zod schema", () => {
  // isBootstrap is the fast path; the schema is the contract. Mutate every
  // field of a sound message in many ways and require the same verdict.
  const variants: unknown[] = [
    undefined,
    null,
    0,
    -1,
    1.5,
    2,
    "",
    "x",
    true,
    [],
    {},
    [0],
    [1, 2],
    ["a", "b"],
    ["a", 1],
    new Uint8Array(1),
    { module: "m", name: "n" },
    { module: "", name: "n" },
    { pid: 3, name: "p" },
    { pid: 0, name: "p" },
    "bootstrap",
    "spawn",
    "fork",
    "thread",
  ];
  test("isBootstrap() === bootstrapSchema().safeParse().success for every one-field mutation", () => {
    expect(isBootstrap(good)).toBe(true);
    for (const key of Object.keys(good)) {
      for (const v of variants) {
        const m = { ...good, [key]: v };
        expect([key, v, isBootstrap(m)]).toEqual([key, v, bootstrapSchema().safeParse(m).success]);
      }
      const { [key]: _dropped, ...missing } = good as Record<string, unknown>;
      expect(isBootstrap(missing)).toBe(bootstrapSchema().safeParse(missing).success);
    }
  });
});
