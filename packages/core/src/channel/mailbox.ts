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
 * datagram is gone: that one item is lost, the queue goes on.
 */
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

/** Outcome of `take`: the descriptors, or why there are none. */
export type Taken = number[] | "lost";

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
   * Takes the descriptors posted under `seq16` (the low 16 bits of a sequence
   * number), dropping orphans posted before it. Never blocks: the datagram of
   * a published record is already queued, unless a consumer that died took it.
   */
  take(seq16: number): Taken {
    for (;;) {
      if (receiveSome(this.receiveFd, datagram, 0, 4, undefined, true) < 4) return "lost";
      const d = seqDiff(datagramView.getUint32(0, true), seq16);
      if (d > 0) return "lost";
      const fds: number[] = [];
      receiveSome(this.receiveFd, datagram, 0, 4, fds);
      if (d === 0) return fds;
      for (const fd of fds) closeFd(fd); // an orphan of a producer that died before publishing
    }
  }

  /** Closes this process's ends. */
  close(): void {
    closeOwnedFd(this.sendFd);
    closeOwnedFd(this.receiveFd);
  }
}
