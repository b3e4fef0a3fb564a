/**
 * Queue: a multi-producer, multi-consumer FIFO shared by processes and
 * threads (Python: `multiprocessing.Queue`), as a ring of records in shared
 * memory (`ring.ts`) plus a mailbox socket for descriptors (`mailbox.ts`).
 * Over 400 lines: Python's Queue API in both forms (get/getSync, put/putSync,
 * with timeouts and the nowait variants), each a thin call into one shared body.
 *
 * Why not CPython's pipe + feeder thread: `put` encodes and copies the item
 * into shared memory before it returns, so an encoding error is thrown to the
 * caller, the item is visible to every consumer at once, and nothing is lost
 * when the producer exits right after (CPython loses what its feeder thread
 * had not yet written). How it compares with CPython's queue (1 producer
 * process to 1 consumer process, small objects) is measured by
 * apps/bench/src/channels.ts in `bun run bench`, both in the same run; the
 * codec is about half of the time of a put + get there.
 *
 * Waiting: producers wait for HEAD to move (space), consumers for TAIL
 * (items); a side announces sleepers in PUTTERS/GETTERS so the other side
 * calls futexWake only when someone sleeps. A sync get first spins briefly
 * (see `wait/tuning.ts` for why), then sleeps in slices.
 */
import { registerReducer } from "../codec/reducers.ts";
import { Empty, Full, ProcessError } from "../errors.ts";
import { forever, forkedSince } from "../inherited-wait.ts";
import { futexWake } from "../native/futex.ts";
import { waitReady } from "../native/poll.ts";
import { checkTimeout } from "../timeout.ts";
import { deadlineOf } from "../wait/deadline.ts";
import { waitUntil } from "../wait/poll.ts";
import { nextTurn, spinStep } from "../wait/spin.ts";
import { SPIN_TRIES, WORD_SPIN_TURNS } from "../wait/tuning.ts";
import { awaitCounted, sleepCounted } from "../wait/word.ts";
import { decodeCarrying, type FdRef, shareFd, takeFd } from "./fd-transfer.ts";
import { Mailbox } from "./mailbox.ts";
import { appendItem, encodeItem, type Item, type Outcome, releaseItem, type Taken, takeItem } from "./queue-item.ts";
import { Ring, Slot } from "./ring.ts";
import { awaitLockFree, lockSync, tryLock, unlock } from "./side-lock.ts";

/** Options of `put`/`get` (Python: `block`, `timeout`, in milliseconds). */
export interface QueueWaitOptions {
  /** false: succeed at once or throw (Full / Empty). Default true. */
  block?: boolean;
  /** Longest wait in ms; undefined waits forever, a negative number not at all (Python). Then Full / Empty is thrown. */
  timeout?: number;
}

/** How a queue travels to another process: its three descriptors. */
export interface QueueState {
  ring: FdRef;
  send: FdRef;
  receive: FdRef;
}

/** The descriptors of an existing queue, owned by the new object (for rebuilds). */
export interface QueueParts {
  ring: Ring;
  mailbox: Mailbox;
}

/** How long a non-blocking call may wait for the side lock, which is held only for microseconds (ms). */
const NOWAIT_LOCK_MS = 20;

const released = new FinalizationRegistry<{ ring: Ring; mailbox: Mailbox }>((held) => {
  held.ring.close();
  held.mailbox.close();
  held.ring.unmap();
});

/**
 * A process-shared FIFO queue. Mirrors Python's `multiprocessing.Queue`, with
 * times in ms and a Promise form of every wait. Items put by one producer come
 * out in order; an item is visible to `getNowait`, `qsize` and `empty` as soon
 * as its `put` returned, and is never lost once `put` returned.
 *
 * @example
 * const q = mp.Queue<[number, string]>();
 * new mp.Process({ target: producer, args: [q] }).start();
 * const [n, s] = await q.get({ timeout: 1000 });
 */
/** The Pool's own operations on its queues, set by Queue's static block; use them through pool-queue.ts. */
export let poolQueueOps: {
  resident(capacity: number): Queue<unknown>;
  encode(queue: Queue<unknown>, obj: unknown): Item;
  putEncodedSync(queue: Queue<unknown>, item: Item, opts?: QueueWaitOptions): void;
  readable(queue: Queue<unknown>, timeout: number): Promise<boolean>;
};

