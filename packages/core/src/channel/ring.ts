/**
 * A queue's ring: one memfd segment shared by every process and thread that
 * holds the queue, with a header of named words and a byte ring of records.
 * Over 400 lines: the layout, the record format and every reader and writer
 * of those words belong in the one file that owns them (STYLE.md: name every
 * slot in the file that owns the words).
 *
 * Layout: HEADER_BYTES of header words (see `Slot`), then CAPACITY bytes of
 * ring. Positions are free-running u32 byte counters; a position's place in
 * the ring is `pos & (capacity - 1)`.
 *
 * Record (8-byte aligned): u32 length, u32 info, then `length` payload bytes
 * padded to 8. info: bits 0–7 descriptors posted to the mailbox for it,
 * OUT_OF_LINE (its payload is the first of them, a memfd: no bytes in the
 * ring), PAD (filler up to the end of the ring: skip to its start), bits
 * 16–31 the low half of its mailbox sequence number.
 *
 * Publication: producers (under the write lock) write a record, then store
 * PUTS and then TAIL; consumers (under the read lock) read a record, then
 * store GETS and then HEAD. The counts lead their positions, so qsize
 * (PUTS - GETS) and JoinableQueue's unfinished count (PUTS - DONE) can be
 * one item early, never late, and `taskDone` can never see a count that is
 * not there yet. Before the two stores each side notes [count after,
 * position before] in its own words; whoever takes over the lock of a side
 * whose holder died (see `side-lock.ts`) reads the note: a count stored
 * without its position is taken back (`repair*`). So a process killed at any
 * point of an operation leaves either nothing or all of it, and the counts
 * never drift. (This replaced one 64-bit BigInt store per operation, which
 * cost about 10% of a put + get.)
 *
 * Hostile bytes (#16): every word read back from the ring is checked before
 * it is used. A record whose extent is still known (its length fits what was
 * written) but whose info is wrong is skipped and reported to the `get` that
 * met it; a record whose length does not fit, or a HEAD/TAIL pair further
 * apart than the ring, leaves no way to find the next record: the ring is
 * then marked BROKEN (with the field, value and position, for every holder)
 * and each later operation throws.
 *
 * Memory: the ring is large (64 MiB) but sparse: pages cost memory only once
 * written, and a consumer gives back each 1 MiB chunk it has passed
 * (MADV_REMOVE), so a queue holds about what is in it plus one chunk, while
 * a producer can run far ahead of its consumers without blocking.
 */
import { EOFError, PicklingError } from "../errors.ts";
import { closeFd } from "../native/file.ts";
import { futexWake } from "../native/futex.ts";
import { createSegment } from "../native/memfd.ts";
import { type Mapping, mapShared, releasePages, unmap } from "../native/pages.ts";
import { MAX_FDS } from "../native/socket.ts";
import { closeOwnedFd, ownFd, ownMapping, unmapOwned } from "./realm-fds.ts";
import type { SideLock } from "./side-lock.ts";
import { tryLock, unlock } from "./side-lock.ts";

/**
 * Named word offsets of the header (Int32). Each group sits on its own
 * 128-byte line: the words producers write, the words consumers write, and
 * the sleeper counts, so that one side's stores do not keep taking the other
 * side's cache line away (with all of them on one line, a round trip through
 * a ring cost twice as much).
 */
export const Slot = {
  MAGIC: 0,
  CAPACITY: 1,
  MAXSIZE: 2,
  // Producers' line.
  WLOCK: 32,
  /** Last mailbox sequence number used (write lock). */
  SEQ: 33,
  TAIL: 34,
  PUTS: 35,
  /** The note of the last put: PUTS after it, TAIL before it. */
  W_PUTS_AFTER: 36,
  W_TAIL_BEFORE: 37,
  // Consumers' line.
  RLOCK: 64,
  HEAD: 65,
  GETS: 66,
  /** The note of the last get: GETS after it, HEAD before it. */
  R_GETS_AFTER: 67,
  R_HEAD_BEFORE: 68,
  /** Chunks before this one (a chunk number of HEAD) have been given back. */
  R_RELEASED: 69,
  /** Nonzero once a record could not be parsed: a `Broken` code; the ring is unusable. */
  BROKEN: 70,
  /** The bad value and the ring position of a BROKEN ring, for the message. */
  BROKEN_VALUE: 71,
  BROKEN_AT: 72,
  // Sleepers' line: written only by waits.
  /** Consumers (and async waiters) asleep on TAIL. */
  GETTERS: 96,
  /** Producers (and async waiters) asleep on HEAD. */
  PUTTERS: 97,
  /** JoinableQueue: taskDone() calls so far; unfinished = PUTS - DONE. */
  DONE: 98,
  /** JoinableQueue: joiners asleep on DONE. */
  JOINERS: 99,
} as const;

