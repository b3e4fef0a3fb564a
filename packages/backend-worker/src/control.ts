/**
 * The control block a worker child shares with its parent: Int32 words in
 * a SharedArrayBuffer, sent with the arena as the worker's first message. Both
 * sides are threads of one process, so the words' address is the same for
 * both, and futex waits and wakes on it meet.
 *
 * The two messages the worker is posted are core's protocol/control.ts.
 *
 * Lifecycle: the parent creates the block (STATE = STARTING, EXIT = NO_CODE,
 * STOP = 0) and the Worker, and posts the prepare message. The worker loads
 * core, opens a pidfd for its own thread, stores it in SENTINEL, sets STATE =
 * READY and futex-wakes STATE (or sets STATE = FAILED when core does not
 * load; the parent looks at STATE between slices). A worker may wait READY,
 * as the spare (`spare.ts`), until `start()` posts the start message (the
 * bootstrap bytes and descriptors); taking it, the worker sets STATE =
 * RUNNING and wakes STATE again. EXIT is written once,
 * by whoever comes first: the worker's "exit" event (0, 1, or n from
 * `process.exit(n)`) or the parent's terminate/kill (-15/-9). The parent sets
 * STOP to the signal number and futex-wakes it, then reads WAITING: a worker
 * asleep in a native wait also sleeps on STOP (`installStopWord`), and ends
 * itself, closing its descriptors; any other worker is ended by
 * `worker.terminate()`, which interrupts JavaScript.
 *
 * The descriptors of the start message belong to the worker from RUNNING on;
 * the parent closes them if its thread ended before (failed, or dismissed).
 * The worker lists them in OWNED_FDS before it stores RUNNING: a terminate()
 * may end it before its bootstrap (which first imports the target's module)
 * has given them to their Queues and Connections.
 *
 * ENDED: the worker stores 1 and wakes it (futex and `Atomics.notify`) once
 * every "exit" listener has run, its own and its program's: its child is
 * over and its descriptors closed. A join returns then, not when the thread
 * is gone: the thread's teardown (the realm's heap) took 3-8 ms more, most
 * of a no-op child's start + join. What only the thread's end may release
 * (the mirrored descriptors and rings below) still waits for it. A thread
 * ended by `worker.terminate()` or a crash never stores ENDED: its end is
 * seen on SENTINEL or at the "close" event, as before.
 *
 * OWNED_FDS: the worker lists there the descriptors its Connections and
 * Queues own (core's `mirrorOwnedFds`): a worker ended by terminate() cannot
 * close them itself, and descriptors outlive their thread, so the parent
 * closes what is still listed once the thread is gone (`closeMirroredFds`).
 * Without that, a peer would never see end-of-file.
 *
 * OWNED_MAPS: likewise the queue rings the worker mapped (core's
 * `mirrorOwnedMappings`), 4 words each. A mapping cannot go while the thread
 * runs, and it pins its ring's memory, so the parent unmaps what is listed
 * once the thread is gone (`unmapMirrored`), however the worker ended.
 */

/** Named word offsets of the control block. */
export const Word = {
  /** `State.STARTING` until SENTINEL is valid, then `State.READY`, then `State.RUNNING` from the start message on. */
  STATE: 0,
  /** The worker thread's pidfd (PIDFD_THREAD): readable once the thread has ended. */
  SENTINEL: 1,
  /** The exit code, or `NO_CODE` while there is none. First writer wins. */
  EXIT: 2,
  /** 0, or the signal number (15, 9) the parent stopped the worker with. The worker's stop word. */
  STOP: 3,
  /** 1 while the worker sleeps in a native wait, where it sees STOP itself (`installStopWord`). */
  WAITING: 4,
  /** 1 once the worker ran every "exit" listener (its end is near, its child over); 0 before. Written by the worker only. */
  ENDED: 5,
  /**
   * 1 once the thread of a supervised worker (supervisor.ts) is gone: its
   * "close" event comes to the supervisor, which stores this and wakes it
   * (futex and `Atomics.notify`). Unused for a Worker its parent made itself.
   */
  GONE: 6,
  /** First of `OWNED_FD_SLOTS` words: each 0, or a descriptor the worker owns, plus one. Written by the worker only. */
  OWNED_FDS: 7,
} as const;

/** How many owned descriptors the block lists at a time; more are not closed if the worker is terminated. */
export const OWNED_FD_SLOTS = 256;

/** First word of the `OWNED_MAP_SLOTS` slots of 4 words, each empty (0) or a ring mapping of the worker's. */
export const OWNED_MAPS = Word.OWNED_FDS + OWNED_FD_SLOTS;

/** How many ring mappings the block lists at a time; more stay mapped after the worker ends. */
export const OWNED_MAP_SLOTS = 64;

/** Number of words in the block. */
export const WORDS = OWNED_MAPS + 4 * OWNED_MAP_SLOTS;

/**
 * Values of `Word.STATE`. READY: core is loaded and SENTINEL valid; the
 * worker waits for its start message. FAILED: core could not be loaded in
 * the worker, so there is no sentinel; EXIT is 1 and the worker is ending.
 */
export const State = { STARTING: 0, RUNNING: 1, FAILED: 2, READY: 3 } as const;

/** `Word.EXIT` before anyone wrote an exit code (no exit code can be this value). */
export const NO_CODE = -0x8000_0000;

/** Makes a fresh control block. */
export function newControlBlock(): Int32Array {
  const control = new Int32Array(new SharedArrayBuffer(WORDS * 4));
  control[Word.EXIT] = NO_CODE;
  return control;
}
