/**
 * The interface a backend implements (Python's `Popen` classes, made explicit):
 * launch a child, signal it, wait for it, give its sentinel. Everything else
 * (names, the children set, exit bookkeeping, argument checks) is core's.
 */
import type { BackendName } from "./config.ts";

/** What a backend can do, as data: core checks it at `start()`, the suite skips by it. */
export interface BackendCapabilities {
  /** Whether the backend works on this platform and in this build. */
  readonly available: boolean;
  /** The child is a copy of the parent's memory: closures, unexported classes, live globals. */
  readonly inheritsMemory: boolean;
  /** The child is another OS process with its own pid (false for threads). */
  readonly separateProcess: boolean;
}

/** What every request to start a child carries, however the child gets its code. */
interface LaunchCommon {
  /** The child's name, for messages. */
  readonly name: string;
  readonly daemon: boolean;
  /**
   * Descriptors the child must receive at start, in order (Connections and
   * Queues in the arguments). They may be closed by the parent as soon as
   * `launch` returns, so a backend hands over copies: spawn sends them with
   * its start message (SCM_RIGHTS); a thread backend dups them. The child
   * side calls `setInheritedFds(itsCopies)` (core/internal) before the
   * bootstrap. Empty for backends that inherit memory.
   */
  readonly fds: readonly number[];
}

/** A child that inherits the parent's memory (fork): it runs a function of its copy of the program. */
export interface InheritedLaunch extends LaunchCommon {
  readonly code: "inherited";
  /**
   * Called in the child's copy of the program: the exit code once `run()`
   * returned, or, when it returned a promise, a promise of the code once that settled.
   */
  readonly runInChild: () => number | Promise<number>;
}

/** A child that imports the program afresh (spawn, worker) from the bootstrap message. */
export interface ImportedLaunch extends LaunchCommon {
  readonly code: "imported";
  /** The encoded bootstrap message (see `protocol/bootstrap.ts`). */
  readonly bootstrap: Uint8Array;
}

/**
 * What core hands a backend to start one child, keyed by how the child gets
 * its code: `inheritsMemory` backends get an `InheritedLaunch`, the others an
 * `ImportedLaunch`.
 */
export type LaunchRequest = InheritedLaunch | ImportedLaunch;

/** A started child as the parent sees it. */
export interface ChildHandle {
  /** OS process id (the parent's own pid for a thread). */
  readonly pid: number;
  /** A descriptor that becomes readable when the child ends (Python: `sentinel`). */
  readonly sentinel: number | undefined;
  /** The exit code if the child has ended (Python's returncode: -N for signal N), else null. */
  poll(): number | null;
  /** Blocks the calling thread until the child ends or `timeoutMs` passes; returns `poll()`. */
  waitSync(timeoutMs: number | undefined): number | null;
  /** Resolves when the child ends or `timeoutMs` passes, with `poll()`. Never blocks the loop. */
  wait(timeoutMs: number | undefined): Promise<number | null>;
  /** Sends SIGTERM (15) or SIGKILL (9); a child that already ended is not an error. */
  signal(signal: 9 | 15): void;
  /** Releases the handle's descriptors once the child has ended. */
  close(): void;
}

/** One way of running children. */
export interface Backend {
  readonly name: BackendName;
  readonly capabilities: BackendCapabilities;
  /** Starts a child; returns once the child has everything it needs. */
  launch(request: LaunchRequest): ChildHandle;
}
