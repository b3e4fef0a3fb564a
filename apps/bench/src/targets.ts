/** Exported child targets for the benchmarks (spawn and worker children import this module). */
import type { Lock } from "@multiproc/core";

export function noop(): void {}

/** Acquires and releases `lock` `times` times. */
export function hammer(lock: Lock, times: number): void {
  for (let i = 0; i < times; i++) {
    lock.acquireSync();
    lock.release();
  }
}
