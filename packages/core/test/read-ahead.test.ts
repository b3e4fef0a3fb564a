/** Read-ahead connections (#20, message-reader.ts): reads take all the socket has, surplus is buffered for the next receive. */
import { describe, expect, test } from "bun:test";
import { readAhead } from "../src/channel/connection.ts";
import { type Connection, EOFError, Pipe, Queue, wait, waitSync } from "../src/index.ts";
import { receiveQueued } from "../src/native/socket.ts";
import { concat, frame, rawPair, within, writeRaw } from "./fixtures/raw-frames.ts";

/** Bound of every test: a receive that waits on the socket while its message is buffered would hang. */
const T = 15_000;

/** A Pipe whose receiving end reads ahead. */
function readAheadPipe(): [sender: Connection, receiver: Connection] {
  const [a, b] = Pipe();
  return [a, readAhead(b)];
}

/** Receives with a bound: a bug fails the test instead of hanging it. */
function recv(conn: Connection): unknown {
  if (!conn.poll(5000)) throw new Error("Nothing arrived within 5 s");
  return conn.recvSync();
}

const bytes = (s: string) => new TextEncoder().encode(s);

describe("readAhead", () => {
  test(
    "readAhead(): two messages sent back to back arrive as two, in order, through recvSync; one read takes both",
    () => {
      const [a, b] = readAheadPipe();
      a.send({ n: 1 });
      a.send("second");
      expect(recv(b)).toEqual({ n: 1 });
      // The second came with the first read: nothing is left in the socket.
      expect(receiveQueued(b.fileno())).toBe(0);
      expect(b.recvSync()).toBe("second");
      expect(b.poll(0)).toBe(false);
      a.close();
      b.close();
    },
    T,
  );

  test(
    "readAhead(): back-to-back messages arrive in order through the async recv",
    async () => {
      const [a, b] = readAheadPipe();
      for (let i = 0; i < 50; i++) a.send(i);
      const got: unknown[] = [];
      for (let i = 0; i < 50; i++) got.push(await within(b.recv(), 5000, "recv"));
      expect(got).toEqual([...Array(50).keys()]);
      a.close();
      b.close();
    },
    T,
  );

  test(
    "readAhead(): poll, pollAsync, wait and waitSync say ready when the next message is only buffered",
    async () => {
      const [a, b] = readAheadPipe();
      a.send("one");
      a.send("two");
      expect(recv(b)).toBe("one");
      expect(receiveQueued(b.fileno())).toBe(0); // "two" is in the buffer, the socket is empty
      expect(b.poll(0)).toBe(true);
      expect(b.poll(1000)).toBe(true);
      expect(await b.pollAsync(0)).toBe(true);
      expect(waitSync([b], 1000)).toEqual([b]);
      expect(await within(wait([b], 1000), 5000, "wait")).toEqual([b]);
      // The async receive and recvSync take it without waiting on the socket.
      expect(await within(b.recv(), 5000, "recv")).toBe("two");
      a.send("three");
      a.send("four");
      expect(await within(b.recv(), 5000, "recv")).toBe("three");
      expect(b.recvSync()).toBe("four");
      expect(waitSync([b], 0)).toEqual([]);
      a.close();
      b.close();
    },
    T,
  );

  test(
    "readAhead(): a message written a few bytes at a time is ready only once whole, and the next one after it",
    async () => {
      const pair = rawPair();
      readAhead(pair.conn);
      const wire = concat(frame(bytes("x".repeat(300))), frame(bytes("tail")));
      const first = 8 + 300;
      const pending = pair.conn.recvBytes();
      for (let at = 0; at < wire.byteLength; at += 7) {
        // Not ready while the first message is cut (the peek-free path reads what came).
        if (at <= first - 7) expect(pair.conn.poll(0)).toBe(false);
        writeRaw(pair.peer, wire.subarray(at, Math.min(at + 7, wire.byteLength)));
      }
      expect(new TextDecoder().decode(await within(pending, 5000, "recvBytes"))).toBe("x".repeat(300));
      expect(new TextDecoder().decode(pair.conn.recvBytesSync())).toBe("tail");
      pair.close();
    },
    T,
  );

  test(
    "readAhead(): messages bigger than the buffer, out of line, and carrying descriptors, among small ones",
    () => {
      const [a, b] = readAheadPipe();
      const [c, d] = Pipe();
      const q = Queue<string>();
      const mid = new Uint8Array(200_000).map((_, i) => i % 251);
      const huge = "h".repeat(3_000_000); // over 1 MiB: may go partly as a memfd
      a.send("first");
      a.sendBytes(mid);
      a.send({ conn: c, queue: q });
      a.send("between");
      a.send(huge);
      a.send({ again: c });
      a.send("last");
      c.close();
      expect(recv(b)).toBe("first");
      expect(b.poll(5000)).toBe(true);
      expect(b.recvBytesSync()).toEqual(mid);
      const got = recv(b) as { conn: Connection; queue: Queue<string> };
      expect(recv(b)).toBe("between");
      expect(recv(b)).toBe(huge);
      const again = recv(b) as { again: Connection };
      expect(recv(b)).toBe("last");
      got.conn.send("over the sent connection");
      expect(recv(d)).toBe("over the sent connection");
      again.again.send("and its second copy");
      expect(recv(d)).toBe("and its second copy");
      got.queue.putSync("over the sent queue");
      expect(q.getSync({ timeout: 1000 })).toBe("over the sent queue");
      for (const x of [a, b, d, got.conn, again.again]) x.close();
      q.close();
      got.queue.close();
    },
    T,
  );

  test(
    "readAhead(): small messages with and without descriptors back to back each get their own descriptors",
    () => {
      const [a, b] = readAheadPipe();
      const pipes = [Pipe(), Pipe(), Pipe()];
      a.send("start");
      for (const [i, [x]] of pipes.entries()) {
        a.send({ i, x });
        a.send(`after ${i}`);
      }
      for (const [x] of pipes) x.close();
      expect(recv(b)).toBe("start");
      for (const [i, [, y]] of pipes.entries()) {
        const got = recv(b) as { i: number; x: Connection };
        expect(got.i).toBe(i);
        expect(recv(b)).toBe(`after ${i}`);
        got.x.send(`through ${i}`);
        expect(recv(y)).toBe(`through ${i}`);
        got.x.close();
        y.close();
      }
      a.close();
      b.close();
    },
    T,
  );

  test(
    "readAhead(): recvBytes(maxLength) refuses a long message and the buffered one after it stays readable",
    () => {
      const [a, b] = readAheadPipe();
      a.sendBytes(new Uint8Array(500));
      a.sendBytes(bytes("short"));
      expect(b.poll(5000)).toBe(true);
      expect(() => b.recvBytesSync(10)).toThrow(RangeError);
      expect(b.poll(0)).toBe(true);
      expect(new TextDecoder().decode(b.recvBytesSync(10))).toBe("short");
      a.close();
      b.close();
    },
    T,
  );

  test(
    "readAhead(): the peer closes with messages buffered: they arrive, then EOFError",
    async () => {
      const [a, b] = readAheadPipe();
      a.send("one");
      a.send("two");
      a.send("three");
      a.close();
      expect(recv(b)).toBe("one");
      expect(b.poll(0)).toBe(true);
      expect(b.recvSync()).toBe("two");
      expect(await within(b.recv(), 5000, "recv")).toBe("three");
      expect(b.poll(0)).toBe(true); // the end of the stream is ready
      expect(() => b.recvSync()).toThrow(EOFError);
      await expect(b.recv()).rejects.toBeInstanceOf(EOFError);
      b.close();
    },
    T,
  );

  test(
    "readAhead(): the peer closes in the middle of a buffered message: the whole one before it, then EOFError",
    () => {
      const pair = rawPair();
      readAhead(pair.conn);
      const cut = frame(bytes("cut short"));
      writeRaw(pair.peer, concat(frame(bytes("whole")), cut.subarray(0, 12)));
      pair.closePeer();
      expect(pair.conn.poll(5000)).toBe(true);
      expect(new TextDecoder().decode(pair.conn.recvBytesSync())).toBe("whole");
      expect(() => pair.conn.recvBytesSync()).toThrow("Connection closed in the middle of a message");
      pair.close();
    },
    T,
  );
});
