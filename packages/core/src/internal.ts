/** What backend packages need from core; not part of the public API. */
export { registerBackend } from "./backend-registry.ts";
export { registerBeforeFork, runBeforeFork } from "./before-fork.ts";
// The module of each library class loads when its first object arrives.
import "./class-modules.ts";
export {
  closeMirroredFds,
  closeOwnedFds,
  mirrorOwnedFds,
  mirrorOwnedMappings,
  setInheritedFds,
  unmapMirrored,
} from "./channel/realm-fds.ts";
export { bootstrapChild } from "./child.ts";
export {
  hasChildren,
  inheritedWarmUpLaunch,
  libraryExitListener,
  prepareInheritedChild,
  warmUpInheritedChild,
} from "./process.ts";
export { reportUncaught } from "./child-outcome.ts";
export { dumps, findExport, loads } from "./codec/index.ts";
// For @multiproc/cluster (#22): its Pool settles the same AsyncResult as the local one.
export { AsyncResult, settleResult } from "./pool/async-result.ts";
export type { ApplyOptions } from "./pool/pool-options.ts";
export type { ClusterModule } from "./cluster-registry.ts";
export type { ClusterOptions, ClusterPool, ClusterPoolOptions, ClusterTlsOptions } from "./pool/cluster-pool.ts";
export type { ClusterQueue, ClusterQueueOptions, ClusterQueueWait } from "./channel/cluster-queue.ts";
export { checkApplyOptions, isAsyncIterable, iteratorOf, materialise, checkArgLists } from "./pool/pool-options.ts";
export { checkChunksize, defaultChunksize } from "./pool/task.ts";
export { checkTimeout } from "./timeout.ts";
export { encodeStart } from "./protocol/start.ts";
export * as native from "./native/index.ts";
export { arenaRoot } from "./arena/arena.ts";
export { Spare, type SpareChild } from "./spare.ts";
