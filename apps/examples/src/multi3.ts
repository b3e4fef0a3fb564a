/**
 * multi3 — Value, Array and globals. Shared memory objects passed to children
 * are shared; module globals are not (except what a fork child copies at
 * `start()`). The last phases distribute updates to children, under the
 * value's and the array's locks so that parallel children lose nothing.
 * Run with `bun apps/examples/src/multi3.ts --backend spawn`.
 */
import { threadId } from "node:worker_threads";
import {
  getStartMethod,
  Process,
  type SharedArray,
  SharedArray as makeArray,
  type Value,
  Value as makeValue,
} from "@multiproc/core";
import { backendFromArgs } from "./cli.ts";

const procs = 3;
/** Per-process global, not shared: each child has its own copy. */
let count = 0;

/** Prints the data as this process sees it. */
export function showdata(label: string, val: Value<number>, arr: SharedArray<"d">): void {
  // Worker children share the process id; the thread id tells them apart.
  const thread = threadId === 0 ? "" : `, thread:${threadId}`;
  const array = `[${Array.from(arr).join(", ")}]`;
  console.log(`${label.padEnd(12)}: pid:${process.pid}${thread}, global:${count}, value:${val.value}, array:${array}`);
}

/** Communicates through shared memory: the global changes only in this child. */
export function updater(val: Value<number>, arr: SharedArray<"d">): void {
  count += 1;
  // `+= 1` reads then writes: hold the lock so parallel children lose no update.
  {
    using _ = val.getLock().holdSync();
    val.value += 1;
  }
  using _ = arr.getLock().holdSync();
  for (let i = 0; i < procs; i++) arr[i]! += 1;
}

if (import.meta.main) {
  backendFromArgs();
  console.log(`[backend: ${getStartMethod()}]`);
  const scalar = makeValue("i", 0); // shared memory, guarded by its lock
  const vector = makeArray("d", procs); // a Float64Array over shared memory

  showdata("parent start", scalar, vector);

  let p = new Process({ target: showdata, args: ["child", scalar, vector] });
  p.start();
  await p.join();

  console.log("\nloop1 (updates in parent, serial children)...");
  for (let i = 0; i < procs; i++) {
    count += 1;
    scalar.value += 1;
    vector[i]! += 1;
    p = new Process({ target: showdata, args: [`process ${i}`, scalar, vector] });
    p.start();
    await p.join();
  }

  console.log("\nloop2 (updates in parent, parallel children)...");
  let ps: Process[] = [];
  for (let i = 0; i < procs; i++) {
    count += 1;
    scalar.value += 1;
    vector[i]! += 1;
    p = new Process({ target: showdata, args: [`process ${i}`, scalar, vector] });
    p.start();
    ps.push(p);
  }
  for (const child of ps) await child.join();

  console.log("\nloop3 (updates in serial children)...");
  for (let i = 0; i < procs; i++) {
    p = new Process({ target: updater, args: [scalar, vector] });
    p.start();
    await p.join();
  }
  showdata("parent temp", scalar, vector);

  console.log("\nloop4 (updates in parallel children)...");
  ps = [];
  for (let i = 0; i < procs; i++) {
    p = new Process({ target: updater, args: [scalar, vector] });
    p.start();
    ps.push(p);
  }
  for (const child of ps) await child.join();

  // global 6 in the parent only; value 12: +6 parent, +6 in 6 children; array 8 each: +2 parent, +6 children
  showdata("parent end", scalar, vector);
}
