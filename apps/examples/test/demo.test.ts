import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";

test("demo runs every program in src/ (but the demo and the command line helper)", () => {
  const src = new URL("../src/", import.meta.url).pathname;
  const programs = readdirSync(src)
    .filter((f) => f.endsWith(".ts") && f !== "demo.ts" && f !== "cli.ts")
    .map((f) => f.slice(0, -3))
    .sort();
  const demo = readFileSync(`${src}demo.ts`, "utf8");
  const listed = /const programs = (\[[^\]]*\])/.exec(demo)?.[1];
  expect(listed).toBeDefined();
  expect((JSON.parse(listed!) as string[]).sort()).toEqual(programs);
  expect(programs).toContain("multi5");
});
