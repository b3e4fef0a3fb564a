/**
 * The worker backend's child entry, run by a new Bun Worker. On the prepare
 * message: load core, publish this thread's sentinel, make native waits
 * stoppable, and be READY (a spare worker waits here until a `start()`
 * needs it). On the start message: run core's bootstrap (which imports the
 * target's module afresh in this realm, with `import.meta.main === false`)
 * and exit with its code.
 */
// The message shapes only (core's protocol/control.ts, which loads nothing
// else of core): the prepare message is checked before core loads.
import {
  type PrepareMessage,
  parsePrepare,
  parseWorkerStart,
  type WorkerStartMessage,
} from "@multiproc/core/protocol/control";
import { NO_CODE, OWNED_FD_SLOTS, OWNED_MAP_SLOTS, OWNED_MAPS, State, WORDS, Word } from "./control.ts";
import { adoptSupervisorLine } from "./supervisor.ts";

/** futexWake count meaning "every waiter". */
const ALL = 0x7fff_ffff;

/** Ends the thread; `process.exit` itself also stores ENDED once core is loaded (see `run`). */
const exit: typeof process.exit = process.exit.bind(process);

/** The worker's global scope, as much of it as this file uses. */
declare const self: {
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  addEventListener(type: "error", listener: (event: ErrorEvent) => void): void;
};

/** Checks a message from the parent; a malformed one ends this worker (never the parent) with the bad field named. */
function checked<T>(parse: (message: unknown) => T, message: unknown): T {
  try {
    return parse(message);
  } catch (error) {
    console.error(`multiproc worker: ${(error as Error).message}`);
    process.exit(1);
  }
}

/** Settles with the start message, which may come while core still loads. */
let deliverStart: (message: WorkerStartMessage) => void = () => {};
/** Whether the start message came: a worker that already has its child does not warm core up ahead of it. */
let started = false;
const startMessage = new Promise<WorkerStartMessage>((resolve) => {
  deliverStart = resolve;
});

// One listener for both messages: one posted while nobody listens would be lost.
let prepared = false;
self.addEventListener("message", (event) => {
  if (!prepared) {
    prepared = true;
    const prepare = checked(parsePrepare, event.data);
    if (prepare.control.length !== WORDS) {
      console.error(
        `multiproc worker: Malformed prepare message: control: ${prepare.control.length} words, expected ${WORDS}`,
      );
      process.exit(1);
    }
    adoptSupervisorLine(prepare.supervisor);
    void run(prepare);
  } else {
    started = true;
    deliverStart(checked(parseWorkerStart, event.data));
  }
});

async function run({ control, arena }: PrepareMessage): Promise<void> {
  // Before core loads: its arena then carves from the parent's segments, so
  // this worker leaves no segment of its own behind when it ends.
  (globalThis as { [key: symbol]: unknown })[Symbol.for("multiproc.arenaRoot")] = arena;
  // The code this thread ends with, whatever the route: our own exit below,
  // the target's process.exit(n) (n & 0xff, as for a process), an uncaught
  // error (1). A terminate()/kill() of the parent wrote -15/-9 first and stays.
  process.on("exit", (code) => {
    Atomics.compareExchange(control, Word.EXIT, NO_CODE, code);
  });
  // Core is imported here, not statically: if it fails to load, the parent
  // must still learn that this worker ended, and it waits on STATE for that.
  // The lean part of core a child needs to start (see core's child-realm.ts), not all of it.
  let core: typeof import("@multiproc/core/child-realm");
  try {
    core = await import("@multiproc/core/child-realm");
  } catch (error) {
    console.error(error);
    // The descriptors of the start message were never taken: the parent closes them.
    Atomics.compareExchange(control, Word.EXIT, NO_CODE, 1);
    Atomics.store(control, Word.STATE, State.FAILED);
    process.exit(1);
  }
  const { addressOf, closeOwnedFds, futexWake, installStopWord, mirrorOwnedFds, mirrorOwnedMappings } = core;
  const { openThreadPidfd, runChildEntry, setInheritedFds } = core;
  ownedFdsCloser = closeOwnedFds;
  // ENDED (control.ts) after the last "exit" listener: one added as exit
  // begins runs after every listener registered before, and none added
  // later runs at all. Every way this worker ends on its own goes through
  // here; a stop (stop() below) does not: a killed child is joined once its
  // thread is gone, for the waits that look whether a holder or waiter died.
  const ended = (): void => {
    Atomics.store(control, Word.ENDED, 1);
    Atomics.notify(control, Word.ENDED);
    futexWake(addressOf(control, Word.ENDED), ALL);
  };
  process.exit = ((code?: number | string | null) => {
    process.on("exit", ended);
    return exit(code);
  }) as typeof process.exit;
  // Before anything owns a descriptor: the parent closes what is listed if terminate() ends us.
  mirrorOwnedFds(control, Word.OWNED_FDS, OWNED_FD_SLOTS);
  mirrorOwnedMappings(control, OWNED_MAPS, OWNED_MAP_SLOTS);
  Atomics.store(control, Word.SENTINEL, openThreadPidfd());
  Atomics.store(control, Word.STATE, State.READY);
  futexWake(addressOf(control, Word.STATE), ALL);
  // From here on, a stop ends native waits (futex, poll) through stop(); in
  // JavaScript, the parent's worker.terminate() ends us.
  installStopWord(control, { stop: Word.STOP, waiting: Word.WAITING }, stop);
  // While this worker waits for its child (a spare), it loads core's public
  // entry, which nearly every target module imports: a start message that
  // comes meanwhile finds the load under way, and the target's import joins
  // it. A worker made for a start that is already here (no spare was ready)
  // does not: its target may import nothing of core.
  if (!started) void core.warmPublicApi();

  const { bootstrap, fds, env } = await startMessage;
  // The descriptors are ours from RUNNING on, and the parent may then
  // terminate() us at any point, before the bootstrap took them: so they are
  // listed in OWNED_FDS first, where the parent finds them once we are gone.
  // (Until RUNNING the parent closes them itself, and never terminates us.)
  setInheritedFds(fds);
  Atomics.store(control, Word.STATE, State.RUNNING);
  futexWake(addressOf(control, Word.STATE), ALL);
  // A stop that came before we were running is seen here: the parent does not
  // terminate() a worker that has not taken its start message yet. stop()
  // closes the descriptors with the rest this realm owns.
  if (Atomics.load(control, Word.STOP) !== 0) stop();
  await runChildEntry({
    bootstrap,
    env,
    fallbackName: "worker",
    // Bun reports an uncaught error to one or the other: to the process
    // events in a plain program, to the worker scope's "error" event under `bun test`.
    alsoCrashOn: (crash) => self.addEventListener("error", (event) => crash(event.error ?? event.message)),
  });
}

/** Closes the descriptors this realm's Connections and Queues own, once core is loaded. */
let ownedFdsCloser: (() => void) | undefined;

/**
 * Ends this worker as a signal ends a process: at once, without "exit"
 * handlers (the parent already recorded -15 or -9). Descriptors are
 * process-wide and outlive the thread, so the ones its objects own are closed
 * here, as the kernel does at a process's death: peers then see end-of-file.
 */
function stop(): never {
  ownedFdsCloser?.();
  process.removeAllListeners("exit");
  exit(0);
}
