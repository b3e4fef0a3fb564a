/**
 * Signal dispositions of a forked child. The child inherits the parent's
 * handlers; the runtime's handler for a signal a program listens to
 * (`process.on("SIGTERM")`) only queues the signal for the event loop, which
 * a fork child does not run, so the child would ignore terminate(). The
 * child gets the default action back for the signals a process is asked to
 * end or stop with; the runtime's crash handlers (SIGSEGV, SIGBUS, ...),
 * its thread-suspend signal (SIGPWR) and ignored signals (SIGPIPE) stay as
 * they are. Those signals are blocked across `fork` (`blockEndSignals`), so
 * one sent before the child reset them waits, pending, for the default action.
 *
 * A fork child's own listeners (`holdSignal`, `takeSignal`): the signal is
 * blocked, so the runtime's handler never sees it, and the child's loop
 * takes it from the pending set with sigtimedwait(2) and emits it.
 */
import { ptr } from "bun:ffi";
import { Errno, errno, fail, libc } from "./libc.ts";

/** SIGHUP SIGINT SIGQUIT SIGUSR1 SIGUSR2 SIGALRM SIGTERM SIGCHLD SIGTSTP SIGTTIN SIGTTOU SIGWINCH. */
const RESET = [1, 2, 3, 10, 12, 14, 15, 17, 20, 21, 22, 28];
const SIG_DFL = 0n;
const SIG_IGN = 1n;
const SIG_BLOCK = 0;
const SIG_UNBLOCK = 1;
const SIG_SETMASK = 2;
/** glibc's struct sigaction: handler, 128-byte mask, flags, restorer. */
const SIGACTION_WORDS = 19;
/** glibc's sigset_t: 1024 bits. */
const SIGSET_WORDS = 16;
/** siginfo_t: 128 bytes. */
const SIGINFO_WORDS = 16;

/** A sigset_t holding `signals` (bit `n - 1` for signal n). */
function setOf(signals: readonly number[]): BigInt64Array {
  const set = new BigInt64Array(SIGSET_WORDS);
  for (const sig of signals) set[(sig - 1) >> 6]! |= 1n << BigInt((sig - 1) & 63);
  return set;
}

function mask(how: number, set: BigInt64Array, old: BigInt64Array | null = null): void {
  if (libc.sigprocmask(how, ptr(set), old === null ? null : ptr(old)) !== 0) fail("sigprocmask");
}

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

/**
 * Blocks the signals `resetCaughtSignals` resets, for the calling thread, and
 * returns the mask to restore (`restoreSignalMask`). Around fork(2): a child
 * inherits the mask, so such a signal sent before it reset its handlers
 * stays pending (the runtime's handler would swallow it) and takes its
 * default action once the child unblocks it. The parent's other threads
 * still take the signal meanwhile.
 */
export function blockEndSignals(): BigInt64Array {
  const old = new BigInt64Array(SIGSET_WORDS);
  mask(SIG_BLOCK, setOf(RESET), old);
  return old;
}

/** Sets the calling thread's signal mask back to `old` (from `blockEndSignals`). */
export function restoreSignalMask(old: BigInt64Array): void {
  mask(SIG_SETMASK, old);
}

/** Unblocks every signal for the calling thread (a child must not inherit a blocked SIGTERM). */
export function unblockAllSignals(): void {
  mask(SIG_SETMASK, new BigInt64Array(SIGSET_WORDS));
}

/**
 * Blocks `signal` for the calling thread (a single-threaded fork child): from
 * now on it waits in the pending set for `takeSignal`, whatever handler the
 * runtime installs for it.
 */
export function holdSignal(signal: number): void {
  mask(SIG_BLOCK, setOf([signal]));
}

/**
 * Gives `signal` its default action back and unblocks it: a pending one then
 * acts at once (ends the process, for most).
 */
export function releaseSignal(signal: number): void {
  const dfl = new BigInt64Array(SIGACTION_WORDS);
  libc.sigaction(signal, ptr(dfl), null);
  mask(SIG_UNBLOCK, setOf([signal]));
}

const info = new BigInt64Array(SIGINFO_WORDS);
// An explicit ArrayBuffer: JSC may move a small inline typed array (see futex.ts).
const timespec = new BigInt64Array(new ArrayBuffer(16));

/**
 * Takes one pending signal of `signals` (held with `holdSignal`), waiting at
 * most `timeoutMs` (0: just look); returns its number, or 0 when none came.
 */
export function takeSignal(signals: readonly number[], timeoutMs: number): number {
  const ms = Math.max(0, timeoutMs);
  timespec[0] = BigInt(Math.floor(ms / 1000));
  timespec[1] = BigInt(Math.floor((ms % 1000) * 1e6));
  const sig = libc.sigtimedwait(ptr(setOf(signals)), ptr(info), ptr(timespec));
  if (sig > 0) return sig;
  const e = errno();
  if (e === Errno.EAGAIN || e === Errno.EINTR) return 0;
  fail("sigtimedwait", e);
}
