import { describe, expect, test } from "bun:test";
import { ProcessError } from "../src/index.ts";
import { parseBootstrap } from "../src/protocol/index.ts";

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
