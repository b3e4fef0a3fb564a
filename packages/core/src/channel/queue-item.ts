/**
 * A queue item on its way into the ring and out of it: the record's payload
 * and info (see `ring.ts`) and the descriptors that go through the mailbox
 * (see `mailbox.ts`). The caller holds the side lock of the ring it works on.
 */
import { PicklingError } from "../errors.ts";
import { closeFd, fileStat, readWhole } from "../native/file.ts";
import { futexWake } from "../native/futex.ts";
import { memfdWith } from "../native/memfd.ts";
import { MAX_FDS } from "../native/socket.ts";
import { encodeCarrying } from "./fd-transfer.ts";
import type { Mailbox } from "./mailbox.ts";
import { Info, type RecordView, type Ring, Slot } from "./ring.ts";

/** An item encoded for the ring. */
export interface Item {
  payload: Uint8Array | undefined;
  length: number;
  info: number;
  /** Descriptors to post in the mailbox (for an out-of-line item, its memfd first). */
  fds: number[];
  memfd: number | undefined;
}

/** Shared by every item without descriptors; never modified. */
const NO_FDS: number[] = [];

/** Outcome of one append: done, no room (or maxsize reached), or the mailbox is full. */
export type Outcome = "ok" | "full" | "mailbox";

/** An item taken from the ring: its encoded bytes and descriptors (owned by the caller). */
export interface Taken {
  bytes: Uint8Array;
  fds: number[];
}

/**
 * Encodes `obj` at the call site, so an unsendable item throws to the caller
 * (no feeder thread). An item bigger than the ring's inline limit goes into a
 * memfd of its own, posted through the mailbox.
 * @throws PicklingError when the item cannot be sent
 */
export function encodeItem(ring: Ring, obj: unknown): Item {
  // "item", as the error names what the caller put: `Cannot send item.handler`.
  const { bytes, fds } = encodeCarrying(obj, "item");
  if (fds.length >= MAX_FDS) throw new RangeError(`A queue item may hold at most ${MAX_FDS - 1} descriptors`);
  if (bytes.byteLength <= ring.inlineMax) {
    return { payload: bytes, length: bytes.byteLength, info: fds.length, fds, memfd: undefined };
  }
  const memfd = memfdWith(bytes);
  const all = [memfd, ...fds];
  return { payload: undefined, length: bytes.byteLength, info: Info.OUT_OF_LINE | all.length, fds: all, memfd };
}

/** Closes this process's copy of an out-of-line item's memfd (the mailbox holds its own). */
export function releaseItem(item: Item): void {
  if (item.memfd !== undefined) closeFd(item.memfd);
}

/** Under the write lock: one attempt to append `item`. */
export function appendItem(ring: Ring, mailbox: Mailbox, item: Item): Outcome {
  let info = item.info;
  if (item.fds.length > 0) {
    // Room first: a posted datagram whose record cannot follow would only be dropped later.
    if (!ring.hasRoom(item.payload?.byteLength ?? 0)) return "full";
    // SEQ before the datagram: a consumer may then take any datagram numbered past SEQ for a forged one.
    const seq = (ring.words[Slot.SEQ]! + 1) | 0;
    Atomics.store(ring.words, Slot.SEQ, seq);
    if (!mailbox.post(seq, item.fds)) return "mailbox";
    info |= (seq & 0xffff) << Info.SEQ_SHIFT;
  }
  return ring.append(item.payload, item.length, info) ? "ok" : "full";
}

/**
 * Under the read lock: takes the next item, or undefined when the ring is
 * empty. Wakes producers that wait for room.
 * @throws PicklingError naming the field when the record or its descriptors
 *   are wrong; the record is consumed (the next `get` goes on), unless the ring
 *   could not be parsed at all: then it is BROKEN (see `ring.ts`)
 */
export function takeItem(ring: Ring, mailbox: Mailbox): Taken | undefined {
  let moved = false;
  try {
    const r = ring.peek();
    if (r === undefined) return undefined;
    moved = true;
    return take(ring, mailbox, r);
  } finally {
    if (moved && Atomics.load(ring.words, Slot.PUTTERS) > 0) futexWake(ring.address(Slot.HEAD), 0x7fff_ffff);
  }
}

/** Takes record `r`: commits it first, so that an error below skips exactly this record. */
function take(ring: Ring, mailbox: Mailbox, r: RecordView): Taken {
  ring.commit(r);
  if (r.fault !== undefined) throw r.fault;
  const count = r.info & Info.FDS_MASK;
  if (count === 0) return { bytes: r.bytes!, fds: NO_FDS };
  const fds = mailbox.take((r.info >>> Info.SEQ_SHIFT) & 0xffff, count, Atomics.load(ring.words, Slot.SEQ));
  if ((r.info & Info.OUT_OF_LINE) === 0) return { bytes: r.bytes!, fds };
  const memfd = fds.shift()!;
  try {
    // The memfd is the payload: its size must be the record's length (a forged one could be any size).
    const size = fileStat(memfd).size;
    if (size !== r.length) {
      throw new PicklingError(
        `Queue item's out-of-line payload holds ${size} bytes, its record says ${r.length}`,
        "record.length",
      );
    }
    return { bytes: readWhole(memfd), fds };
  } catch (err) {
    for (const fd of fds) closeFd(fd);
    throw err;
  } finally {
    closeFd(memfd);
  }
}
