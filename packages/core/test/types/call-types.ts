/**
 * Wrong calls that must fail `tsc` (issue #17): each `@ts-expect-error` line
 * is an error today, and the typecheck fails if it stops being one. Never run.
 */
import { type AsyncResult, type Lock, Pool, Process, getContext } from "../../src/index.ts";

function greet(name: string, lock: Lock): string {
  return `${name} ${String(lock)}`;
}
function square(x: number): number {
  return x * x;
}
function add(a: number, b: number): number {
  return a + b;
}
function noArgs(): number {
  return 1;
}
function optional(a?: number): number {
  return a ?? 0;
}

export async function typeChecks(lock: Lock): Promise<void> {
  // Process: args against the target's parameters.
  new Process({ target: greet, args: ["ann", lock] });
  new Process({ target: noArgs });
  new Process({ target: optional });
  new Process({ name: "no target" });
  // @ts-expect-error a number where the target takes a string
  new Process({ target: greet, args: [42, lock] });
  // @ts-expect-error a string where the target takes a Lock
  new Process({ target: greet, args: ["ann", "not a lock"] });
  // @ts-expect-error one argument too few
  new Process({ target: greet, args: ["ann"] });
  // @ts-expect-error one argument too many
  new Process({ target: square, args: [1, 2] });
  // @ts-expect-error args missing for a target that takes some
  new Process({ target: square });
  const mp = getContext("spawn");
  // @ts-expect-error the context's Process checks the same
  new mp.Process({ target: square, args: ["1"] });

  const pool = Pool();
  await pool.apply(add, [1, 2]);
  await pool.apply(noArgs);
  await pool.apply(optional);
  await pool.applyAsync(add, [1, 2], { timeout: 10 });
  await pool.applyAsync(noArgs);
  pool.applySync(add, [1, 2]);
  await pool.map(square, [1, 2]);
  await pool.starmap(add, [[1, 2]]);
  const sums: AsyncResult<number[]> = pool.starmapAsync(add, [[1, 2]], 1, { callback: (v: number[]) => v });
  await sums;
  // @ts-expect-error a string argument for a number parameter
  await pool.apply(add, [1, "2"]);
  // @ts-expect-error one argument too few
  await pool.apply(add, [1]);
  // @ts-expect-error args missing
  await pool.apply(add);
  // @ts-expect-error args missing
  pool.applySync(square);
  // @ts-expect-error args missing
  pool.applyAsync(square);
  // @ts-expect-error a wrong argument type
  pool.applyAsync(square, ["x"]);
  // @ts-expect-error a wrong argument type
  pool.applySync(square, ["x"]);
  // @ts-expect-error items of the wrong type
  await pool.map(square, ["a", "b"]);
  // @ts-expect-error items of the wrong type
  pool.mapSync(square, ["a"]);
  // @ts-expect-error items of the wrong type
  pool.mapAsync(square, ["a"]);
  // @ts-expect-error items of the wrong type
  pool.imap(square, ["a"]);
  // @ts-expect-error items of the wrong type
  pool.imapUnordered(square, ["a"]);
  // @ts-expect-error argument tuples of the wrong shape
  await pool.starmap(add, [[1, "2"]]);
  // @ts-expect-error argument tuples of the wrong length
  pool.starmapSync(add, [[1]]);
  // @ts-expect-error argument tuples of the wrong shape
  pool.starmapAsync(add, [[1, "2"]]);
  // @ts-expect-error argument tuples of the wrong length
  pool.starmapAsync(add, [[1]]);
  // @ts-expect-error items that are not argument tuples
  pool.starmapAsync(add, [1, 2]);
  // @ts-expect-error a callback that takes the wrong result type
  pool.starmapAsync(add, [[1, 2]], undefined, { callback: (v: string[]) => v });
}
