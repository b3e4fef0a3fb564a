// The README's programs, run the way a user runs them: `bun hello.ts` and `bun pool.ts`
// on each backend, and the same calls inside `bun test` (this file), against the
// packed packages installed in an app outside the repository (see ../user-app.sh).
import { expect, test } from "bun:test";
import { type BackendName, type Lock, getContext } from "@multiproc/core";
import { greet } from "./hello";
import { square } from "./pool";

// fork first: once a worker child ran, this process has Worker threads, and a
// fork after that rightly prints the backend's hazard warning (docs/fork.md).
const backends: BackendName[] = ["fork", "spawn", "worker"];

function run(file: string, backend: BackendName): { out: string; err: string; code: number | null } {
  const p = Bun.spawnSync(["bun", file], {
    env: { ...process.env, MULTIPROC_BACKEND: backend },
    timeout: 60_000,
  });
  return { out: p.stdout.toString(), err: p.stderr.toString(), code: p.exitCode };
}

for (const backend of backends) {
  test(`${backend}: bun hello.ts greets twice and prints the exit codes`, () => {
    const r = run("hello.ts", backend);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/hello ann from pid \d+/);
    expect(r.out).toMatch(/hello bob from pid \d+/);
    expect(r.out).toContain("[ 0, 0 ]");
  });

  test(`${backend}: bun pool.ts maps`, () => {
    const r = run("pool.ts", backend);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe("[ 1, 4, 9 ]");
  });

  test(`${backend}: under bun test, a Process and a Pool work without a warning`, async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const mp = getContext(backend);
      const lock: Lock = mp.Lock();
      const child = new mp.Process({ target: greet, args: ["carl", lock] });
      child.start();
      await child.join(30_000);
      expect(child.exitCode).toBe(0);
      await using pool = mp.Pool(2);
      expect(await pool.map(square, [1, 2, 3])).toEqual([1, 4, 9]);
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.map((w) => w.message)).toEqual([]);
  }, 60_000);
}
