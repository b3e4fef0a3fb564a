/**
 * The no-op child of the start + join rows and curves (spawn and worker
 * children import this module): a module that imports `Lock` from core, as a
 * typical program does, and no more of the library (#17 point 7 measures
 * start-up so). A module importing more (targets.ts: core/internal too)
 * loads about 30 more of core's modules in each child.
 */
import { Lock } from "@multiproc/core";

export function noop(): void {}

/** Takes and gives back a new Lock: the module's use of what it imports. */
export function lockOnce(): void {
  const lock = Lock();
  lock.acquireSync();
  lock.release();
}
