/** Conformance: Pipe and Connection between the parent and its children. */
import { describe, expect, test } from "bun:test";
import { type Connection, EOFError, PicklingError, type Process } from "../../src/index.ts";
import * as ct from "../fixtures/channel-targets.ts";
import * as mark from "../fixtures/import-mark.ts";
import * as tt from "../fixtures/trust-targets.ts";
import * as targets from "../fixtures/targets.ts";
import { CHILD_TIMEOUT, NO_WAIT_MS, run, type Suite, waitInChild } from "./harness.ts";

const MARK_MODULE = Bun.resolveSync("../fixtures/import-mark.ts", import.meta.dir);

/** After a failed test: a child still running is killed, so it does not outlive the suite. */
async function stop(p: Process): Promise<void> {
  if (p.exitCode === null) {
    p.kill();
    await p.join(CHILD_TIMEOUT);
  }
}

/** Receives with a bound: a hang fails the test instead of stalling the suite. */
async function recvWithin(conn: Connection, ms = CHILD_TIMEOUT): Promise<unknown> {
  if (!(await conn.pollAsync(ms))) throw new Error(`Nothing arrived within ${ms} ms`);
  return conn.recv();
}

const values: [string, unknown][] = [
  [
    "a Map",
    new Map<unknown, unknown>([
      ["a", 1],
      [2, { b: [3] }],
    ]),
  ],
  ["a Set", new Set(["ss", "aa", "pp", "mm"])],
  ["a Date", new Date("2024-05-06T07:08:09.010Z")],
  ["a bigint", 12345678901234567890123n],
  ["typed arrays", { f: new Float64Array([1.5, -2.25]), u: new Uint8Array([1, 2, 255]), n: Number.NaN }],
  ["nested objects", { a: [1, { b: { c: [null, true, "x"] } }], d: undefined }],
  ["a string of megabytes", "spam".repeat(1_500_000)],
  ["an error", new RangeError("boom")],
];

