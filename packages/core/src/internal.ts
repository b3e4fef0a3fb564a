/** What backend packages need from core; not part of the public API. */
export { registerBackend } from "./backend-registry.ts";
// Registers the channel reducers in every child before its arguments are decoded,
// even when the target's module imports only types from core.
import "./channel/index.ts";
export {
  closeMirroredFds,
  closeOwnedFds,
  mirrorOwnedFds,
  mirrorOwnedMappings,
  setInheritedFds,
  unmapMirrored,
} from "./channel/realm-fds.ts";
export { bootstrapChild, reportUncaught } from "./child.ts";
export { loads } from "./codec/index.ts";
export * as native from "./native/index.ts";
export { arenaRoot } from "./shared/arena.ts";
// A child decodes its arguments before it imports anything of the user's:
// load every class that registers a reducer, so they can arrive in `args`.
import "./shared/index.ts";
import "./sync/index.ts";
