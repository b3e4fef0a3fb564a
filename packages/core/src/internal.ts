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
export { warmUpInheritedChild } from "./process.ts";
export { reportUncaught } from "./child-outcome.ts";
export { loads } from "./codec/index.ts";
export { encodeStart } from "./protocol/start.ts";
export * as native from "./native/index.ts";
export { arenaRoot } from "./arena/arena.ts";
export { Spare, type SpareChild } from "./spare.ts";
