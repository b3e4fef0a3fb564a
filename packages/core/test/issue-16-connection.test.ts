/** Issue #16 ("Hostile bytes"), the Connection wire format: every header field is checked before it is used. */
import { describe, expect, test } from "bun:test";
import { EOFError, Pipe } from "../src/index.ts";
import { MAX_MESSAGE } from "../src/channel/framing.ts";
import { closeFd } from "../src/native/file.ts";
import { createSegment, memfdWith } from "../src/native/memfd.ts";
import { sendSome } from "../src/native/socket.ts";
import { openFds } from "./fixtures/os-resources.ts";
import { concat, frame, header, type RawPair, rawPair, within, writeRaw } from "./fixtures/raw-frames.ts";

const LIMIT = 5000;

/** The error `recvBytes` settles with, bounded in time. */
async function failure(pair: RawPair, maxLength?: number): Promise<Error> {
  try {
    await within(pair.conn.recvBytes(maxLength), LIMIT, "recvBytes");
  } catch (e) {
    return e as Error;
  }
  throw new Error("recvBytes returned a message");
}

/** Expects every later receive to fail the same way (never a RangeError or a hang). */
async function expectBroken(pair: RawPair, message: RegExp): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const e = await failure(pair);
    expect(e).toBeInstanceOf(EOFError);
    expect(e.message).toMatch(message);
  }
  expect(pair.conn.poll(0)).toBe(true);
  expect(() => pair.conn.recvBytesSync()).toThrow(message);
}

