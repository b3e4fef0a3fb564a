/** Conformance: Listener, Client and wait across processes (Python: multiprocessing.connection). */
import { describe, expect, test } from "bun:test";
import { currentProcess, Listener, TimeoutError, wait, waitSync } from "../../src/index.ts";
import * as ct from "../fixtures/channel-targets.ts";
import * as targets from "../fixtures/targets.ts";
import { CHILD_TIMEOUT, type Suite } from "./harness.ts";

export function listenerTests(s: Suite): void {
  const { mp } = s;
  describe(`[${s.backend}] Listener, Client and wait`, () => {
    for (const tcp of [false, true]) {
      test(`a child connects to the parent's ${tcp ? "TCP" : "unix"} Listener with the auth key it inherited`, async () => {
        using listener = new Listener({
          authkey: currentProcess().authkey,
          ...(tcp ? { address: ["127.0.0.1", 0] as [string, number] } : {}),
        });
        const p = new mp.Process({ target: ct.connectAndSend, args: [listener.address, { from: "child", n: 7n }] });
        p.start();
        const conn = await listener.accept(CHILD_TIMEOUT);
        expect(await conn.recv()).toEqual({ from: "child", n: 7n });
        conn.close();
        await p.join(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(0);
      });
    }

    test("a key set on a Process before start() is that child's key; another key is refused", async () => {
      const key = new TextEncoder().encode("this child's own key");
      using listener = new Listener({ authkey: key });
      const p = new mp.Process({ target: ct.connectAndSend, args: [listener.address, "with its own key"] });
      p.authkey = key;
      expect(p.authkey).toEqual(key);
      p.start();
      const conn = await listener.accept(CHILD_TIMEOUT);
      expect(await conn.recv()).toBe("with its own key");
      conn.close();
      await p.join(CHILD_TIMEOUT);
      expect(p.exitCode).toBe(0);
      // The same target with the inherited key fails the handshake: its process exits with an error.
      using other = new Listener({ authkey: key });
      const q = new mp.Process({ target: ct.connectAndSend, args: [other.address, "never"] });
      q.start();
      // The listener drops the client that failed and goes on waiting, here until its timeout.
      await expect(other.accept(2000)).rejects.toBeInstanceOf(TimeoutError);
      await q.join(CHILD_TIMEOUT);
      expect(q.exitCode).toBe(1);
    });

    test("wait() and waitSync() report the Processes that ended and leave the others", async () => {
      const quick = new mp.Process({ target: targets.noop });
      const slow = new mp.Process({ target: targets.hang });
      quick.start();
      slow.start();
      try {
        expect(await wait([slow, quick], CHILD_TIMEOUT)).toEqual([quick]);
        expect(waitSync([slow, quick], 0)).toEqual([quick]);
        expect(waitSync([slow], 50)).toEqual([]);
        expect(typeof slow.sentinel).toBe("number");
        expect(waitSync([slow.sentinel!], 0)).toEqual([]);
      } finally {
        slow.terminate();
        await slow.join(CHILD_TIMEOUT);
        await quick.join(CHILD_TIMEOUT);
      }
      expect(waitSync([slow], 0)).toEqual([slow]);
    });
  });
}
