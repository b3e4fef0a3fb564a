/**
 * The "what works in a fork child" matrix of docs/fork.md, measured: each
 * runtime service is used in a fork child, and the outcome (works, or
 * reported as never completing: exit code 1 with an explanation on stderr,
 * never a silent hang) must be the documented one.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { suite } from "../../core/test/conformance/harness.ts";
import "../src/index.ts";

const s = suite("fork");
const { mp } = s;

type Outcome = "works" | "reported";

async function outcome(use: () => unknown): Promise<Outcome | string> {
  const out = s.file("service");
  writeFileSync(out, "");
  const p = new mp.Process({
    target: async () => {
      await use();
      writeFileSync(out, "done");
    },
  });
  p.start();
  await p.join(10_000);
  if (p.exitCode === null) {
    p.kill();
    await p.join(10_000);
    return "hung";
  }
  const done = readFileSync(out, "utf8") === "done";
  if (p.exitCode === 0 && done) return "works";
  if (p.exitCode === 1 && !done) return "reported";
  return `exit ${p.exitCode}, done=${done}`;
}

const file = () => {
  const path = s.file("data");
  writeFileSync(path, "payload");
  return path;
};

/** Service → how it behaves in a fork child (the table in docs/fork.md). */
const matrix: Array<[string, Outcome, () => unknown]> = [
  ["sync fs (readFileSync, writeFileSync)", "works", () => readFileSync(file(), "utf8")],
  ["timers (setTimeout, setInterval, setImmediate, Bun.sleep)", "works", () => Bun.sleep(5)],
  ["node:timers/promises", "works", async () => (await import("node:timers/promises")).setTimeout(5)],
  ["console.log and process.stdout.write", "works", () => process.stdout.write("")],
  [
    "crypto (sync: createHash, randomBytes, getRandomValues)",
    "works",
    async () => {
      const c = await import("node:crypto");
      c.createHash("sha256").update("x").digest("hex");
      c.randomBytes(8);
      crypto.getRandomValues(new Uint8Array(8));
    },
  ],
  ["zlib sync (gzipSync)", "works", async () => (await import("node:zlib")).gzipSync("x".repeat(1000))],
  [
    "Bun.spawnSync",
    "works",
    () => {
      if (Bun.spawnSync(["true"]).exitCode !== 0) throw new Error("spawnSync failed");
    },
  ],
  ["dynamic import() of a module already loaded", "works", () => import("node:fs")],
  [
    "require() of a module not loaded yet",
    "works",
    () => {
      const m = require("./fixtures/late-required.ts") as typeof import("./fixtures/late-required.ts");
      if (m.lateRequired !== "late-required") throw new Error("wrong module");
    },
  ],
  ["fs.promises", "reported", async () => (await import("node:fs/promises")).readFile(file(), "utf8")],
  ["Bun.file().text()", "reported", () => Bun.file(file()).text()],
  ["fetch", "reported", () => fetch("http://127.0.0.1:9/")],
  ["Bun.spawn(...).exited", "reported", () => Bun.spawn(["true"]).exited],
  ["crypto.subtle.digest", "reported", () => crypto.subtle.digest("SHA-256", new Uint8Array(4))],
  ["dynamic import() of a module not loaded yet", "reported", () => import("./fixtures/late-module.ts")],
];

describe("[fork] runtime services in a fork child (docs/fork.md matrix)", () => {
  for (const [name, expected, use] of matrix) {
    test(`${name}: ${expected}`, async () => {
      expect(await outcome(use)).toBe(expected);
    });
  }
});
