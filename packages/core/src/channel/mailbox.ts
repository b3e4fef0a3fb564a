/**
 * A queue's mailbox: the datagram socket pair through which an item's
 * descriptors travel (the library objects in it, or the memfd holding an item
 * too big for the ring). Descriptors in flight keep their files open, so an
 * item is safe once `put` returned even if its producer exits.
 *
 * Wire format: one datagram per item, a u32 sequence number (little-endian)
 * with the descriptors attached (SCM_RIGHTS). Producers send under the write
 * lock, in sequence order, before they publish the item's ring record, which
 * names the sequence number (low 16 bits); consumers take datagrams under the
 * read lock, in record order. A producer that died between the two leaves an
 * orphan datagram, which the next consumer recognises by its older number and
 * drops; a consumer that died after taking a datagram leaves a record whose
 * datagram is gone: that one item is lost (its `get` throws), the queue goes on.
 *
 * Anything else in the socket is a forgery, and is an error on the item that
 * meets it, never a silent skip (#16): a datagram numbered past the last
 * number a producer took (the ring's SEQ, stored before the datagram is sent)
 * or shorter than 4 bytes is taken out and its descriptors closed; one with
 * the right number but not the record's count of descriptors likewise; one
 * numbered between the record's and SEQ stays (it may be the next item's).
 * Either way the record's own datagram, if still there, is older than the
 * next record's and is dropped as an orphan: the next item arrives.
 */
import { PicklingError } from "../errors.ts";
import { closeFd } from "../native/file.ts";
import { receiveSome, sendParts, setSocketBuffers, socketPair } from "../native/socket.ts";
import { closeOwnedFd, ownFd } from "./realm-fds.ts";

/** Kernel buffer asked for the mailbox: room for thousands of datagrams in flight. */
const MAILBOX_BUFFER = 4 << 20;

const datagram = new Uint8Array(new ArrayBuffer(4));
const datagramView = new DataView(datagram.buffer);

/** Signed distance from `b` to `a` in 16-bit sequence space. */
function seqDiff(a: number, b: number): number {
  return (((a - b) & 0xffff) << 16) >> 16;
}

export class Mailbox {
  /** Producers send here. */
  readonly sendFd: number;
  /** Consumers receive here. */
  readonly receiveFd: number;

  constructor(sendFd: number, receiveFd: number) {
    this.sendFd = ownFd(sendFd);
    this.receiveFd = ownFd(receiveFd);
  }

  /** A new mailbox (a datagram socket pair). */
  static create(): Mailbox {
    const [send, receive] = socketPair("dgram");
    setSocketBuffers(send, MAILBOX_BUFFER);
    setSocketBuffers(receive, MAILBOX_BUFFER);
    return new Mailbox(send, receive);
  }

  /** Sends `fds` under sequence number `seq`. Returns false when the mailbox is full (try again later). */
  post(seq: number, fds: readonly number[]): boolean {
    datagramView.setUint32(0, seq >>> 0, true);
    return sendParts(this.sendFd, datagram, undefined, fds) >= 0;
  }

  /**
   * Takes the `count` descriptors posted under `seq16` (the low 16 bits of a
   * sequence number), dropping orphans posted before it. `lastSeq` is the
   * ring's SEQ: no producer posted a number past it. Never blocks: the
   * datagram of a published record is already queued, unless a consumer that
   * died took it.
   * @throws PicklingError naming the expected and received sequence numbers (or the count) when the datagram is missing or wrong
   */
  take(seq16: number, count: number, lastSeq: number): number[] {
    for (;;) {
      const n = receiveSome(this.receiveFd, datagram, 0, 4, undefined, true);
      if (n < 0) throw missing(seq16, "found the mailbox empty");
      if (n < 4) {
        this.#drop();
        throw missing(seq16, `received a datagram of ${n} bytes (a datagram is 4)`);
      }
      const got = datagramView.getUint32(0, true);
      const d = seqDiff(got, seq16);
      if (d > 0) {
        // Past what any producer sent: a forgery, taken out. Otherwise it may be the next item's: it stays.
        if (seqDiff(got, lastSeq) > 0) this.#drop();
        throw missing(seq16, `received ${got & 0xffff}`);
      }
      const fds = this.#drop(d === 0);
      if (d < 0) continue; // an orphan of a producer that died before publishing
      if (fds.length === count) return fds;
      for (const fd of fds) closeFd(fd);
      throw new PicklingError(
        `Queue mailbox datagram ${seq16} carried ${fds.length} descriptors, its record says ${count}`,
        "mailbox.descriptors",
      );
    }
  }

  /** Receives the datagram at the front; returns its descriptors with `keep`, else closes them. */
  #drop(keep = false): number[] {
    const fds: number[] = [];
    try {
      receiveSome(this.receiveFd, datagram, 0, 4, fds);
    } catch (err) {
      for (const fd of fds) closeFd(fd);
      throw new PicklingError(`Queue mailbox datagram could not be received: ${(err as Error).message}`, "mailbox", {
        cause: err,
      });
    }
    if (keep) return fds;
    for (const fd of fds) closeFd(fd);
    return [];
  }

  /** Closes this process's ends. */
  close(): void {
    closeOwnedFd(this.sendFd);
    closeOwnedFd(this.receiveFd);
  }
}

function missing(seq16: number, why: string): PicklingError {
  return new PicklingError(
    `Queue item lost: its descriptors did not arrive: expected mailbox sequence number ${seq16}, ${why}`,
    "mailbox.seq",
  );
}
