/**
 * The supervisor Worker (supervisor.ts): makes the Worker of each non-daemon
 * child that a worker child starts, and owns it, so that it outlives that
 * parent. Runs no user code. At a Worker's "close" event it does what the
 * parent's handle cannot do from another thread: release what the ended
 * worker still held (its start descriptors if it never ran, the mirrored
 * descriptors and rings), then store GONE and count it out.
 */
import { closeMirroredFds, native, unmapMirrored } from "@multiproc/core/internal";
import { OWNED_FD_SLOTS, OWNED_MAP_SLOTS, OWNED_MAPS, State, Word } from "./control.ts";
import type { SupervisorRequest } from "./supervisor.ts";

const ENTRY = new URL("./entry.ts", import.meta.url).href;
/** futexWake count meaning "every waiter". */
const ALL = 0x7fff_ffff;

declare const self: { addEventListener(type: "message", listener: (event: MessageEvent) => void): void };

/** Where the Workers owned are counted (supervisor.ts's `live`). */
let live: Int32Array = new Int32Array(new SharedArrayBuffer(4));

self.addEventListener("message", (event) => take(event.data as SupervisorRequest));

function take(request: SupervisorRequest): void {
  if (request.kind === "live") {
    live = request.live;
    // The main thread lets an idle supervisor go before a fork, and waits on this for its end.
    Atomics.store(live, 1, native.openThreadPidfd());
    native.futexWake(native.addressOf(live, 1), ALL);
  } else if (request.kind === "line") listen(request.port);
  else make(request);
}

function listen(port: MessagePort): void {
  port.onmessage = (event) => take(event.data as SupervisorRequest);
  // The other end's thread ended (Bun says so with "close"): the line is let go, not kept for every worker ever made.
  port.addEventListener("close", () => port.close(), { once: true });
}

/** Stores 1 in `words[index]` and wakes both kinds of waiter (futex, `Atomics.waitAsync`). */
function raise(words: Int32Array, index: number): void {
  Atomics.store(words, index, 1);
  Atomics.notify(words, index);
  native.futexWake(native.addressOf(words, index), ALL);
}

function make(request: Extract<SupervisorRequest, { kind: "make" }>): void {
  const { control, arena, stop, bootstrap, fds, env } = request;
  const { port1, port2 } = new MessageChannel();
  listen(port1);
  const worker = new Worker(ENTRY);
  Atomics.add(live, 0, 1);
  // Its uncaught error already printed its stack in the worker.
  worker.addEventListener("error", (event) => event.preventDefault());
  worker.addEventListener(
    "close",
    () => {
      if (Atomics.load(control, Word.STATE) !== State.RUNNING) for (const fd of fds) native.closeFd(fd);
      closeMirroredFds(control, Word.OWNED_FDS, OWNED_FD_SLOTS);
      unmapMirrored(control, OWNED_MAPS, OWNED_MAP_SLOTS);
      raise(control, Word.GONE);
      stop.close();
      port1.close();
      Atomics.sub(live, 0, 1);
      native.futexWake(native.addressOf(live, 0), ALL);
    },
    { once: true },
  );
  stop.onmessage = () => worker.terminate();
  worker.postMessage({ control, arena, supervisor: port2 }, [port2]);
  worker.postMessage({ bootstrap, fds, env });
}
