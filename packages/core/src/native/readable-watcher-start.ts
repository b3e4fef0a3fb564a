/**
 * Starts the readable watcher's C thread (wake-on-readable.c) on `table`:
 * runs in the realm's futex waker thread, when the main thread first asks
 * (STATE = REQUESTED), so that compiling it (20-70 ms with TinyCC on the
 * benchmark machine) never blocks an event loop. Sets STATE to RUNNING or
 * UNAVAILABLE; waits poll until it is RUNNING.
 */
import { cc, ptr } from "bun:ffi";
import { ReadableWord, WatcherState } from "./_readable-layout.ts";
import { closeFd } from "./file.ts";
import { libc } from "./libc.ts";

const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;

/** The compiled code, held for good: the C thread runs in it, and a collected library is freed. */
const held: unknown[] = [];

export function startReadableWatcher(table: Int32Array): void {
  if (Atomics.load(table, ReadableWord.STATE) !== WatcherState.REQUESTED) return;
  let state: number = WatcherState.UNAVAILABLE;
  const efd = libc.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd >= 0) {
    try {
      const lib = cc({
        // A path, not a URL's pathname: that one would keep a space in the path as %20.
        source: `${import.meta.dir}/wake-on-readable.c`,
        symbols: { mp_watch_readable: { args: ["ptr"], returns: "i32" } },
      });
      held.push(lib);
      table[ReadableWord.EVENTFD] = efd;
      if (lib.symbols.mp_watch_readable(ptr(table)) === 0) state = WatcherState.RUNNING;
    } catch {
      // TinyCC failed: waits poll.
    }
    if (state !== WatcherState.RUNNING) closeFd(efd);
  }
  Atomics.store(table, ReadableWord.STATE, state);
}
