/**
 * Signal dispositions of a forked child. The child inherits the parent's
 * handlers; the runtime's handler for a signal a program listens to
 * (`process.on("SIGTERM")`) only queues the signal for the event loop, which
 * a fork child does not run, so the child would ignore terminate(). The
 * child gets the default action back for the signals a process is asked to
 * end or stop with; the runtime's crash handlers (SIGSEGV, SIGBUS, ...) and
 * ignored signals (SIGPIPE) stay as they are.
 */
import { ptr } from "bun:ffi";
import { libc } from "./libc.ts";

/** SIGHUP SIGINT SIGQUIT SIGUSR1 SIGUSR2 SIGALRM SIGTERM SIGCHLD SIGTSTP SIGTTIN SIGTTOU SIGWINCH. */
const RESET = [1, 2, 3, 10, 12, 14, 15, 17, 20, 21, 22, 28];
const SIG_DFL = 0n;
const SIG_IGN = 1n;
const SIG_SETMASK = 2;
/** glibc's struct sigaction: handler, 128-byte mask, flags, restorer. */
const SIGACTION_WORDS = 19;

/** Restores the default action of every signal in RESET that has a handler; returns those reset. */
export function resetCaughtSignals(): number[] {
  const old = new BigInt64Array(SIGACTION_WORDS);
  const dfl = new BigInt64Array(SIGACTION_WORDS);
  const reset: number[] = [];
  for (const sig of RESET) {
    if (libc.sigaction(sig, null, ptr(old)) !== 0) continue;
    if (old[0] === SIG_DFL || old[0] === SIG_IGN) continue;
    if (libc.sigaction(sig, ptr(dfl), null) === 0) reset.push(sig);
  }
  return reset;
}

/** Unblocks every signal for the calling thread (a child must not inherit a blocked SIGTERM). */
export function unblockAllSignals(): void {
  const empty = new BigInt64Array(16);
  libc.sigprocmask(SIG_SETMASK, ptr(empty), null);
}