export function pipeTests(s: Suite): void {
  const { mp } = s;
  describe(`[${s.backend}] Pipe`, () => {
    test("Pipe(): a child echoes structured-clone values of every kind", async () => {
      const [a, b] = mp.Pipe();
      const p = new mp.Process({ target: ct.echo, args: [b] });
      p.start();
      b.close(); // the child holds its own copy
      try {
        for (const [, v] of values) {
          a.send(v);
          expect(await recvWithin(a)).toEqual(v);
        }
        a.send(null);
        await p.join(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(0);
      } finally {
        a.close();
        await stop(p);
      }
    });

    test("Connection.recv() on a closed, drained peer throws EOFError", async () => {
      const [a, b] = mp.Pipe();
      const p = await run(new mp.Process({ target: ct.sendAndClose, args: [b, ["spam", 42, "eggs"]] }));
      b.close();
      expect(p.exitCode).toBe(0);
      expect(await recvWithin(a)).toEqual(["spam", 42, "eggs"]);
      // End of stream is "ready". Not always at once: a process Bun spawns holds
      // copies of the parent's descriptors until it execs (about a millisecond),
      // and the spawn backend may be making its spare process right then.
      expect(a.poll(CHILD_TIMEOUT)).toBe(true);
      expect(() => a.recvSync()).toThrow(EOFError);
      await expect(a.recv()).rejects.toBeInstanceOf(EOFError);
      a.close();
    });

    test("a child given 300 Connections (more descriptors than one socket message carries) uses each", async () => {
      const pipes = Array.from({ length: 300 }, () => mp.Pipe(false));
      const p = new mp.Process({ target: ct.sendIndexOnEach, args: [pipes.map(([, w]) => w)] });
      p.start();
      for (const [, w] of pipes) w.close();
      const got: unknown[] = [];
      for (const [r] of pipes) got.push(await recvWithin(r));
      await p.join(CHILD_TIMEOUT);
      expect(p.exitCode).toBe(0);
      expect(got).toEqual(pipes.map((_, i) => i));
      for (const [r] of pipes) r.close();
    });

    test("Connection.send() right before process.exit is not lost", async () => {
      const [a, b] = mp.Pipe(false);
      const p = await run(new mp.Process({ target: ct.sendAndExit, args: [b, { last: "words" }] }));
      b.close();
      expect(p.exitCode).toBe(0);
      expect(await recvWithin(a)).toEqual({ last: "words" });
      a.close();
    });

    test("Connection.recv() does not hang when the child crashes", async () => {
      const [a, b] = mp.Pipe();
      const p = await run(new mp.Process({ target: targets.crash, args: ["crashed on purpose", b] }));
      b.close();
      expect(p.exitCode).toBe(1);
      expect(await a.pollAsync(CHILD_TIMEOUT)).toBe(true);
      expect(() => a.recvSync()).toThrow(EOFError);
      a.close();
    });

    test("Connection.send() of a value that cannot travel throws PicklingError and the connection stays usable", async () => {
      const [a, b] = mp.Pipe();
      const p = new mp.Process({ target: ct.echo, args: [b] });
      p.start();
      b.close();
      try {
        let error: unknown;
        try {
          a.send({ ok: 1, handler: () => 1 });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(PicklingError);
        expect((error as PicklingError).path).toBe("obj.handler");
        a.send("still works");
        expect(await recvWithin(a)).toBe("still works");
        a.send(null);
        await p.join(CHILD_TIMEOUT);
      } finally {
        a.close();
        await stop(p);
      }
    });

    test("Connection.sendBytes(buf, offset, size) / recvBytes through a child, messages up to 16 MiB byte-exact", async () => {
      const [a, b] = mp.Pipe();
      const p = new mp.Process({ target: ct.echoBytes, args: [b] });
      p.start();
      b.close();
      try {
        const words = new Int32Array([1, 2, 3, 4]);
        a.sendBytes(words, 4, 8); // bytes 4..12: the 2nd and 3rd words
        expect(await a.pollAsync(CHILD_TIMEOUT)).toBe(true);
        expect(new Int32Array(a.recvBytesSync().buffer)).toEqual(new Int32Array([2, 3]));
        const big = new Uint8Array(3_000_000).map((_, i) => i % 251);
        a.sendBytes(big);
        expect(await a.pollAsync(CHILD_TIMEOUT)).toBe(true);
        expect(await a.recvBytes()).toEqual(big);
        // Around 2 MiB (a huge page), and 16 MiB: none a multiple of a page.
        for (const n of [(2 << 20) - 1, (2 << 20) + 4097, (16 << 20) + 3]) {
          const sent = new Uint8Array(n);
          for (let i = 0; i < 4099; i++) sent[i] = (i * 13 + n) % 251;
          for (let have = 4099; have < n; have *= 2) sent.copyWithin(have, 0, Math.min(have, n - have));
          a.sendBytes(sent);
          expect(await a.pollAsync(CHILD_TIMEOUT)).toBe(true);
          const got = a.recvBytesSync();
          expect(got.byteLength).toBe(n);
          expect(Buffer.from(got.buffer, got.byteOffset, n).equals(sent)).toBe(true);
        }
        a.sendBytes(new Uint8Array(0));
        await p.join(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(0);
      } finally {
        a.close();
        await stop(p);
      }
    }, 60_000);

    test("Connection.recvBytes(maxLength) throws on a longer message and stays usable", () => {
      const [a, b] = mp.Pipe();
      a.sendBytes(new Uint8Array(100));
      a.sendBytes(new Uint8Array([7]));
      expect(() => b.recvBytesSync(10)).toThrow(RangeError);
      expect(b.recvBytesSync(10)).toEqual(new Uint8Array([7]));
      expect(() => a.sendBytes(new Uint8Array(4), 2, 3)).toThrow(RangeError);
      a.close();
      b.close();
    });

    test("Connection.poll(timeout) waits at most timeout ms", async () => {
      const [a, b] = mp.Pipe();
      const t0 = performance.now();
      expect(a.poll(50)).toBe(false);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
      expect(await a.pollAsync(20)).toBe(false);
      b.send(1);
      expect(a.poll()).toBe(true);
      expect(await a.pollAsync(0)).toBe(true);
      expect(a.recvSync()).toBe(1);
      a.close();
      b.close();
    });

    test("Connection.poll(-1) in a child does not wait (Python: poll(-1) is poll(0)); NaN is a RangeError", async () => {
      const [a, b] = mp.Pipe();
      try {
        for (const call of ["Connection.poll", "Connection.pollAsync"] as const) {
          const r = await waitInChild(s, call, a, -1);
          expect({ call, ...r, ms: 0 }).toEqual({ call, result: false, ms: 0 });
          expect(r.ms).toBeLessThan(NO_WAIT_MS);
        }
        expect(() => a.poll(Number.NaN)).toThrow(/Connection\.poll timeout .*got NaN/);
        await expect(a.pollAsync(Number.NaN)).rejects.toThrow(RangeError);
        b.send("here");
        expect(a.poll(-1)).toBe(true);
        expect(await a.pollAsync(-1)).toBe(true);
        expect(await waitInChild(s, "Connection.poll", a, -1)).toMatchObject({ result: true });
      } finally {
        a.close();
        b.close();
      }
    });

    // Issue #18, point 3: whatever a process has not received stays readable
    // by the other holders of the end after it exits (poll takes nothing).
    for (const how of ["poll", "pollAsync"] as const) {
      test(`Connection.${how}() in a child that then exits leaves the message to the parent`, async () => {
        const [a, b] = mp.Pipe();
        a.send({ first: [1, 2, 3] });
        a.send("second");
        const p = await run(
          new mp.Process({ target: ct.pollAndReturn, args: [b, CHILD_TIMEOUT, how === "pollAsync"] }),
        );
        expect(p.exitCode).toBe(0); // 3: the child's poll found nothing
        expect(await recvWithin(b, 3000)).toEqual({ first: [1, 2, 3] }); // already queued: no wait
        expect(await recvWithin(b)).toBe("second");
        a.close();
        b.close();
      });
    }

    test("Connection.poll() in a child that then exits leaves an out-of-line message bigger than the socket buffer", async () => {
      const [a, b] = mp.Pipe();
      const big = new Uint8Array(12 << 20).map((_, i) => i % 253);
      a.sendBytes(big); // streams what fits, the rest as a memfd: send does not wait for a reader
      a.sendBytes(new Uint8Array([1, 2, 3]));
      const p = await run(new mp.Process({ target: ct.pollAndReturn, args: [b, CHILD_TIMEOUT] }));
      expect(p.exitCode).toBe(0);
      expect(b.poll(CHILD_TIMEOUT)).toBe(true);
      expect(b.recvBytesSync()).toEqual(big);
      expect(b.recvBytesSync()).toEqual(new Uint8Array([1, 2, 3]));
      a.close();
      b.close();
    });

    test("Connection.recv() in a child takes one message; the next stays readable after the child exits", async () => {
      const [a, b] = mp.Pipe();
      a.send("for the child");
      a.sendBytes(new Uint8Array(200_000).fill(4)); // in the stream, more than the read buffer
      a.send({ for: "the parent" });
      const p = await run(new mp.Process({ target: ct.recvOneAndReturn, args: [b] }));
      expect(p.exitCode).toBe(0);
      expect(b.poll(CHILD_TIMEOUT)).toBe(true);
      expect(b.recvBytesSync()).toEqual(new Uint8Array(200_000).fill(4));
      expect(await recvWithin(b)).toEqual({ for: "the parent" });
      a.close();
      b.close();
    });

    test("Pipe(false) is one-way [reader, writer]; the wrong direction throws", () => {
      const [r, w] = mp.Pipe(false);
      expect([r.readable, r.writable, w.readable, w.writable]).toEqual([true, false, false, true]);
      expect(() => r.send(1)).toThrow();
      expect(() => w.recvSync()).toThrow();
      w.send([1, 2]);
      expect(r.recvSync()).toEqual([1, 2]);
      r.close();
      w.close();
      expect(r.closed).toBe(true);
      expect(() => r.recvSync()).toThrow();
    });

    test("Connection.recv() (async) in a child", async () => {
      const [a, b] = mp.Pipe();
      const p = new mp.Process({ target: ct.echoAsync, args: [b] });
      p.start();
      b.close();
      try {
        for (let i = 0; i < 20; i++) {
          a.send({ i });
          expect(await recvWithin(a)).toEqual({ i });
        }
        a.send(null);
        await p.join(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(0);
      } finally {
        a.close();
        await stop(p);
      }
    });

    test("a Connection travels through a Pipe to a running child", async () => {
      const [a, b] = mp.Pipe();
      const [c, d] = mp.Pipe();
      const p = new mp.Process({ target: ct.replyOnReceived, args: [b, "through the pipe"] });
      p.start();
      b.close();
      a.send(c);
      c.close(); // the child got its own copy
      expect(await recvWithin(d)).toBe("through the pipe");
      await p.join(CHILD_TIMEOUT);
      expect(p.exitCode).toBe(0);
      a.close();
      d.close();
    });

    test("a Queue travels through a Pipe to a running child", async () => {
      const [a, b] = mp.Pipe();
      const q = mp.Queue<number>();
      const p = new mp.Process({ target: ct.fillReceivedQueue, args: [b, 5] });
      p.start();
      b.close();
      a.send(q);
      expect(await recvWithin(a)).toBe("done");
      expect([0, 1, 2, 3, 4].map(() => q.getSync({ timeout: CHILD_TIMEOUT }))).toEqual([0, 1, 2, 3, 4]);
      await p.join(CHILD_TIMEOUT);
      a.close();
      q.close();
    });

    // A message never makes its receiver import a module (#16): a fork child
    // has import-mark.ts loaded already (inherited), a spawn or worker child has not.
    test("Connection.recv() refuses a function or class of a module the child has not loaded, without loading it", async () => {
      const [a, b] = mp.Pipe();
      const p = new mp.Process({ target: tt.receiveAndReport, args: [b, 4, null] });
      p.start();
      b.close();
      try {
        a.send([mark.marked]);
        a.send([new mark.MarkedThing()]);
        a.send([new mark.MarkedError("boom")]);
        a.send([tt.loadedHere]);
        const outcomes = [await recvWithin(a), await recvWithin(a), await recvWithin(a), await recvWithin(a)];
        if (s.caps.inheritsMemory) {
          expect(outcomes).toEqual([
            { kind: "function", result: 21, evaluated: 1 },
            { kind: "object", evaluated: 1 },
            { kind: "MarkedError MarkedError", evaluated: 1 },
            { kind: "function", result: 60, evaluated: 1 },
          ]);
        } else {
          const refused = (what: string, name: string) => ({
            error: "PicklingError",
            path: "value[0]",
            message: `Cannot load value[0]: the payload names ${what} "${name}" of ${MARK_MODULE}, a module this process has not loaded; import it in the receiver first, or call allowImports(${JSON.stringify(MARK_MODULE)})`,
            evaluated: 0,
          });
          expect(outcomes).toEqual([
            refused("function", "marked"),
            refused("class", "MarkedThing"),
            // An error still arrives, rebuilt by name.
            { kind: "Error MarkedError", evaluated: 0 },
            { kind: "function", result: 60, evaluated: 0 },
          ]);
        }
        await p.join(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(0);
      } finally {
        a.close();
        await stop(p);
      }
    });

    test("Connection.recv() takes a function or class of a module the child allowed with allowImports()", async () => {
      const [a, b] = mp.Pipe();
      const p = new mp.Process({ target: tt.receiveAndReport, args: [b, 3, MARK_MODULE] });
      p.start();
      b.close();
      try {
        a.send([mark.marked]);
        a.send([new mark.MarkedThing()]);
        a.send([new mark.MarkedError("boom")]);
        const outcomes = [await recvWithin(a), await recvWithin(a), await recvWithin(a)];
        expect(outcomes).toEqual([
          { kind: "function", result: 21, evaluated: 1 },
          { kind: "object", evaluated: 1 },
          { kind: "MarkedError MarkedError", evaluated: 1 },
        ]);
        await p.join(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(0);
      } finally {
        a.close();
        await stop(p);
      }
    });
  });
}