export class Queue<T = unknown> {
  #ring: Ring | undefined;
  readonly #mailbox: Mailbox;
  /** Async waits in flight: the ring stays mapped until they end. */
  #waiting = 0;
  /** A ring closed while async waits were in flight, unmapped when the last ends. */
  #unmapLater: Ring | undefined;

  /**
   * @param maxsize most items held at once; 0 (default) or less for no limit (the ring's 64 MiB bound the bytes)
   * @param parts internal: the descriptors of a queue received from another process
   */
  constructor(maxsize = 0, parts?: QueueParts) {
    if (parts === undefined) {
      if (!Number.isInteger(maxsize) || maxsize > 0x7fff_ffff) {
        throw new RangeError(`Queue maxsize must be an integer, got ${String(maxsize)}`);
      }
      // As in Python, maxsize <= 0 means no limit.
      parts = { ring: Ring.create(Math.max(0, maxsize)), mailbox: Mailbox.create() };
    }
    this.#ring = parts.ring;
    this.#mailbox = parts.mailbox;
    released.register(this, { ring: parts.ring, mailbox: parts.mailbox }, this);
  }

  /** The ring, or a ProcessError when closed (an EOFError when its ring is corrupt, see `ring.ts`). */
  #live(what: string): Ring {
    if (this.#ring === undefined) throw new ProcessError(`Cannot ${what}: the queue is closed`);
    this.#ring.checkUsable();
    return this.#ring;
  }

  /** For subclasses: the ring, or a ProcessError naming `what` when closed. */
  protected ringFor(what: string): Ring {
    return this.#live(what);
  }

