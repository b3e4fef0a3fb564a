/**
 * The readable watcher (native/wake-on-readable.ts, #20): async waits on
 * descriptors wake when one is readable, through one C thread per realm,
 * instead of re-checking with growing pauses.
 */
import { describe, expect, test } from "bun:test";
import { Client, Listener, Pipe } from "../src/index.ts";
import { closeFd } from "../src/native/file.ts";
import { socketPair } from "../src/native/socket.ts";
import { waitReadable } from "../src/native/wake-on-readable.ts";
import { readdirSync, readFileSync } from "node:fs";
import { concat, frame, header, rawPair, within, writeRaw } from "./fixtures/raw-frames.ts";

/** Threads of this process with `name` (comm). */
function threadsNamed(name: string): number {
  let n = 0;
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim() === name) n++;
    } catch {
      // Ended while we looked.
    }
  }
  return n;
}

/** The watcher, once its first wait set it up: a wait can be undefined only while the futex waker starts. */
async function watch(fds: number[], ms: number): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    const w = waitReadable(fds, ms);
    if (w !== undefined) return await w;
    await Bun.sleep(5);
  }
  throw new Error("The readable watcher never ran in this process");
}

describe("readable watcher (#20)", () => {
  test("waitReadable resolves true when its descriptor gets data later, false when nothing comes in time", async () => {
    const [x, y] = socketPair("stream");
    try {
      expect(await watch([x], 30)).toBe(false);
      setTimeout(() => writeRaw(y, new Uint8Array([1])), 20);
      expect(await within(watch([x], 5000), 6000, "waitReadable")).toBe(true);
    } finally {
      closeFd(x);
      closeFd(y);
    }
  });

  test("a wake-up for one waiter's descriptor leaves the others waiting; a hang-up wakes too", async () => {
    const [a, a2] = socketPair("stream");
    const [b, b2] = socketPair("stream");
    try {
      await watch([a], 1); // set up
      let bDone = false;
      const bWait = watch([b], 5000).then((r) => {
        bDone = true;
        return r;
      });
      const aWait = watch([a], 5000);
      writeRaw(a2, new Uint8Array([1]));
      expect(await within(aWait, 6000, "a's wait")).toBe(true);
      await Bun.sleep(20);
      expect(bDone).toBe(false);
      closeFd(b2); // the peer hangs up
      expect(await within(bWait, 6000, "b's wait")).toBe(true);
    } finally {
      for (const fd of [a, a2, b]) closeFd(fd);
    }
  });

  test("many waits at once run on one watcher thread per realm", async () => {
    const [x, y] = socketPair("stream");
    await watch([x], 1); // this realm's watcher runs
    closeFd(x);
    closeFd(y);
    const threads = threadsNamed("multiproc-fds"); // other realms of this process may have theirs
    expect(threads).toBeGreaterThanOrEqual(1);
    const pairs = Array.from({ length: 50 }, () => Pipe());
    try {
      const waits = pairs.map(([, r]) => r.recv());
      await Bun.sleep(20);
      expect(threadsNamed("multiproc-fds")).toBe(threads);
      for (const [w] of pairs) w.send("x");
      expect(await within(Promise.all(waits), 6000, "the receives")).toEqual(pairs.map(() => "x"));
    } finally {
      for (const [w, r] of pairs) {
        w.close();
        r.close();
      }
    }
  });

  test("Connection.recv(): a message whose second half comes later arrives whole", async () => {
    const pair = rawPair();
    try {
      const payload = new Uint8Array(3000).map((_, i) => i % 251);
      const wire = frame(payload);
      writeRaw(pair.peer, wire.subarray(0, 1000));
      const got = pair.conn.recvBytes();
      await Bun.sleep(30); // readable all along, yet not whole
      writeRaw(pair.peer, wire.subarray(1000));
      expect(await within(got, 6000, "recvBytes")).toEqual(payload);
      // A header split the same way.
      const next = frame(new Uint8Array([7, 7]));
      writeRaw(pair.peer, next.subarray(0, 3));
      const second = pair.conn.recvBytes();
      await Bun.sleep(30);
      writeRaw(pair.peer, concat(next.subarray(3), header({ length: 0 })));
      expect(await within(second, 6000, "recvBytes")).toEqual(new Uint8Array([7, 7]));
    } finally {
      pair.close();
    }
  });

  test("Listener.accept() and Client() with an auth key, both awaited in one process, after a pause", async () => {
    using listener = new Listener({ authkey: "key" });
    const accepted = listener.accept(5000);
    await Bun.sleep(30); // the accept waits on the watcher
    const client = await Client(listener.address, { authkey: "key", timeout: 5000 });
    const server = await within(accepted, 6000, "accept");
    await Bun.sleep(30);
    server.send({ hello: 1 });
    expect(await within(client.recv(), 6000, "recv")).toEqual({ hello: 1 });
    client.close();
    server.close();
  });
});
