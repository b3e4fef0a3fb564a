/**
 * How a Pool's workers find a task's function: an exported function goes by
 * reference (module and name); on fork, any other function goes into the
 * pool's table, which workers forked after it inherit.
 */
import { dumps } from "../codec/encode.ts";
import { describeFunction, type ExportRef, findExport } from "../codec/exports.ts";
import { PicklingError } from "../errors.ts";
import { forkRef, knowsName } from "./fork-names.ts";
import type { TaskFn, TaskRef } from "./job.ts";
import type { PoolCore } from "./pool-core.ts";
import { refork } from "./workers.ts";

/** Throws here, in the parent, what would otherwise crash every worker at start. */
export function checkInitializer(core: PoolCore): void {
  const init = core.initializer;
  if (init !== null && findExport(init) === undefined) {
    throw new PicklingError(
      `Cannot start a pool on the ${core.backend} backend: the initializer ${describeFunction(init)} is not exported from any module; export it, or use the fork backend`,
      "initializer",
    );
  }
  dumps(core.initargs, { path: "initargs" });
}

/** The reference a worker finds `fn` by. @throws PicklingError when it cannot reach the workers */
export function refOf(core: PoolCore, fn: unknown, what: string): TaskRef {
  if (typeof fn !== "function") throw new TypeError(`${what} needs a function, got ${typeof fn}`);
  if (!core.inherits) {
    const exported = findExport(fn as TaskFn);
    if (exported !== undefined) return { fn: exported, local: -1 };
    throw new PicklingError(
      `Cannot run ${describeFunction(fn)} in a pool on the ${core.backend} backend: it is not exported from any module; export it from its module, or use the fork backend`,
      "fn",
    );
  }
  // Fork: workers are copies of this process, so any function works,
  // closures included. An exported function goes by reference, as on spawn
  // and worker: the worker finds it in its copy of the module (#18). Any
  // other is put in the pool's table, which workers forked before do not
  // have: the pool forks new ones.
  let index = core.localIndex.get(fn as TaskFn);
  if (index !== undefined) return { fn: index, local: index };
  const named = core.named.get(fn as TaskFn) ?? nameOf(core, fn as TaskFn);
  if (named !== undefined) return { fn: named, local: -1 };
  index = core.local.push(fn as TaskFn) - 1;
  core.localIndex.set(fn as TaskFn, index);
  refork(core, () => true);
  return { fn: index, local: index };
}

/**
 * Fork: the reference of an exported function, the first time the pool
 * meets it. Workers forked before its module had loaded are replaced
 * rather than left to load it: require() refuses a module with a top-level
 * await, and import() needs the runtime's event loop, which a fork child
 * does not run.
 */
function nameOf(core: PoolCore, fn: TaskFn): ExportRef | undefined {
  const ref = forkRef(fn);
  if (ref === undefined) return undefined;
  refork(core, (w) => !knowsName(w.names!, ref));
  core.named.set(fn, ref);
  return ref;
}
