/**
 * The waker thread: sleeps in futex_waitv(2) on every word that async
 * waiters of its parent realm watch, plus the table's CONTROL word, and posts
 * "wake" when one of them changes. After posting it sleeps on CONTROL alone
 * until the main thread has handled the wake-up (and bumped CONTROL), so a
 * word that stays changed cannot make it spin. Its loop allocates next to
 * nothing and spends its time in the kernel, and it parks on request while
 * its process forks (see `pauseWaker`).
 */
import { ptr } from "bun:ffi";
import { ADDRESSES_AT, MAX_WATCHED, SYS_FUTEX_WAITV, type WakerStart, Word } from "./_waker-layout.ts";
import { futexWait, futexWake } from "./futex.ts";
import { errno, libc } from "./libc.ts";
import { startReadableWatcher } from "./readable-watcher-start.ts";
import { threadId } from "./thread.ts";

declare const self: Worker;

const FUTEX2_SIZE_U32 = 0x02;
const CLOCK_REALTIME = 0;
const EAGAIN = 11;
const EINTR = 4;
const ETIMEDOUT = 110;
const TWO_32 = 2 ** 32;
/**
 * Longest sleep in one system call (ms). The thread must come back to
 * JavaScript now and then: a Worker stuck in a system call cannot be
 * terminated, and its process (or parent Worker) could then not exit.
 */
const SLICE_MS = 100;

self.onmessage = (event: MessageEvent<WakerStart>) => {
  const table = new Int32Array(event.data.words);
  const addresses = new Float64Array(event.data.words, ADDRESSES_AT, MAX_WATCHED);
  const readable = new Int32Array(event.data.readable);
  const at = (word: number) => ptr(table, word * 4);
  const controlAddress = at(Word.CONTROL);
  // struct futex_waitv { u64 val; u64 uaddr; u32 flags; u32 reserved; }: 6 u32 each, written in halves.
  // Explicit ArrayBuffers: JSC may move small inline typed arrays once code is
  // hot, which would leave the cached addresses pointing at stale memory.
  const waitv = new Uint32Array(new ArrayBuffer((MAX_WATCHED + 1) * 6 * 4));
  const waitvAddress = ptr(waitv);
  // futex_waitv takes an absolute deadline: struct timespec { i64 tv_sec; i64 tv_nsec } on CLOCK_REALTIME.
  const deadline = new Uint32Array(new ArrayBuffer(16));
  const deadlineAddress = ptr(deadline);
  const entry = (i: number, address: number, expected: number) => {
    const o = i * 6;
    waitv[o] = expected >>> 0;
    waitv[o + 1] = 0;
    waitv[o + 2] = address % TWO_32;
    waitv[o + 3] = Math.floor(address / TWO_32);
    waitv[o + 4] = FUTEX2_SIZE_U32; // not FUTEX2_PRIVATE: the words are shared between processes
    waitv[o + 5] = 0;
  };
  /** Parks in the kernel while the main thread forks (no time limit: a pause lasts one fork). */
  const parkIfAsked = () => {
    if (Atomics.load(table, Word.PAUSE) === 0) return;
    Atomics.store(table, Word.PAUSED, 1);
    futexWake(at(Word.PAUSED), 1);
    while (Atomics.load(table, Word.PAUSE) !== 0) futexWait(at(Word.PAUSE), 1);
    Atomics.store(table, Word.PAUSED, 0);
  };

  let seen = Atomics.load(table, Word.CONTROL);
  Atomics.store(table, Word.TID, threadId());
  Atomics.store(table, Word.READY, 1);
  futexWake(at(Word.READY), 0x7fffffff);
  self.postMessage("ready");
  for (;;) {
    parkIfAsked();
    // Asked for by a waitReadable (which pokes CONTROL): compiled here, off the event loop.
    startReadableWatcher(readable);
    const count = Math.min(Atomics.load(table, Word.COUNT), MAX_WATCHED);
    entry(0, controlAddress, seen);
    for (let i = 0; i < count; i++) entry(i + 1, addresses[i]!, Atomics.load(table, Word.EXPECTED + i));
    const until = Date.now() + SLICE_MS;
    deadline[0] = Math.floor(until / 1000);
    deadline[2] = (until % 1000) * 1_000_000;
    const r = Number(libc.syscall(SYS_FUTEX_WAITV, waitvAddress, count + 1, 0, deadlineAddress, CLOCK_REALTIME, 0));
    if (r < 0) {
      const e = errno();
      if (e === ETIMEDOUT) continue;
      if (e !== EAGAIN && e !== EINTR) {
        // ENOSYS (kernel before 5.16) or anything unexpected: let the realm poll instead.
        self.postMessage("unsupported");
        return;
      }
    }
    const control = Atomics.load(table, Word.CONTROL);
    if (control !== seen) {
      // The table changed (or a wake-up was handled, or a pause was asked): start again.
      seen = control;
      continue;
    }
    if (r === 0) continue; // CONTROL itself was woken without a change: spurious
    // A watched word changed (r > 0), or differed already (EAGAIN): tell the main thread.
    self.postMessage("wake");
    while (Atomics.load(table, Word.CONTROL) === seen) futexWait(controlAddress, seen, SLICE_MS);
    seen = Atomics.load(table, Word.CONTROL);
  }
};