const MAGIC = 0x4d505131; // "MPQ1"
const HEADER_BYTES = 4096;
const RECORD_HEADER = 8;
/** Default ring size; sparse, see the file comment. */
export const DEFAULT_CAPACITY = 64 << 20;
/** The consumer gives pages back in chunks of this size. */
const CHUNK_SHIFT = 20;
/**
 * Rings of at most this many bytes keep their pages: a small ring comes
 * round to the same pages soon, and each page given back costs a fault and
 * a zeroed page when written again (measured: a Pool map of 100 000 numbers
 * through the default ring spent a fifth of the parent's time faulting
 * pages in and giving them back).
 */
export const RESIDENT_MAX = 8 << 20;

/** Record info bits. */
export const Info = { FDS_MASK: 0xff, OUT_OF_LINE: 0x100, PAD: 0x200, SEQ_SHIFT: 16 } as const;

/** Bits 10–15 of info: no writer sets them. */
const INFO_UNUSED = 0xfc00;
/** The smallest ring `open` accepts (a page). */
const MIN_CAPACITY = 1 << 12;

/** Why a ring is BROKEN: the field that could not be trusted, by code. */
const Broken = ["", "ring span (TAIL - HEAD)", "record.length", "record.info of a filler record"] as const;
const BROKEN_SPAN = 1;
const BROKEN_LENGTH = 2;
const BROKEN_PAD = 3;
const BROKEN_COUNT = 4;

/** A record read from the ring, not yet committed. */
export interface RecordView {
  /** Inline payload (a copy), or undefined when out of line. */
  readonly bytes: Uint8Array | undefined;
  readonly info: number;
  /** The record's length word: the payload's bytes, inline or out of line. */
  readonly length: number;
  /** Position after the record (and any filler before it). */
  readonly next: number;
  /** Set when the record's extent is sound but its info is not: skip it and throw this. */
  readonly fault?: PicklingError;
}

const align8 = (n: number): number => (n + 7) & ~7;

export class Ring {
  readonly fd: number;
  readonly #map: Mapping;
  readonly words: Int32Array;
  readonly #data: Uint8Array;
  readonly #view: DataView;
  readonly capacity: number;
  readonly #mask: number;
  readonly writeLock: SideLock;
  readonly readLock: SideLock;
  /** Largest payload kept in the ring; bigger ones go out of line. */
  readonly inlineMax: number;

  private constructor(fd: number, map: Mapping) {
    this.#map = map;
    if (map.size < HEADER_BYTES + MIN_CAPACITY) {
      throw new PicklingError(`Descriptor ${fd} is not a queue ring: it holds ${map.size} bytes`, "ring");
    }
    this.words = new Int32Array(map.buffer, 0, HEADER_BYTES / 4);
    if (this.words[Slot.MAGIC] !== MAGIC) throw new PicklingError(`Descriptor ${fd} is not a queue ring`, "ring");
    // The header is shared memory anyone holding the ring can write: its size words must fit the mapping.
    const capacity = this.words[Slot.CAPACITY]!;
    if (capacity < MIN_CAPACITY || (capacity & (capacity - 1)) !== 0 || HEADER_BYTES + capacity > map.size) {
      throw new PicklingError(
        `Queue ring capacity ${capacity} is invalid: expected a power of two from ${MIN_CAPACITY} to ${map.size - HEADER_BYTES}`,
        "ring.capacity",
      );
    }
    if (this.words[Slot.MAXSIZE]! < 0) {
      throw new PicklingError(
        `Queue ring maxsize ${this.words[Slot.MAXSIZE]} is invalid: expected >= 0`,
        "ring.maxsize",
      );
    }
    this.fd = ownFd(fd);
    this.capacity = capacity;
    this.#mask = this.capacity - 1;
    this.#data = new Uint8Array(map.buffer, HEADER_BYTES, this.capacity);
    this.#view = new DataView(map.buffer, HEADER_BYTES, this.capacity);
    this.inlineMax = this.capacity / 8;
    this.writeLock = {
      words: this.words,
      index: Slot.WLOCK,
      address: this.address(Slot.WLOCK),
      onTakeOver: () => this.#repair(Slot.PUTS, Slot.TAIL, Slot.W_PUTS_AFTER, Slot.W_TAIL_BEFORE),
    };
    this.readLock = {
      words: this.words,
      index: Slot.RLOCK,
      address: this.address(Slot.RLOCK),
      onTakeOver: () => this.#repair(Slot.GETS, Slot.HEAD, Slot.R_GETS_AFTER, Slot.R_HEAD_BEFORE),
    };
    ownMapping(map);
  }

