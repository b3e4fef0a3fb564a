/** Shared helpers of the conformance suite: the backend under test, temp files, bounded waits. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "bun:test";
import {
  activeChildren,
  type BackendName,
  type Context,
  getContext,
  type Process,
  setStartMethod,
} from "../../src/index.ts";
import { loadBackend } from "../../src/backend-registry.ts";
import { timedWait, type WaitCall, type WaitReport } from "../fixtures/edge-targets.ts";

/** Longest any single child may take in a test before it counts as hung. */
export const CHILD_TIMEOUT = 20_000;

export interface Suite {
  backend: BackendName;
  mp: Context;
  /** The backend's capability record, for skips by declaration. */
  caps: ReturnType<typeof loadBackend>["capabilities"];
  /** A fresh file path in this suite's temp folder. */
  file(name: string): string;
}

/** Sets up a suite for `backend`: default start method, temp folder, and a leak check at the end. */
export function suite(backend: BackendName): Suite {
  let dir = "";
  beforeAll(() => {
    setStartMethod(backend, { force: true });
    dir = mkdtempSync(join(tmpdir(), `multiproc-${backend}-`));
  });
  afterAll(async () => {
    const live = activeChildren();
    for (const p of live) p.kill();
    rmSync(dir, { recursive: true, force: true });
    if (live.length > 0) throw new Error(`Leaked ${live.length} live children: ${live.map(String).join(", ")}`);
  });
  let n = 0;
  return {
    backend,
    mp: getContext(backend),
    caps: loadBackend(backend).capabilities,
    file: (name) => join(dir, `${name}-${++n}.json`),
  };
}

/** Starts `p` and joins it with a bound, failing instead of hanging. */
export async function run(p: Process, timeout = CHILD_TIMEOUT): Promise<Process> {
  p.start();
  await p.join(timeout);
  if (p.exitCode === null) {
    p.kill();
    await p.join(timeout);
    throw new Error(`${p.name} did not end within ${timeout} ms`);
  }
  return p;
}

/** Parses the JSON a child wrote. */
export function readJson<T = Record<string, unknown>>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

/** Longest a wait that must not wait (a negative timeout) may take, however loaded the machine. */
export const NO_WAIT_MS = 1000;

/** Makes the wait `call` on `obj` with `timeout` ms in a child of the suite's backend; returns its report. */
export async function waitInChild(
  s: Suite,
  call: WaitCall,
  obj: unknown,
  timeout: number | undefined,
): Promise<WaitReport> {
  const out = s.file(`wait-${call}`);
  const p = await run(new s.mp.Process({ target: timedWait, args: [out, call, obj, timeout] }), 10_000);
  if (p.exitCode !== 0) throw new Error(`The child making ${call} ended with exit code ${p.exitCode}`);
  return readJson<WaitReport>(out);
}
