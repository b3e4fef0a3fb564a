import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, getAllStartMethods, getContext, getStartMethod, setStartMethod } from "../src/index.ts";
import { configuredBackend, loadAppConfig } from "../src/config.ts";

const savedEnv = process.env.MULTIPROC_BACKEND;
afterEach(() => {
  if (savedEnv === undefined) delete process.env.MULTIPROC_BACKEND;
  else process.env.MULTIPROC_BACKEND = savedEnv;
});

function appWith(pkg: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "multiproc-config-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify(pkg));
  const nested = join(dir, "src", "deep");
  mkdirSync(nested, { recursive: true });
  return nested;
}

describe("configuration", () => {
  test("loadAppConfig() reads the nearest package.json upward", () => {
    expect(loadAppConfig(appWith({ name: "app", multiproc: { backend: "worker" } }))).toEqual({ backend: "worker" });
    expect(loadAppConfig(appWith({ name: "app" }))).toEqual({});
  });

  test("loadAppConfig() names the field, the value and the choices", () => {
    const dir = appWith({ multiproc: { backend: "thread" } });
    expect(() => loadAppConfig(dir)).toThrow(ConfigError);
    expect(() => loadAppConfig(dir)).toThrow(/multiproc\.backend.*"thread".*"fork", "spawn", "worker"/);
    expect(() => loadAppConfig(appWith({ multiproc: { backnd: "fork" } }))).toThrow(/backnd/);
  });

  test('loadAppConfig() says that "multiproc" must be an object when it is a string, an array or null', () => {
    expect(() => loadAppConfig(appWith({ multiproc: "fork" }))).toThrow(
      /"multiproc" in .*package\.json must be an object such as \{ "backend": "spawn" \}, got the string "fork"$/,
    );
    expect(() => loadAppConfig(appWith({ multiproc: ["fork"] }))).toThrow(
      /must be an object .*got an array \["fork"\]/,
    );
    expect(() => loadAppConfig(appWith({ multiproc: null }))).toThrow(/must be an object .*got null$/);
  });

  test("MULTIPROC_BACKEND wins over package.json and is validated", () => {
    process.env.MULTIPROC_BACKEND = "worker";
    expect(configuredBackend()).toBe("worker");
    process.env.MULTIPROC_BACKEND = "nope";
    expect(() => configuredBackend()).toThrow(/MULTIPROC_BACKEND: "nope"; expected one of/);
  });

  test("configuredBackend() is spawn when nothing is configured, else the app's package.json choice", () => {
    const cwd = process.cwd();
    try {
      delete process.env.MULTIPROC_BACKEND;
      process.chdir(appWith({ name: "app" }));
      expect(configuredBackend()).toBe("spawn");
      // An empty variable counts as unset.
      process.env.MULTIPROC_BACKEND = "";
      expect(configuredBackend()).toBe("spawn");
      // The same call reads package.json when it names a backend (so the default above is not a constant).
      process.chdir(appWith({ name: "app", multiproc: { backend: "worker" } }));
      expect(configuredBackend()).toBe("worker");
    } finally {
      process.chdir(cwd);
    }
  });
});

describe("contexts", () => {
  test("getContext() rejects an unknown name with ConfigError", () => {
    expect(() => getContext("nope" as "fork")).toThrow(ConfigError);
    expect(() => getContext("nope" as "fork")).toThrow(/"nope"/);
  });

  test("getContext(name) binds Process and the factories to that backend", () => {
    const mp = getContext("spawn");
    expect(mp.startMethod).toBe("spawn");
    expect(mp.getStartMethod()).toBe("spawn");
    expect(mp.Process.startMethod).toBe("spawn");
    expect(new mp.Process()).toBeInstanceOf(getContext().Process);
    expect(getContext("spawn")).toBe(mp);
    expect(typeof mp.Lock().acquireSync).toBe("function");
  });

  test("setStartMethod() a second time needs force, as in Python", () => {
    setStartMethod("spawn", { force: true });
    expect(getStartMethod()).toBe("spawn");
    setStartMethod("spawn");
    expect(() => setStartMethod("worker")).toThrow(/already been set to "spawn"/);
    setStartMethod("worker", { force: true });
    expect(getStartMethod()).toBe("worker");
    expect(() => setStartMethod("bad" as "fork", { force: true })).toThrow(ConfigError);
    setStartMethod("spawn", { force: true });
  });

  test("getAllStartMethods() lists the backends usable here", () => {
    expect(getAllStartMethods()).toContain("spawn");
  });
});