  #wakeGetters(ring: Ring): void {
    if (Atomics.load(ring.words, Slot.GETTERS) > 0) futexWake(ring.address(Slot.TAIL), 1);
  }

  /**
   * Puts an item, blocking the calling thread while the queue is full (Python: `put`).
   * @throws Full when `block` is false or `timeout` ms passed and the queue is still full
   * @throws PicklingError when the item cannot be sent (nothing was put)
   */
  putSync(obj: T, opts?: QueueWaitOptions): void {
    const ring = this.#live("put");
    const timeout = checkTimeout(opts?.timeout, "Queue.put");
    this.#putItemSync(ring, encodeItem(ring, obj), { block: opts?.block, timeout });
  }

  #putItemSync(ring: Ring, item: Item, opts: QueueWaitOptions | undefined): void {
    const block = opts?.block !== false;
    const deadline = block ? deadlineOf(opts?.timeout) : performance.now();
    try {
      for (;;) {
        ring.checkUsable();
        const head = Atomics.load(ring.words, Slot.HEAD);
        const lockBy = block ? deadline : performance.now() + NOWAIT_LOCK_MS;
        let outcome: Outcome | "busy" = "busy";
        if (lockSync(ring.writeLock, lockBy)) {
          try {
            outcome = appendItem(ring, this.#mailbox, item);
          } finally {
            unlock(ring.writeLock);
          }
        }
        if (outcome === "ok") {
          this.#wakeGetters(ring);
          return;
        }
        if (!block || performance.now() >= deadline || outcome === "busy") throw full(ring);
        if (outcome === "mailbox") waitReady(this.#mailbox.sendFd, "write", Math.min(deadline - performance.now(), 50));
        else this.#sleep(ring, Slot.PUTTERS, Slot.HEAD, head, deadline);
      }
    } finally {
      releaseItem(item);
    }
  }

  /** Like `putSync`, without blocking the event loop. */
  async put(obj: T, opts?: QueueWaitOptions): Promise<void> {
    const ring = this.#live("put");
    const timeout = checkTimeout(opts?.timeout, "Queue.put");
    const block = opts?.block !== false;
    const deadline = block ? deadlineOf(timeout) : performance.now();
    const item = encodeItem(ring, obj);
    const pid = process.pid;
    this.#waiting++;
    try {
      for (;;) {
        if (forkedSince(pid)) await forever;
        this.#live("put");
        const head = Atomics.load(ring.words, Slot.HEAD);
        let outcome: Outcome | "busy" = "busy";
        if (tryLock(ring.writeLock)) {
          try {
            outcome = appendItem(ring, this.#mailbox, item);
          } finally {
            unlock(ring.writeLock);
          }
        } else if (await awaitLockFree(ring.writeLock, block ? deadline : performance.now() + NOWAIT_LOCK_MS)) {
          continue;
        }
        if (outcome === "ok") {
          this.#wakeGetters(ring);
          return;
        }
        if (!block || performance.now() >= deadline || outcome === "busy") throw full(ring);
        if (outcome === "mailbox") {
          const fd = this.#mailbox.sendFd;
          await waitUntil(
            () => this.#ring === undefined || waitReady(fd, "write", 0),
            Math.min(deadline, performance.now() + 50),
          );
        } else await this.#await(ring, Slot.PUTTERS, Slot.HEAD, head, deadline);
      }
    } finally {
      releaseItem(item);
      this.#settle();
    }
  }

  /** Puts without waiting (Python: `put_nowait`). @throws Full */
  putNowait(obj: T): void {
    this.putSync(obj, { block: false });
  }

  /**
   * Takes an item, blocking the calling thread while the queue is empty (Python: `get`).
   * @throws Empty when `block` is false or `timeout` ms passed and the queue is still empty
   */
  getSync(opts?: QueueWaitOptions): T {
    const ring = this.#live("get");
    const timeout = checkTimeout(opts?.timeout, "Queue.get");
    const block = opts?.block !== false;
    const deadline = block ? deadlineOf(timeout) : performance.now();
    for (let spins = 0; ; spins++) {
      ring.checkUsable();
      const tail = Atomics.load(ring.words, Slot.TAIL);
      if (!ring.empty()) {
        if (!lockSync(ring.readLock, block ? deadline : performance.now() + NOWAIT_LOCK_MS))
          throw new Empty("Queue is empty");
        let got: Taken | undefined;
        try {
          got = takeItem(ring, this.#mailbox);
        } finally {
          unlock(ring.readLock);
        }
        if (got !== undefined) return decodeCarrying(got.bytes, got.fds) as T;
      }
      if (!block || performance.now() >= deadline) throw new Empty("Queue is empty");
      if (spins < SPIN_TRIES) spinStep();
      else this.#sleep(ring, Slot.GETTERS, Slot.TAIL, tail, deadline);
    }
  }

  /** Like `getSync`, without blocking the event loop. */
  async get(opts?: QueueWaitOptions): Promise<T> {
    const ring = this.#live("get");
    const timeout = checkTimeout(opts?.timeout, "Queue.get");
    const block = opts?.block !== false;
    const deadline = block ? deadlineOf(timeout) : performance.now();
    const pid = process.pid;
    this.#waiting++;
    try {
      for (let turns = 0; ; turns++) {
        if (forkedSince(pid)) await forever;
        this.#live("get");
        const tail = Atomics.load(ring.words, Slot.TAIL);
        if (!ring.empty()) {
          if (!tryLock(ring.readLock)) {
            if (!(await awaitLockFree(ring.readLock, block ? deadline : performance.now() + NOWAIT_LOCK_MS))) {
              throw new Empty("Queue is empty");
            }
            continue;
          }
          let got: Taken | undefined;
          try {
            got = takeItem(ring, this.#mailbox);
          } finally {
            unlock(ring.readLock);
          }
          if (got !== undefined) return decodeCarrying(got.bytes, got.fds) as T;
        }
        if (!block || performance.now() >= deadline) throw new Empty("Queue is empty");
        if (turns < WORD_SPIN_TURNS) await nextTurn();
        else await this.#await(ring, Slot.GETTERS, Slot.TAIL, tail, deadline);
      }
    } finally {
      this.#settle();
    }
  }

  /** See `readable` in pool-queue.ts. */
  async #readable(timeout: number): Promise<boolean> {
    const ring = this.#live("get");
    const deadline = performance.now() + timeout;
    const pid = process.pid;
    this.#waiting++;
    try {
      for (let turns = 0; ; turns++) {
        if (forkedSince(pid)) await forever;
        if (this.#ring === undefined) return false;
        if (Atomics.load(ring.words, Slot.BROKEN) !== 0) return true; // the caller's get throws why
        const tail = Atomics.load(ring.words, Slot.TAIL);
        if (!ring.empty()) return true;
        if (performance.now() >= deadline) return false;
        if (turns < WORD_SPIN_TURNS) await nextTurn();
        else await this.#await(ring, Slot.GETTERS, Slot.TAIL, tail, deadline);
      }
    } finally {
      this.#settle();
    }
  }

  /** Takes without waiting (Python: `get_nowait`). @throws Empty */
  getNowait(): T {
    return this.getSync({ block: false });
  }

  /** Sleeps on `word` while it holds `seen`, announced in `sleepers`. */
  #sleep(ring: Ring, sleepers: number, word: number, seen: number, deadline: number): void {
    sleepCounted(ring.words, sleepers, ring.address(word), seen, deadline);
  }

  /** Async form of `#sleep`: this realm's waker thread sleeps on the word for us. */
  #await(ring: Ring, sleepers: number, word: number, seen: number, deadline: number): Promise<void> {
    return awaitCounted(ring.words, sleepers, ring.address(word), seen, deadline);
  }

  /** An async operation ended: unmaps a ring closed meanwhile. */
  #settle(): void {
    this.#waiting--;
    if (this.#waiting === 0 && this.#ring === undefined && this.#unmapLater !== undefined) {
      this.#unmapLater.unmap();
      this.#unmapLater = undefined;
    }
  }

  /** Number of items in the queue now (Python: `qsize`, exact here). */
  qsize(): number {
    return this.#live("get the size").count();
  }

  /** Whether the queue is empty now (Python: `empty`). */
  empty(): boolean {
    return this.#live("check emptiness").empty();
  }

  /** Whether the queue holds maxsize items now (Python: `full`); never true without a maxsize. */
  full(): boolean {
    const ring = this.#live("check fullness");
    return ring.maxsize > 0 && ring.count() >= ring.maxsize;
  }

  /** The most items the queue holds at once; 0 means no limit. */
  get maxsize(): number {
    return this.#live("get maxsize").maxsize;
  }

  /** Whether `close()` was called on this object. */
  get closed(): boolean {
    return this.#ring === undefined;
  }

  /**
   * Releases this process's handle on the queue (Python: `close`). Everything
   * put before stays in the queue for the other holders; a later `put` or
   * `get` through this object throws. Closing twice is allowed.
   */
  close(): void {
    const ring = this.#ring;
    if (ring === undefined) return;
    this.#ring = undefined;
    released.unregister(this);
    ring.close();
    this.#mailbox.close();
    if (this.#waiting === 0) ring.unmap();
    else this.#unmapLater = ring;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Python's `join_thread`: waits until the feeder thread has flushed what this
   * process put. There is no feeder thread here (`put` writes the item into
   * shared memory before it returns), so there is nothing to wait for.
   */
  joinThread(): void {}

  /** Python's `cancel_join_thread`: nothing to cancel here (see `joinThread`). */
  cancelJoinThread(): void {}

  /** The state another process rebuilds this queue from. */
  protected reduceState(): QueueState {
    const ring = this.#live("send a queue");
    return { ring: shareFd(ring.fd), send: shareFd(this.#mailbox.sendFd), receive: shareFd(this.#mailbox.receiveFd) };
  }

  /** The parts of a queue received as `state`. */
  protected static partsFrom(state: QueueState): QueueParts {
    const ring = Ring.open(takeFd(state.ring));
    return { ring, mailbox: new Mailbox(takeFd(state.send), takeFd(state.receive)) };
  }

  toString(): string {
    const ring = this.#ring;
    return ring === undefined ? `<${this.constructor.name} closed>` : `<${this.constructor.name} size=${ring.count()}>`;
  }

  static {
    registerReducer(Queue, {
      tag: "Queue",
      reduce: (q: Queue) => q.reduceState(),
      rebuild: (state) => new Queue(0, Queue.partsFrom(state as QueueState)),
    });
    poolQueueOps = {
      resident: (capacity) => new Queue(0, { ring: Ring.create(0, capacity), mailbox: Mailbox.create() }),
      encode: (queue, obj) => encodeItem(queue.#live("put"), obj),
      putEncodedSync: (queue, item, opts) => queue.#putItemSync(queue.#live("put"), item, opts),
      readable: (queue, timeout) => queue.#readable(timeout),
    };
  }
}

function full(ring: Ring): Full {
  return new Full(ring.maxsize > 0 ? `Queue is full (maxsize ${ring.maxsize})` : "Queue is full");
}
