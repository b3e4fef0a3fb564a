import { describe, expect, test } from "bun:test";
import { type AbandonedLockError, BoundedSemaphore, Lock, RLock, Semaphore } from "../src/index.ts";
import { dumps, loads } from "../src/codec/index.ts";

describe("Semaphore (one process)", () => {
  test("Semaphore(n) hands out n permits, then blocks until a release", async () => {
    const sem = Semaphore(2);
    expect(sem.acquireSync()).toBe(true);
    expect(await sem.acquire()).toBe(true);
    expect(sem.getValue()).toBe(0);
    expect(sem.acquireSync({ block: false })).toBe(false);
    expect(sem.acquireSync({ timeout: 30 })).toBe(false);
    setTimeout(() => sem.release(), 20);
    expect(await sem.acquire({ timeout: 2000 })).toBe(true);
    sem.release();
    sem.release();
    // An unbounded Semaphore counts past its start, as in Python.
    sem.release();
    expect(sem.getValue()).toBe(3);
    expect(String(sem)).toBe("<Semaphore(value=3)>");
  });

  test("Semaphore() defaults to one permit and refuses a bad value", () => {
    expect(Semaphore().getValue()).toBe(1);
    expect(Semaphore(0).getValue()).toBe(0);
    expect(() => Semaphore(-1)).toThrow(RangeError);
    expect(() => Semaphore(1.5)).toThrow(/integer from 0/);
  });

  test("BoundedSemaphore.release() past its initial value throws RangeError", () => {
    const sem = BoundedSemaphore(2);
    expect(() => sem.release()).toThrow(RangeError);
    expect(() => sem.release()).toThrow(/BoundedSemaphore released too many times/);
    sem.acquireSync();
    sem.release();
    expect(sem.getValue()).toBe(2);
    expect(String(sem)).toBe("<BoundedSemaphore(value=2, maxvalue=2)>");
  });

  test("Semaphore.holdSync() / hold() release at the end of a using block", async () => {
    const sem = Semaphore(1);
    {
      using _ = sem.holdSync();
      expect(sem.getValue()).toBe(0);
    }
    {
      using _ = await sem.hold();
      expect(sem.getValue()).toBe(0);
    }
    expect(sem.getValue()).toBe(1);
  });

  test("Semaphore and BoundedSemaphore travel through the codec to the same counter and bound", () => {
    const sem = Semaphore(3);
    const bounded = BoundedSemaphore(1);
    const [sem2, bounded2] = loads(dumps([sem, bounded])) as [Semaphore, BoundedSemaphore];
    expect(sem2.constructor.name).toBe("Semaphore");
    expect(bounded2.constructor.name).toBe("BoundedSemaphore");
    sem2.acquireSync();
    expect(sem.getValue()).toBe(2);
    expect(() => bounded2.release()).toThrow(RangeError);
  });
});

/** Runs `body` in a Worker thread that gets `lock` and ends without releasing it; resolves once it has ended. */
async function holdInDyingThread(lock: Lock | RLock | Semaphore): Promise<void> {
  const codec = new URL("../src/codec/index.ts", import.meta.url).href;
  const sync = new URL("../src/sync/index.ts", import.meta.url).href;
  const source = `
    import { loads } from ${JSON.stringify(codec)};
    import ${JSON.stringify(sync)};
    self.onmessage = (e) => {
      const lock = loads(e.data);
      lock.acquireSync();
      postMessage("held");
    };
  `;
  const worker = new Worker(URL.createObjectURL(new Blob([source], { type: "application/typescript" })));
  const held = new Promise((resolve) => worker.addEventListener("message", resolve, { once: true }));
  worker.postMessage(dumps(lock));
  await held;
  const ended = new Promise((resolve) => worker.addEventListener("close", resolve, { once: true }));
  worker.terminate();
  await ended;
}

describe("dead holders (one process, a Worker thread that ends holding the lock)", () => {
  for (const [kind, make] of [
    ["Lock", () => Lock()],
    ["RLock", () => RLock()],
    ["Semaphore", () => Semaphore(1)],
  ] as const) {
    test(`${kind}: acquireSync takes the permit over from the dead thread and calls onAbandoned`, async () => {
      const lock = make();
      await holdInDyingThread(lock);
      const seen: AbandonedLockError[] = [];
      expect(lock.acquireSync({ timeout: 10_000, onAbandoned: (e) => seen.push(e) })).toBe(true);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.owner).toBeGreaterThan(0);
      expect(seen[0]!.owner).not.toBe(process.pid);
      lock.release();
      expect(lock.acquireSync({ block: false })).toBe(true);
      lock.release();
    });
  }

  test("Lock: without onAbandoned, the takeover is reported as a process warning", async () => {
    const lock = Lock();
    await holdInDyingThread(lock);
    const warned = new Promise<Error>((resolve) => process.once("warning", resolve));
    expect(await lock.acquire({ timeout: 10_000 })).toBe(true);
    const warning = await warned;
    expect(warning.name).toBe("AbandonedLockError");
    lock.release();
  });

  test("Lock: block: false never takes over (it does not wait, so it does not check)", async () => {
    const lock = Lock();
    await holdInDyingThread(lock);
    expect(lock.acquireSync({ block: false })).toBe(false);
    expect(lock.acquireSync({ timeout: 10_000, onAbandoned: () => undefined })).toBe(true);
    lock.release();
  });
});
