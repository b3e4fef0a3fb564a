/**
 * CHUNKED messages (#18 point 12, framing.ts): a message over 1 MiB that does
 * not fit in the socket buffer goes in pieces while the peer reads, and the
 * rest in a memfd once the peer has left the buffer full for a while. Here:
 * what the sender puts on the wire in both cases, and how the reader treats
 * pieces that break the rules, a refused one, and one handed over half read.
 */
import { describe, expect, test } from "bun:test";
import { CHUNKED, HEADER, nextStallMs, OUT_OF_LINE, STALL_MS, writeMessage } from "../src/channel/framing.ts";
import { type Connection, EOFError, Pipe, ProcessError } from "../src/index.ts";
import { closeFd, fileStat, readAt } from "../src/native/file.ts";
import { memfdWith } from "../src/native/memfd.ts";
import { waitReady } from "../src/native/poll.ts";
import { receiveSome, socketPair } from "../src/native/socket.ts";
import { openFds } from "./fixtures/os-resources.ts";
import { concat, frame, header, rawPair, within, writeRaw } from "./fixtures/raw-frames.ts";

/** `n` bytes with no period that divides a page or a piece. */
function patterned(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 11)) % 251;
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** What a raw reader found on the wire for one message: its header, its pieces, and the descriptors that came. */
interface Wire {
  flags: number;
  length: number;
  pieces: { flags: number; length: number; fds: number }[];
  payload: Uint8Array;
}

/**
 * Reads one message raw from socket `fd` (nothing else is sent on it),
 * waiting at most `ms` for each read, and reassembles its payload from its
 * pieces (an OUT_OF_LINE piece from its memfd).
 */
function readWire(fd: number, ms: number): Wire {
  let buf = new Uint8Array(1 << 16);
  let have = 0;
  const fds: number[] = [];
  let at = 0;
  const need = (n: number) => {
    while (have - at < n) {
      if (buf.byteLength - have < 1 << 16) {
        const grown = new Uint8Array(buf.byteLength * 2);
        grown.set(buf.subarray(0, have));
        buf = grown;
      }
      if (!waitReady(fd, "read", ms)) throw new Error(`Nothing more on the wire within ${ms} ms`);
      const got = receiveSome(fd, buf, have, buf.byteLength - have, fds);
      if (got <= 0) throw new Error("The wire ended inside a message");
      have += got;
    }
  };
  const view = () => new DataView(buf.buffer);
  need(HEADER);
  const flags = view().getUint8(6);
  const length = view().getUint32(0, true);
  at = HEADER;
  const payload = new Uint8Array(length);
  const pieces: Wire["pieces"] = [];
  for (let filled = 0; filled < length; ) {
    need(HEADER);
    const pieceFlags = view().getUint8(at + 6);
    const pieceLength = view().getUint32(at + 0, true);
    const pieceFds = view().getUint16(at + 4, true);
    pieces.push({ flags: pieceFlags, length: pieceLength, fds: pieceFds });
    if (pieceFlags === OUT_OF_LINE) {
      need(16);
      at += 16;
      const memfd = fds.shift()!;
      expect(fileStat(memfd).size).toBe(pieceLength);
      for (let done = 0; done < pieceLength; ) done += readAt(memfd, payload.subarray(filled + done), done);
      closeFd(memfd);
    } else {
      at += HEADER;
      need(pieceLength);
      payload.set(buf.subarray(at, at + pieceLength), filled);
      at += pieceLength;
    }
    filled += pieceLength;
  }
  for (const extra of fds) closeFd(extra);
  return { flags, length, pieces, payload };
}

/** Sends `payload` on one end of a new socket pair from a Worker thread, so that this thread can read meanwhile. */
function sendFromWorker(fd: number, payload: Uint8Array, stallMs: number): Worker {
  const worker = new Worker(new URL("./fixtures/chunked-sender.ts", import.meta.url));
  worker.postMessage({ fd, payload, stallMs });
  return worker;
}