  /** A new ring of `capacity` bytes (a power of two) for a queue of at most `maxsize` items (0: unbounded). */
  static create(maxsize: number, capacity = DEFAULT_CAPACITY): Ring {
    const seg = createSegment(HEADER_BYTES + capacity, "multiproc-queue");
    const words = new Int32Array(seg.buffer, 0, HEADER_BYTES / 4);
    words[Slot.CAPACITY] = capacity;
    words[Slot.MAXSIZE] = maxsize;
    // No operation has a note yet: a count of -1 matches no real count.
    words[Slot.W_PUTS_AFTER] = -1;
    words[Slot.R_GETS_AFTER] = -1;
    Atomics.store(words, Slot.MAGIC, MAGIC);
    return new Ring(seg.fd, seg);
  }

  /** The ring in descriptor `fd` (now owned by the ring). */
  static open(fd: number): Ring {
    let map: Mapping | undefined;
    try {
      map = mapShared(fd);
      return new Ring(fd, map);
    } catch (err) {
      if (map !== undefined) unmap(map);
      closeFd(fd);
      throw err;
    }
  }

  /** Closes this realm's descriptor of the ring (the mapping stays until `unmap`). */
  close(): void {
    closeOwnedFd(this.fd);
  }

  /** Unmaps the ring; nothing of it may be used afterwards. */
  unmap(): void {
    unmapOwned(this.#map);
  }

  /** Address of header word `slot`, for futex calls. */
  address(slot: number): number {
    return this.#map.address + slot * 4;
  }

  get maxsize(): number {
    return this.words[Slot.MAXSIZE]!;
  }

  /** Items in the ring (PUTS - GETS); may count an item one operation early. */
  count(): number {
    const gets = Atomics.load(this.words, Slot.GETS);
    return Math.max(0, (Atomics.load(this.words, Slot.PUTS) - gets) | 0);
  }

  /** Whether the ring holds no record (a snapshot). */
  empty(): boolean {
    return Atomics.load(this.words, Slot.HEAD) === Atomics.load(this.words, Slot.TAIL);
  }

  /**
   * Under the write lock: appends a record with `payload` inline (or none,
   * when `info` says out of line). Returns true, or false when the ring has
   * no room or the queue holds maxsize items: the caller waits for HEAD to
   * move from `Atomics.load(words, Slot.HEAD)` as read before calling.
   */
  append(payload: Uint8Array | undefined, length: number, info: number): boolean {
    const tail = this.words[Slot.TAIL]! >>> 0;
    const puts = this.words[Slot.PUTS]!;
    const size = RECORD_HEADER + (payload === undefined ? 0 : align8(payload.byteLength));
    const pad = this.#room(tail, puts, size);
    if (pad < 0) return false;
    const at0 = tail & this.#mask;
    if (pad > 0) {
      this.#view.setUint32(at0, 0, true);
      this.#view.setUint32(at0 + 4, Info.PAD, true);
    }
    const at = (tail + pad) & this.#mask;
    if (payload !== undefined) this.#data.set(payload, at + RECORD_HEADER);
    this.#view.setUint32(at, length, true);
    this.#view.setUint32(at + 4, info, true);
    this.#publish(Slot.PUTS, Slot.TAIL, Slot.W_PUTS_AFTER, Slot.W_TAIL_BEFORE, tail + pad + size);
    return true;
  }

  /** Under the write lock: whether a record with `payloadBytes` inline would fit now. */
  hasRoom(payloadBytes: number): boolean {
    const size = RECORD_HEADER + align8(payloadBytes);
    return this.#room(this.words[Slot.TAIL]! >>> 0, this.words[Slot.PUTS]!, size) >= 0;
  }

  /** The filler a record of `size` bytes needs at `tail`, or -1 when it does not fit (bytes or maxsize). */
  #room(tail: number, puts: number, size: number): number {
    // HEAD may lag GETS by the get in progress: the byte check is then strict, the count check lenient by one.
    const head = Atomics.load(this.words, Slot.HEAD) >>> 0;
    const gets = Atomics.load(this.words, Slot.GETS);
    const maxsize = this.words[Slot.MAXSIZE]!;
    if (maxsize > 0 && ((puts - gets) | 0) >= maxsize) return -1;
    const at = tail & this.#mask;
    const pad = at + size > this.capacity ? this.capacity - at : 0;
    return pad + size > this.capacity - this.#span(head, tail) ? -1 : pad;
  }

