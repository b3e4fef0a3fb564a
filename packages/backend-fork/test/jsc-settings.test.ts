import { describe, expect, test } from "bun:test";
import { JSC_SETTINGS } from "../src/jsc-settings.ts";

const PROGRAM = new URL("./fixtures/fork-once.ts", import.meta.url).pathname;
const PRELOAD = new URL("../src/preload.ts", import.meta.url).pathname;

/** Runs fork-once.ts in a bun started without the JSC settings (this test runner has them: drop them). */
function forkOnce(opts: { preload?: boolean; env?: Record<string, string> }): { stdout: string; stderr: string } {
  const env: Record<string, string | undefined> = { ...process.env, MULTIPROC_FORK_REEXEC: undefined, ...opts.env };
  for (const k of Object.keys(JSC_SETTINGS)) env[k] = undefined;
  const args = opts.preload ? ["--preload", PRELOAD, PROGRAM] : [PROGRAM];
  const r = Bun.spawnSync([process.execPath, ...args], { env, stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  return { stdout: r.stdout.toString().trim(), stderr: r.stderr.toString() };
}

describe("[fork] JavaScriptCore settings", () => {
  test("start() without them throws BackendError giving both bunfig lines; no child runs", () => {
    const r = forkOnce({});
    expect(r.stdout).toStartWith("BackendError: The fork backend refuses to fork");
    expect(r.stdout).not.toContain("child ran");
    expect(r.stdout).toContain('preload = ["@multiproc/backend-fork/preload"] (for bun run)');
    expect(r.stdout).toContain('under [test], preload = ["@multiproc/backend-fork/preload"] (for bun test)');
    expect(r.stdout).toContain("MULTIPROC_FORK_UNSAFE=1");
  });

  test("MULTIPROC_FORK_UNSAFE=1 forks without them, with one warning", () => {
    const r = forkOnce({ env: { MULTIPROC_FORK_UNSAFE: "1" } });
    expect(r.stdout).toBe("child ran\nexit 0");
    expect(r.stderr.match(/multiproc: warning: the fork backend runs without/g)?.length).toBe(1);
  });

  test("with the preload the child runs and nothing is said", () => {
    const r = forkOnce({ preload: true });
    expect(r.stdout).toBe("child ran\nexit 0");
    expect(r.stderr).toBe("");
  });
});