describe("Connection CHUNKED messages (#18)", () => {
  test("a 16 MiB message to a peer that reads as it comes arrives in plain pieces, all through the socket", async () => {
    const [x, y] = socketPair("stream");
    const payload = patterned(16 << 20);
    // A stall of 5 s: a reader that keeps reading never lets one happen, however loaded the machine.
    const worker = sendFromWorker(x, payload, 5000);
    const sent = new Promise((resolve) => {
      worker.onmessage = resolve;
    });
    try {
      const wire = readWire(y, 5000);
      expect(wire.flags).toBe(CHUNKED);
      expect(wire.length).toBe(payload.byteLength);
      expect(wire.pieces.length).toBeGreaterThan(1);
      expect(wire.pieces.every((p) => p.flags === 0 && p.fds === 0 && p.length > 0)).toBe(true);
      expect(sameBytes(wire.payload, payload)).toBe(true);
      await within(sent, 5000, "the Worker's send");
    } finally {
      worker.terminate();
      closeFd(x);
      closeFd(y);
    }
  });

  test("a 16 MiB message to a peer that does not read: send returns after the stall, the rest in one memfd", () => {
    const [x, y] = socketPair("stream");
    const payload = patterned(16 << 20);
    try {
      const t0 = performance.now();
      writeMessage(x, payload, [], false, 50);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
      const wire = readWire(y, 1000);
      expect(wire.flags).toBe(CHUNKED);
      const last = wire.pieces.at(-1)!;
      expect(last).toMatchObject({ flags: OUT_OF_LINE, fds: 1 });
      expect(wire.pieces.slice(0, -1).every((p) => p.flags === 0 && p.fds === 0)).toBe(true);
      // What fit in the socket buffer went in the stream.
      expect(last.length).toBeLessThan(payload.byteLength);
      expect(sameBytes(wire.payload, payload)).toBe(true);
    } finally {
      closeFd(x);
      closeFd(y);
    }
  });

  test("a connection waits less for a peer that keeps leaving the buffer full, and the full stall once one reads", () => {
    let stall = STALL_MS;
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) {
      stall = nextStallMs(stall, "spilled");
      seen.push(stall);
    }
    expect(seen).toEqual([STALL_MS / 4, STALL_MS / 16, 0.25, 0.25]);
    expect(nextStallMs(stall, "plain")).toBe(0.25); // a small message says nothing of the peer
    expect(nextStallMs(stall, "streamed")).toBe(STALL_MS);
    // Sends to a peer that reads nothing meanwhile all arrive, in order.
    const [a, b] = Pipe();
    const big = patterned(3 << 20);
    for (let i = 0; i < 4; i++) a.sendBytes(big);
    for (let i = 0; i < 4; i++) {
      expect(b.poll(5000)).toBe(true);
      expect(sameBytes(b.recvBytesSync(), big)).toBe(true);
    }
    a.close();
    b.close();
  });

  test("Connection.sendBytes()/recvBytes(): CHUNKED messages with descriptors and small ones keep their order", () => {
    const [a, b] = Pipe();
    const [c, d] = Pipe();
    const big = patterned(3 << 20);
    a.send({ conn: c, data: big }); // the Connection's socket travels with the message's header
    a.sendBytes(new Uint8Array([1]));
    a.sendBytes(big);
    c.close();
    expect(b.poll(5000)).toBe(true);
    const got = b.recvSync() as { conn: Connection; data: Uint8Array };
    expect(sameBytes(got.data, big)).toBe(true);
    expect(b.recvBytesSync()).toEqual(new Uint8Array([1]));
    expect(sameBytes(b.recvBytesSync(), big)).toBe(true);
    got.conn.send("over the carried connection");
    expect(d.poll(5000)).toBe(true);
    expect(d.recvSync()).toBe("over the carried connection");
    for (const x of [a, b, d, got.conn]) x.close();
  });

  test("Connection.recv(): pieces that break the rules name what is wrong, and leave no descriptor open", async () => {
    const chunked = (length: number, fds = 0) => header({ length, fds, flags: CHUNKED });
    const piece = (length: number) => header({ length });
    const cases: { bytes: Uint8Array[]; fds?: Uint8Array[][]; message: string }[] = [
      {
        bytes: [concat(chunked(10), header({ length: 4, flags: CHUNKED }))],
        message: "Connection frame: a piece of a CHUNKED message is CHUNKED itself",
      },
      {
        bytes: [concat(chunked(10), piece(0))],
        message: "Connection frame: a piece of a CHUNKED message has length 0",
      },
      {
        bytes: [concat(chunked(10), piece(4), new Uint8Array(4), piece(7), new Uint8Array(7))],
        message: "Connection frame: piece length 7 exceeds the 6 bytes left of its message",
      },
      {
        // A descriptor that came with a plain piece: the next header that claims one finds it unclaimed.
        bytes: [chunked(10), concat(piece(4), new Uint8Array(4)), header({ length: 6, fds: 1, flags: OUT_OF_LINE })],
        fds: [[], [new Uint8Array(1)], [new Uint8Array(6)]],
        message: "Connection frame: 1 descriptors arrived that no frame's fds field claims",
      },
      {
        bytes: [chunked(10), concat(header({ length: 10, fds: 1 }), new Uint8Array(10))],
        fds: [[], [new Uint8Array(1)]],
        message:
          "Connection frame: a piece of a CHUNKED message has fds 1 (only an OUT_OF_LINE piece has one, its memfd)",
      },
      {
        bytes: [chunked(10), header({ length: 10, fds: 2, flags: OUT_OF_LINE })],
        fds: [[], [new Uint8Array(10), new Uint8Array(1)]],
        message: "Connection frame: an OUT_OF_LINE piece has fds 2, not 1 (its memfd)",
      },
      {
        bytes: [
          chunked(10),
          concat(header({ length: 10, fds: 1, flags: OUT_OF_LINE, streamed: 2 }), new Uint8Array(2)),
        ],
        fds: [[], [new Uint8Array(8)]],
        message: "Connection frame: an OUT_OF_LINE piece streams 2 bytes, not 0",
      },
      {
        bytes: [concat(chunked(10), piece(2), new Uint8Array(2)), header({ length: 5, fds: 1, flags: OUT_OF_LINE })],
        fds: [[], [new Uint8Array(5)]],
        message: "Connection frame: an OUT_OF_LINE piece holds 5 bytes, not the 8 left of its message",
      },
      {
        bytes: [chunked(10, 1), header({ length: 10, fds: 1, flags: OUT_OF_LINE })],
        fds: [[new Uint8Array(1)], [new Uint8Array(9)]],
        message: "Connection frame: memfd holds 9 bytes, not the piece's length 10",
      },
    ];
    for (const c of cases) {
      const before = openFds();
      const pair = rawPair();
      for (const [k, bytes] of c.bytes.entries()) {
        const fds = (c.fds?.[k] ?? []).map((content) => memfdWith(content));
        writeRaw(pair.peer, bytes, fds);
        for (const fd of fds) closeFd(fd);
      }
      pair.closePeer();
      const e = await within(pair.conn.recvBytes(), 5000, "recvBytes").catch((err: unknown) => err);
      expect(e).toBeInstanceOf(EOFError);
      expect((e as Error).message).toBe(c.message);
      pair.close();
      expect(openFds()).toBeLessThanOrEqual(before);
    }
  });

  test("Connection.recvBytes(maxLength) refuses a CHUNKED message from its header and drops its pieces and memfd", async () => {
    const before = openFds();
    const pair = rawPair();
    const head = header({ length: 300, fds: 1, flags: CHUNKED });
    const first = concat(head, header({ length: 100 }), new Uint8Array(100).fill(1));
    const attached = [memfdWith(new Uint8Array(1)), memfdWith(new Uint8Array(200))];
    writeRaw(pair.peer, first, [attached[0]!]);
    writeRaw(pair.peer, header({ length: 200, fds: 1, flags: OUT_OF_LINE }), [attached[1]!]);
    writeRaw(pair.peer, frame(new Uint8Array([9, 9])));
    for (const fd of attached) closeFd(fd);
    await expect(pair.conn.recvBytes(50)).rejects.toThrow(
      "Message of 300 bytes is longer than maxLength 50; it was dropped",
    );
    expect(await within(pair.conn.recvBytes(), 5000, "recvBytes")).toEqual(new Uint8Array([9, 9]));
    pair.close();
    expect(openFds()).toBeLessThanOrEqual(before);
  });

  test("a Connection sent in the middle of a CHUNKED message hands over what it read of it", async () => {
    const payload = patterned(200_000);
    for (const cutInPiece of [true, false]) {
      const pair = rawPair();
      const [carrier, receiver] = Pipe();
      // Pieces of 120 000 and 80 000 bytes; the first arrives whole or in part before the hand-over.
      const sent = cutInPiece ? 90_000 : 120_000;
      writeRaw(pair.peer, concat(header({ length: 200_000, flags: CHUNKED }), header({ length: 120_000 })));
      writeRaw(pair.peer, payload.subarray(0, sent));
      const pending = pair.conn.recvBytes();
      await Bun.sleep(20); // the receive reads what is there, then waits
      carrier.send(pair.conn);
      pair.conn.close();
      await expect(pending).rejects.toBeInstanceOf(ProcessError);
      writeRaw(pair.peer, payload.subarray(sent, 120_000));
      writeRaw(pair.peer, concat(header({ length: 80_000 }), payload.subarray(120_000), frame(new Uint8Array([5]))));
      expect(receiver.poll(5000)).toBe(true);
      const moved = receiver.recvSync() as Connection;
      expect(moved.poll(5000)).toBe(true);
      expect(sameBytes(moved.recvBytesSync(), payload)).toBe(true);
      expect(moved.recvBytesSync()).toEqual(new Uint8Array([5]));
      for (const x of [moved, carrier, receiver]) x.close();
      pair.closePeer();
    }
  });

  test("a Connection sent while it drops a refused CHUNKED message hands the dropping over", async () => {
    const pair = rawPair();
    const [carrier, receiver] = Pipe();
    writeRaw(
      pair.peer,
      concat(header({ length: 5000, flags: CHUNKED }), header({ length: 3000 }), new Uint8Array(1000)),
    );
    await expect(pair.conn.recvBytes(10)).rejects.toBeInstanceOf(RangeError);
    carrier.send(pair.conn);
    pair.conn.close();
    writeRaw(pair.peer, concat(new Uint8Array(2000), header({ length: 2000 }), new Uint8Array(2000)));
    writeRaw(pair.peer, frame(new Uint8Array([7])));
    expect(receiver.poll(5000)).toBe(true);
    const moved = receiver.recvSync() as Connection;
    expect(moved.poll(5000)).toBe(true);
    expect(moved.recvBytesSync()).toEqual(new Uint8Array([7]));
    for (const x of [moved, carrier, receiver]) x.close();
    pair.closePeer();
  });
});
