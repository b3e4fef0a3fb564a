/**
 * The supervisor's line (#18 point 4): a Worker that a worker child makes
 * itself ends with it, as Bun ends nested Workers with the thread that made
 * them; Python's non-daemon children outlive a terminated parent. So the
 * Worker of a worker child's non-daemon child is made by the supervisor
 * (supervisor-entry.ts), a Worker the main thread makes with its first
 * worker child, which lives as long as the process and runs no user code, so
 * its event loop is always free to make one (the main thread may be blocked
 * in a sync wait). Every worker gets a line to it in its prepare message.
 * The process cannot end before its threads do: at exit, the main thread
 * waits for every Worker the supervisor still owns (the orphans).
 */
import type { WorkerStartMessage } from "@multiproc/core/protocol/control";

const SUPERVISOR_ENTRY = new URL("./supervisor-entry.ts", import.meta.url).href;

/** What a thread asks of the supervisor. */
export type SupervisorRequest =
  /** Listen on `port` too: the line of a Worker about to be made. */
  | { readonly kind: "line"; readonly port: MessagePort }
  /**
   * Where to count the Workers the supervisor owns (word 0), and where it
   * publishes its own thread's pidfd (word 1, 0 until then): sent once, by the main thread.
   */
  | { readonly kind: "live"; readonly live: Int32Array }
  /** Make a Worker for a child: its control block, arena and start message; `stop` asks to terminate() it. */
  | ({
      readonly kind: "make";
      readonly control: Int32Array;
      readonly arena: Int32Array;
      readonly stop: MessagePort;
    } & WorkerStartMessage);

/** This worker's line to the supervisor, from its prepare message (none in the main thread). */
let line: MessagePort | undefined;
/** The supervisor (main thread only), made with the first line asked for. */
let supervisor: Worker | undefined;
/** Word 0: how many Workers the supervisor owns that have not ended; word 1: its pidfd (main thread only). */
let live: Int32Array | undefined;
/** The Workers the main thread gave a line to, while they may still use it. */
const holders = new Set<LineHolder>();
let exitHookInstalled = false;

/** A Worker holding a line: done once it can no longer ask anything (its program ended, or it was let go). */
export interface LineHolder {
  readonly lineDone: boolean;
  /** Waits (at most `timeoutMs`) for its thread to end if its program already has. */
  awaitThreadEnd(timeoutMs: number): void;
}

/** Counts `holder` among those that may still use a line (main thread; see `beforeFork`). */
export function holdsLine(holder: LineHolder): void {
  if (!Bun.isMainThread) return;
  for (const h of holders) if (h.lineDone) holders.delete(h);
  holders.add(holder);
}

/** Keeps this worker's line to the supervisor (entry.ts, from the prepare message). */
export function adoptSupervisorLine(port: MessagePort | undefined): void {
  line = port;
}

/** A new line to the supervisor, for a Worker this thread is about to make. */
export function newSupervisorLine(): MessagePort {
  const { port1, port2 } = new MessageChannel();
  askSupervisor({ kind: "line", port: port1 }, [port1]);
  return port2;
}

/** Whether this thread can ask the supervisor to make Workers (the main thread always can). */
export function hasSupervisor(): boolean {
  return Bun.isMainThread || line !== undefined;
}

/** Posts `request` to the supervisor, from any thread; the main thread makes it first if need be. */
export function askSupervisor(request: SupervisorRequest, transfer: MessagePort[]): void {
  if (!Bun.isMainThread) {
    if (line === undefined) throw new Error("This worker has no line to the worker backend's supervisor");
    line.postMessage(request, transfer);
    return;
  }
  if (supervisor === undefined) {
    live = new Int32Array(new SharedArrayBuffer(8));
    supervisor = new Worker(SUPERVISOR_ENTRY);
    // Like any child, it does not keep the program alive; the exit hook waits for what it owns.
    supervisor.unref();
    supervisor.postMessage({ kind: "live", live } satisfies SupervisorRequest);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      // Once this start() has installed core's exit hook (a microtask later), and after the
      // spare's before-fork hook: orphans are joined after the program's own children.
      queueMicrotask(() => {
        process.on("exit", joinOrphans);
        const { registerBeforeFork } = require("@multiproc/core/internal") as typeof import("@multiproc/core/internal");
        registerBeforeFork(beforeFork);
      });
    }
  }
  supervisor.postMessage(request, transfer);
}

/** How long letting an idle supervisor go may wait for its thread to end (ms). */
const DISMISS_TIMEOUT_MS = 2000;

/**
 * Before a fork (fork(2) copies only the calling thread, and a child could
 * wait forever on a runtime lock another thread held): threads of joined
 * children are waited for, and the supervisor is let
 * go when no Worker it owns runs and no Worker may still ask it for one; the
 * next worker child makes a new one. Otherwise those threads run anyway, and
 * the fork backend warns about them.
 */
function beforeFork(): void {
  // Children joined once their program ended, whose threads still tear down: a fork now would copy them mid-way.
  for (const holder of holders) holder.awaitThreadEnd(DISMISS_TIMEOUT_MS);
  const words = live;
  if (supervisor === undefined || words === undefined || Atomics.load(words, 0) !== 0) return;
  for (const holder of holders) if (!holder.lineDone) return;
  const { native } = require("@multiproc/core/internal") as typeof import("@multiproc/core/internal");
  // Its pidfd is published first thing (stored, then woken); a supervisor
  // made just now may still be loading core.
  native.futexWait(native.addressOf(words, 1), 0, DISMISS_TIMEOUT_MS);
  const pidfd = Atomics.load(words, 1);
  supervisor.terminate();
  if (pidfd > 0) {
    native.pollReadable(pidfd, DISMISS_TIMEOUT_MS);
    native.closeFd(pidfd);
  }
  supervisor = undefined;
  live = undefined;
  holders.clear();
}

/** At exit: waits until every Worker the supervisor owns has ended (a thread cannot outlive its process). */
function joinOrphans(): void {
  const words = live;
  if (words === undefined) return;
  const { native } = require("@multiproc/core/internal") as typeof import("@multiproc/core/internal");
  const address = native.addressOf(words, 0);
  // The supervisor lowers the count and wakes it at each Worker's "close" event.
  for (let n = Atomics.load(words, 0); n > 0; n = Atomics.load(words, 0)) native.futexWait(address, n, 1000);
}
