/**
 * multi1 — Process and Lock. `whoami` prints who runs it while holding a lock:
 * called directly, in one joined child, then in five children left running
 * while the main program prints its exit line. Run with
 * `bun apps/examples/src/multi1.ts --backend spawn`.
 */
import { basename } from "node:path";
import { threadId } from "node:worker_threads";
import { getStartMethod, type Lock, Lock as makeLock, Process } from "@multiproc/core";
import { backendFromArgs } from "./cli.ts";

/** The module's name: what Python prints as `__name__`. */
const moduleName = basename(import.meta.path, ".ts");

export function whoami(label: string, lock: Lock): void {
  // Worker children share the process id; the thread id tells them apart.
  const thread = threadId === 0 ? "" : `, thread:${threadId}`;
  lock.acquireSync();
  try {
    console.log(`${label}: name:${moduleName}, pid:${process.pid}${thread}`);
  } finally {
    lock.release();
  }
}

if (import.meta.main) {
  backendFromArgs();
  console.log(`[backend: ${getStartMethod()}]`);
  const lock = makeLock();
  whoami("function call", lock);

  const p = new Process({ target: whoami, args: ["spawned child", lock] });
  p.start();
  await p.join();

  for (let i = 0; i < 5; i++) {
    new Process({ target: whoami, args: [`run process ${i}`, lock] }).start();
  }
  lock.acquireSync();
  console.log("Main process exit.");
  lock.release();
}
