/**
 * multi5 — multi3's shared-state story told with a manager: the value and
 * the array live in a `Manager().dict()` held by the manager's server
 * process, and a manager `Lock` guards every read-modify-write, so that
 * parallel children lose no update. Module globals are still per process.
 * Run with `bun apps/examples/src/multi5.ts --backend spawn`.
 */
import { threadId } from "node:worker_threads";
import { type AcquirerProxy, type DictProxy, getStartMethod, Manager, Process } from "@multiproc/core";
import { backendFromArgs } from "./cli.ts";

const procs = 3;
/** Per-process global, not shared: each child has its own copy. */
let count = 0;

/** The manager's dict: a counter and an array of counters. */
type Shared = DictProxy<"value" | "array", number | number[]>;

/** Prints the data as this process sees it (each read is one call to the manager's server). */
export function showdata(label: string, shared: Shared): void {
  // Worker children share the process id; the thread id tells them apart.
  const thread = threadId === 0 ? "" : `, thread:${threadId}`;
  const value = shared.getSync("value") as number;
  const array = `[${(shared.getSync("array") as number[]).join(", ")}]`;
  console.log(`${label.padEnd(12)}: pid:${process.pid}${thread}, global:${count}, value:${value}, array:${array}`);
}

/** Adds one to the value and to each array slot, under the manager's lock. */
export function bump(shared: Shared, lock: AcquirerProxy, slots: number[]): void {
  // Read, add, write back: two children doing this at once would lose an
  // update without the lock. The array is written back whole: changing the
  // copy a get() returned changes nothing on the server (as in Python).
  using _ = lock.holdSync();
  shared.setSync("value", (shared.getSync("value") as number) + 1);
  const array = shared.getSync("array") as number[];
  for (const i of slots) array[i]! += 1;
  shared.setSync("array", array);
}

/** A child's update: its own global, and the shared counters. */
export function updater(shared: Shared, lock: AcquirerProxy): void {
  count += 1;
  bump(
    shared,
    lock,
    Array.from({ length: procs }, (_, i) => i),
  );
}

if (import.meta.main) {
  backendFromArgs();
  console.log(`[backend: ${getStartMethod()}]`);
  await using manager = await Manager(); // a server process of the same backend
  const shared: Shared = await manager.dict<"value" | "array", number | number[]>({
    value: 0,
    array: new Array(procs).fill(0),
  });
  const lock = await manager.Lock();

  showdata("parent start", shared);

  let p = new Process({ target: showdata, args: ["child", shared] });
  p.start();
  await p.join();

  console.log("\nloop1 (updates in parent, serial children)...");
  for (let i = 0; i < procs; i++) {
    count += 1;
    bump(shared, lock, [i]);
    p = new Process({ target: showdata, args: [`process ${i}`, shared] });
    p.start();
    await p.join();
  }

  console.log("\nloop2 (updates in parent, parallel children)...");
  let ps: Process[] = [];
  for (let i = 0; i < procs; i++) {
    count += 1;
    bump(shared, lock, [i]);
    p = new Process({ target: showdata, args: [`process ${i}`, shared] });
    p.start();
    ps.push(p);
  }
  for (const child of ps) await child.join();

  console.log("\nloop3 (updates in serial children)...");
  for (let i = 0; i < procs; i++) {
    p = new Process({ target: updater, args: [shared, lock] });
    p.start();
    await p.join();
  }
  showdata("parent temp", shared);

  console.log("\nloop4 (updates in parallel children)...");
  ps = [];
  for (let i = 0; i < procs; i++) {
    p = new Process({ target: updater, args: [shared, lock] });
    p.start();
    ps.push(p);
  }
  for (const child of ps) await child.join();

  // global 6 in the parent only; value 12: +6 parent, +6 in 6 children; array 8 each: +2 parent, +6 children
  showdata("parent end", shared);
}
