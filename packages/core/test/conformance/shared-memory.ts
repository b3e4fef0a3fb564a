/**
 * Conformance: named shared memory (#21) with children of each backend:
 * SharedMemory and ShareableList travel by name (Process args, Queue, Pipe)
 * and the receiver attaches; children attaching by name write where the
 * parent reads; a segment a child created outlives the child and is
 * unlinked at the program's end by the one tracker they share.
 */
import { existsSync } from "node:fs";
import { describe, expect, test } from "bun:test";
import { firstLine } from "../fixtures/child-processes.ts";
import * as targets from "../fixtures/shared-memory-targets.ts";
import { CHILD_TIMEOUT, readJson, run, type Suite } from "./harness.ts";

const LEAVER = new URL("../fixtures/programs/shm-leaver.ts", import.meta.url).pathname;

export function sharedMemoryTests(s: Suite): void {
  const { mp } = s;
  describe(`[${s.backend}] SharedMemory with children`, () => {
    test("SharedMemory: 4 children attach by name and fill a quarter each; the parent sees every byte", async () => {
      const shm = new mp.SharedMemory({ create: true, size: 1 << 20 });
      try {
        const quarter = shm.size / 4;
        const kids = [0, 1, 2, 3].map(
          (i) => new mp.Process({ target: targets.fillByName, args: [shm.name, i * quarter, quarter, i + 1] }),
        );
        for (const k of kids) k.start();
        for (const k of kids) await k.join(CHILD_TIMEOUT);
        expect(kids.map((k) => k.exitCode)).toEqual([0, 0, 0, 0]);
        for (let i = 0; i < 4; i++) {
          const part = shm.buf.subarray(i * quarter, (i + 1) * quarter);
          expect(part.every((b) => b === i + 1)).toBe(true);
        }
      } finally {
        shm.close();
        shm.unlink();
      }
    });

    test("SharedMemory: sent as a Process argument, the child attaches to the same segment", async () => {
      const shm = new mp.SharedMemory({ create: true, size: 4096 });
      try {
        const kids = [0, 1].map((i) => new mp.Process({ target: targets.fillPart, args: [shm, i, 2] }));
        for (const k of kids) await run(k);
        expect(kids.map((k) => k.exitCode)).toEqual([0, 0]);
        expect(shm.buf[0]).toBe(1);
        expect(shm.buf[4095]).toBe(2);
      } finally {
        shm.unlink();
        shm.close();
      }
    });

    test("SharedMemory and ShareableList: through a Queue and a Pipe, the receiver attaches by name", async () => {
      const shm = new mp.SharedMemory({ create: true, size: 64 });
      const list = new mp.ShareableList(["x".repeat(30), 0]);
      const q = mp.Queue<typeof shm>();
      const [mine, theirs] = mp.Pipe();
      try {
        const p = new mp.Process({ target: targets.receiveAndWrite, args: [q, theirs] });
        p.start();
        await q.put(shm);
        await mine.send(list);
        expect(await mine.poll(CHILD_TIMEOUT)).toBe(true);
        expect(await mine.recv()).toEqual(["done", 64, "32sq"]);
        await p.join(CHILD_TIMEOUT);
        expect(p.exitCode).toBe(0);
        expect(shm.buf[0]).toBe(7);
        expect(list.get(0)).toBe(`from ${shm.name}`);
        expect(list.get(1)).toBe(2);
      } finally {
        mine.close();
        theirs.close();
        q.close();
        for (const seg of [shm, list.shm]) {
          seg.unlink();
          seg.close();
        }
      }
    });

    test("SharedMemory: after unlink(), a child attaching by name gets ENOENT", async () => {
      const shm = new mp.SharedMemory({ create: true, size: 16 });
      shm.unlink();
      shm.close();
      const out = s.file("attach-after-unlink");
      const p = await run(new mp.Process({ target: targets.attachReport, args: [out, shm.name] }));
      expect(p.exitCode).toBe(0);
      expect(readJson<{ code: string }>(out).code).toBe("ENOENT");
    });

    test("SharedMemory track: a child's segment outlives the child and is unlinked at the program's end, by one tracker", async () => {
      const program = Bun.spawn([process.execPath, LEAVER, s.backend, "child"], { stdout: "pipe", stderr: "pipe" });
      const timer = setTimeout(() => program.kill(9), CHILD_TIMEOUT);
      const report = JSON.parse(await firstLine(program.stdout)) as {
        names: string[];
        alive: string[];
        trackers: number[];
      };
      const stderr = await new Response(program.stderr).text();
      await program.exited;
      clearTimeout(timer);
      try {
        expect(program.exitCode).toBe(0);
        expect(report.names.length).toBe(3);
        expect(report.alive).toEqual(report.names);
        expect(report.trackers.length).toBe(1);
        expect(report.names.filter((n) => existsSync(`/dev/shm/${n}`))).toEqual([]);
        const warnings = stderr.split("\n").filter((line) => line.startsWith("multiproc: "));
        expect(warnings.length).toBe(1);
        for (const name of report.names) expect(warnings[0]).toContain(name);
      } finally {
        for (const name of report.names) if (existsSync(`/dev/shm/${name}`)) new mp.SharedMemory({ name }).unlink();
      }
    });
  });
}
