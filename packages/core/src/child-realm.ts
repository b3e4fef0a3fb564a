/**
 * What a backend's child entry needs from core before the target runs, and
 * nothing more (about twenty of core's modules). A spawn or worker child
 * loads this at every start, and each module a new realm loads adds to it
 * (the start + join rows of `bun run bench` for spawn and worker,
 * apps/bench/src/ours.ts). The rest comes when the child's own code asks for it.
 */
// Library objects (a Lock, a Queue...) may arrive in the arguments: the
// module of each class loads when the first object of that class is met.
import "./class-modules.ts";

export { closeOwnedFds, mirrorOwnedFds, mirrorOwnedMappings, setInheritedFds } from "./channel/realm-fds.ts";
export { runChildEntry } from "./child-entry.ts";
export { closeFd } from "./native/file.ts";
export { futexWake } from "./native/futex.ts";
export { openThreadPidfd } from "./native/thread-exit.ts";
export { addressOf, installStopWord } from "./native/thread-stop.ts";

/**
 * Loads core's public entry (`@multiproc/core`) into this realm ahead of
 * need: a child made before it has work (a backend's spare) calls it while
 * it waits, so a target module that imports the library finds it loaded, the
 * same module instance (this realm has one), at no cost to its start. About
 * half of a worker child's start + join was that import (docs/benchmarks.md).
 * Never rejects: a core that fails to load fails the target's own import,
 * which reports it as the child's error.
 */
export function warmPublicApi(): Promise<void> {
  return import("./index.ts").then(
    () => {},
    () => {},
  );
}