  /**
   * Publishes one operation of a side: note [count after, position before],
   * then store the count, then the position (see the file comment).
   */
  #publish(count: number, position: number, noteCount: number, notePosition: number, next: number): void {
    const w = this.words;
    const after = (w[count]! + 1) | 0;
    // Note order matters: with the count noted first, a half-written note never matches.
    Atomics.store(w, noteCount, after);
    Atomics.store(w, notePosition, w[position]!);
    Atomics.store(w, count, after);
    Atomics.store(w, position, next | 0);
  }

  /** After taking a side's lock over from a dead holder: takes back a count stored without its position. */
  #repair(count: number, position: number, noteCount: number, notePosition: number): void {
    const w = this.words;
    if (w[count] === w[noteCount] && w[position] === w[notePosition]) Atomics.sub(w, count, 1);
  }

  /**
   * Under the read lock: the next record, or undefined when the ring is empty.
   * Every word is checked before it is used (see the file comment).
   * @throws PicklingError naming the field, after marking the ring BROKEN, when the next record cannot be found
   */
  peek(): RecordView | undefined {
    let head = this.words[Slot.HEAD]! >>> 0;
    const tail = Atomics.load(this.words, Slot.TAIL) >>> 0;
    if (head === tail) return undefined;
    let left = this.#span(head, tail);
    // PUTS is stored before TAIL: every record up to TAIL is counted, so a record past the count is garbage.
    const items = (Atomics.load(this.words, Slot.PUTS) - this.words[Slot.GETS]!) | 0;
    if (items <= 0) this.#break(BROKEN_COUNT, items, head);
    let at = head & this.#mask;
    let info = this.#view.getUint32(at + 4, true);
    if (info & Info.PAD) {
      // Filler: exactly [0, PAD] up to the end of the ring, with a record after it.
      const skip = this.capacity - at;
      if (info !== Info.PAD || this.#view.getUint32(at, true) !== 0 || skip >= left) {
        this.#break(BROKEN_PAD, info, head);
      }
      head = (head + skip) >>> 0;
      left -= skip;
      at = 0;
      info = this.#view.getUint32(4, true);
      if (info & Info.PAD) this.#break(BROKEN_PAD, info, head);
    }
    const length = this.#view.getUint32(at, true);
    const inline = (info & Info.OUT_OF_LINE) === 0;
    const size = RECORD_HEADER + (inline ? align8(length) : 0);
    // A length that does not fit what was written (or that its writer would have sent out of line) hides where the next record starts.
    if (inline && (length > this.inlineMax || size > left || at + size > this.capacity)) {
      this.#break(BROKEN_LENGTH, length, head);
    }
    const bytes = inline ? this.#data.slice(at + RECORD_HEADER, at + RECORD_HEADER + length) : undefined;
    return { bytes, info, length, next: (head + size) >>> 0, fault: this.#infoFault(info, length, head) };
  }

  /** What is wrong with a record's info whose extent is sound, if anything. */
  #infoFault(info: number, length: number, at: number): PicklingError | undefined {
    const fds = info & Info.FDS_MASK;
    const outOfLine = (info & Info.OUT_OF_LINE) !== 0;
    let why: string | undefined;
    if (info & INFO_UNUSED) why = "unused bits are set";
    else if (fds > MAX_FDS) why = `${fds} descriptors, at most ${MAX_FDS}`;
    else if (outOfLine && fds === 0) why = "out of line without a descriptor";
    else if (fds === 0 && info >>> Info.SEQ_SHIFT !== 0) why = "a sequence number without descriptors";
    else if (outOfLine && length <= this.inlineMax) why = `out of line with ${length} bytes, which go inline`;
    if (why === undefined) return undefined;
    return new PicklingError(
      `Queue record at position ${at} has an invalid info word 0x${info.toString(16)}: ${why}`,
      "record.info",
    );
  }

  /** Bytes between `head` and `tail`. @throws PicklingError (the ring BROKEN) when it cannot be a span of records. */
  #span(head: number, tail: number): number {
    const left = (tail - head) >>> 0;
    if (left > this.capacity || (left & 7) !== 0 || (head & 7) !== 0) this.#break(BROKEN_SPAN, left, head);
    return left;
  }

  /**
   * Marks the ring BROKEN for every holder, wakes everyone asleep on it, and
   * throws the error of the field that could not be trusted. The first
   * breaker's reason stays.
   */
  #break(code: number, value: number, at: number): never {
    const w = this.words;
    if (Atomics.compareExchange(w, Slot.BROKEN, 0, -1) === 0) {
      w[Slot.BROKEN_VALUE] = value;
      w[Slot.BROKEN_AT] = at;
      Atomics.store(w, Slot.BROKEN, code);
    }
    for (const slot of [Slot.TAIL, Slot.HEAD, Slot.DONE]) futexWake(this.address(slot), 0x7fff_ffff);
    throw new PicklingError(`Queue ring is corrupt: ${this.#brokenDetail(code, value, at)}`, Broken[code] ?? "ring");
  }

  #brokenDetail(code: number, value: number, at: number): string {
    return `${Broken[code] ?? "unknown field"} is ${value >>> 0} at position ${at >>> 0}, which does not fit the ${this.capacity}-byte ring`;
  }

  /** @throws EOFError once the ring is BROKEN (by any holder): the queue cannot be used any more */
  checkUsable(): void {
    const code = Atomics.load(this.words, Slot.BROKEN);
    if (code === 0) return;
    const w = this.words;
    const why =
      code < 0
        ? "a reader found a corrupt record"
        : this.#brokenDetail(code, w[Slot.BROKEN_VALUE]!, w[Slot.BROKEN_AT]!);
    throw new EOFError(`Queue is closed because its ring is corrupt: ${why}`);
  }

  /** Under the read lock: consumes the record `peek` returned. */
  commit(record: RecordView): void {
    const w = this.words;
    const head = w[Slot.HEAD]! >>> 0;
    const released = w[Slot.R_RELEASED]!;
    if (head >>> CHUNK_SHIFT !== released && this.capacity > RESIDENT_MAX) {
      this.#releasePassed(released, head >>> CHUNK_SHIFT);
    }
    this.#publish(Slot.GETS, Slot.HEAD, Slot.R_GETS_AFTER, Slot.R_HEAD_BEFORE, record.next);
    if (record.next === Atomics.load(w, Slot.TAIL) >>> 0 && Atomics.load(w, Slot.PUTS) !== w[Slot.GETS]) {
      this.#recount();
    }
  }

  /**
   * The ring was read to its end but the count says items are left: a
   * corrupt length swallowed records. With both locks held (only if the
   * write lock is free: a put in flight also leaves PUTS ahead of TAIL for a
   * moment), HEAD = TAIL, so the count is made to say none is left.
   */
  #recount(): void {
    if (!tryLock(this.writeLock)) return;
    try {
      const w = this.words;
      if (w[Slot.HEAD] === w[Slot.TAIL]) Atomics.store(w, Slot.GETS, w[Slot.PUTS]!);
    } finally {
      unlock(this.writeLock);
    }
  }

  /**
   * Gives back the memory of chunks `from` up to (not including) `to`, all
   * behind the published HEAD, and records that. A chunk is skipped when a
   * producer has already wrapped around into it, which only happens when the
   * ring is nearly full; the write lock is taken (only if free) so that no
   * producer writes while the check and the release happen.
   */
  #releasePassed(from: number, to: number): void {
    if (!tryLock(this.writeLock)) return;
    try {
      const tail = this.words[Slot.TAIL]! >>> 0;
      const chunks = 0xffff_ffff >>> CHUNK_SHIFT;
      for (let c = from; c !== to; c = (c + 1) & chunks) {
        const start = (c << CHUNK_SHIFT) >>> 0;
        if ((tail - start) >>> 0 > this.capacity) continue; // a producer wrote into its next lap
        releasePages(this.#map, HEADER_BYTES + (start & this.#mask), 1 << CHUNK_SHIFT);
      }
      Atomics.store(this.words, Slot.R_RELEASED, to);
    } finally {
      unlock(this.writeLock);
    }
  }
}