describe("Connection frames (#16)", () => {
  test("Connection.recvBytes(): OUT_OF_LINE streamed larger than length, the data after the header, is refused", async () => {
    const pair = rawPair();
    const memfd = memfdWith(new Uint8Array(0));
    writeRaw(pair.peer, header({ length: 16, flags: 1, streamed: 65536, fds: 1 }), [memfd]);
    closeFd(memfd);
    const e = await failure(pair);
    expect(e).toBeInstanceOf(EOFError);
    expect(e.message).toBe("Connection frame: streamed 65536 exceeds length 16");
    writeRaw(pair.peer, new Uint8Array(65536).fill(7));
    await expectBroken(pair, /streamed 65536 exceeds length 16/);
    pair.close();
  });

  test("Connection.recvBytes(): OUT_OF_LINE streamed larger than length, the data with the header, breaks the connection without a RangeError", async () => {
    const pair = rawPair();
    const before = openFds();
    const memfd = memfdWith(new Uint8Array(0));
    writeRaw(pair.peer, concat(header({ length: 16, flags: 1, streamed: 65536, fds: 1 }), new Uint8Array(65536)), [
      memfd,
    ]);
    closeFd(memfd);
    await expectBroken(pair, /^Connection frame: streamed 65536 exceeds length 16$/);
    expect(openFds()).toBeLessThanOrEqual(before); // the memfd that came with the frame is closed
    pair.close();
  });

  test("Connection.poll(): a length over MAX_MESSAGE fails at once while the writer is open", async () => {
    const pair = rawPair();
    writeRaw(pair.peer, header({ length: 0xffff_ffff }));
    expect(pair.conn.poll(LIMIT)).toBe(true);
    await expectBroken(
      pair,
      new RegExp(`^Connection frame: length 4294967295 exceeds the limit of ${MAX_MESSAGE} bytes$`),
    );
    pair.close();
  });

  test("Connection.recvBytes(maxLength) refuses a long message from its header, and the next one arrives", async () => {
    const pair = rawPair();
    const length = 50 << 20;
    writeRaw(pair.peer, concat(header({ length }), new Uint8Array(1000).fill(1)));
    // The writer has sent 1000 of 50 MiB: the refusal must not wait for the rest.
    const e = await failure(pair, 1024);
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe(`Message of ${length} bytes is longer than maxLength 1024; it was dropped`);
    const chunk = new Uint8Array(1 << 20).fill(2);
    for (let left = length - 1000; left > 0; ) {
      const n = sendSome(pair.peer, chunk, 0, Math.min(left, chunk.byteLength));
      if (n > 0) left -= n;
      else expect(pair.conn.poll(0)).toBe(false); // drains what arrived; the next message is not there yet
    }
    const next = new Uint8Array(300).map((_, i) => i);
    writeRaw(pair.peer, frame(next));
    expect(await within(pair.conn.recvBytes(1024), LIMIT, "recvBytes")).toEqual(next);
    pair.close();
  });

  test("Connection.recvBytesSync(maxLength) drops an out-of-line message without reading it into memory", () => {
    const pair = rawPair();
    const length = 512 << 20;
    const streamed = 4096;
    const rest = createSegment(length - streamed); // sparse: costs no memory until read
    const before = openFds();
    writeRaw(pair.peer, concat(header({ length, flags: 1, streamed, fds: 1 }), new Uint8Array(streamed)), [rest.fd]);
    closeFd(rest.fd);
    writeRaw(pair.peer, frame(new Uint8Array([1, 2, 3])));
    Bun.gc(true);
    const rss = process.memoryUsage().rss;
    expect(pair.conn.poll(LIMIT)).toBe(true);
    expect(() => pair.conn.recvBytesSync(1024)).toThrow(
      new RangeError(`Message of ${length} bytes is longer than maxLength 1024; it was dropped`),
    );
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 << 20);
    expect(openFds()).toBe(before - 1); // the memfd that came with it is closed
    expect(pair.conn.poll(LIMIT)).toBe(true);
    expect(pair.conn.recvBytesSync(1024)).toEqual(new Uint8Array([1, 2, 3]));
    pair.close();
  });

  test("Connection.recvBytes(maxLength): a message refused from a Pipe leaves the next one intact", async () => {
    const [a, b] = Pipe();
    const big = new Uint8Array(3 << 20).fill(5);
    a.sendBytes(big);
    a.sendBytes(new Uint8Array([9]));
    a.sendBytes(big.subarray(0, 100_000));
    a.sendBytes(new Uint8Array([8]));
    expect(b.poll(LIMIT)).toBe(true);
    expect(() => b.recvBytesSync(10)).toThrow(RangeError);
    expect(await within(b.recvBytes(10), LIMIT, "recvBytes")).toEqual(new Uint8Array([9]));
    await expect(within(b.recvBytes(99_999), LIMIT, "recvBytes")).rejects.toBeInstanceOf(RangeError);
    expect(b.recvBytesSync(10)).toEqual(new Uint8Array([8]));
    a.close();
    b.close();
  });

  test("Connection.recvBytes(): a frame naming more descriptors than came with it is refused", async () => {
    const pair = rawPair();
    const fd = memfdWith(new Uint8Array(1));
    writeRaw(pair.peer, concat(header({ length: 4, fds: 2 }), new Uint8Array(4)), [fd]);
    const e = await failure(pair);
    expect(e).toBeInstanceOf(EOFError);
    expect(e.message).toBe("Connection frame: fds 2 but 1 descriptors arrived with the frame");
    closeFd(fd);
    pair.close();
  });

  test("Connection.recv(): descriptors that no frame claims break the connection and are closed", async () => {
    const pair = rawPair();
    const before = openFds();
    const fds = [memfdWith(new Uint8Array(1)), memfdWith(new Uint8Array(1))];
    writeRaw(pair.peer, frame(new Uint8Array([1])), fds); // the header says fds 0
    for (const fd of fds) closeFd(fd);
    expect(await within(pair.conn.recvBytes(), LIMIT, "recvBytes")).toEqual(new Uint8Array([1]));
    // A later message that claims descriptors must not get these two.
    const mine = memfdWith(new Uint8Array(1));
    writeRaw(pair.peer, concat(header({ length: 1, fds: 1 }), new Uint8Array([2])), [mine]);
    closeFd(mine);
    await expectBroken(pair, /^Connection frame: 2 descriptors arrived that no frame's fds field claims$/);
    expect(openFds()).toBeLessThanOrEqual(before);
    pair.close();
  });

  test("Connection.recv(): unknown flags, non-zero reserved bytes and too many fds name the field", async () => {
    const cases: [Uint8Array, string][] = [
      [
        header({ length: 1, flags: 0x82 }),
        "Connection frame: flags 0x82 has bits other than OUT_OF_LINE (0x1) or CHUNKED (0x2)",
      ],
      [header({ length: 1, flags: 3, fds: 1 }), "Connection frame: flags 0x3 has both OUT_OF_LINE and CHUNKED"],
      [header({ length: 1, reserved: 9 }), "Connection frame: reserved byte 7 is 9, not 0"],
      [header({ length: 1, fds: 254 }), "Connection frame: fds 254 exceeds the limit of 253"],
      [
        header({ length: 1, flags: 1, streamed: 1, fds: 1, reservedExtended: 5 }),
        "Connection frame: reserved bytes 12-15 are 5, not 0",
      ],
      [
        header({ length: 8, flags: 1, streamed: 1 }),
        "Connection frame: OUT_OF_LINE with fds 0 (its memfd must come first)",
      ],
    ];
    for (const [bytes, message] of cases) {
      const pair = rawPair();
      writeRaw(pair.peer, concat(bytes, new Uint8Array(8)));
      const e = await failure(pair);
      expect(e).toBeInstanceOf(EOFError);
      expect(e.message).toBe(message);
      pair.close();
    }
  });

  test("Connection.recv(): an out-of-line memfd whose size is not length - streamed is refused and closed", async () => {
    for (const size of [10, 1000]) {
      const pair = rawPair();
      const before = openFds();
      const memfd = memfdWith(new Uint8Array(size));
      writeRaw(pair.peer, concat(header({ length: 116, flags: 1, streamed: 16, fds: 1 }), new Uint8Array(16)), [memfd]);
      closeFd(memfd);
      const e = await failure(pair);
      expect(e).toBeInstanceOf(EOFError);
      expect(e.message).toBe(`Connection frame: memfd holds ${size} bytes, not length - streamed = 100`);
      expect(openFds()).toBeLessThanOrEqual(before);
      pair.close();
    }
  });

  test("Connection.sendBytes() refuses a message over MAX_MESSAGE before sending anything", () => {
    const [a, b] = Pipe();
    expect(() => a.sendBytes(new Uint8Array(MAX_MESSAGE + 1))).toThrow(RangeError);
    expect(b.poll(0)).toBe(false);
    a.close();
    b.close();
  });
});
