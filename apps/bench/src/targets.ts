/** Exported child targets for the benchmarks (spawn and worker children import this module). */
import type { Connection, Lock } from "@multiproc/core";

export function noop(): void {}

/** Acquires and releases `lock` `times` times. */
export function hammer(lock: Lock, times: number): void {
  for (let i = 0; i < times; i++) {
    lock.acquireSync();
    lock.release();
  }
}

/** Adds 1 to elements `from` (inclusive) to `to` (exclusive) of a shared array. */
export function addOne(array: Float64Array, from: number, to: number): void {
  for (let i = from; i < to; i++) array[i]! += 1;
}

/** Echoes each byte message back until an empty one. */
export function echoBytes(conn: Connection): void {
  for (;;) {
    const bytes = conn.recvBytesSync();
    if (bytes.length === 0) return;
    conn.sendBytes(bytes);
  }
}
