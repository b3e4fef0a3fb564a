/**
 * A wait loop copied into a fork child while its next step was due must not
 * take what is the parent's. Here the copy is simulated in one process by
 * changing `process.pid` under a waiting loop, as the fork child's start-up
 * does (the fork backend's Pool test shows the real case).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { Lock, Pipe, Queue } from "../src/index.ts";

const realPid = process.pid;

function pretendForked(): void {
  Object.defineProperty(process, "pid", { value: realPid + 100_000, configurable: true, writable: true });
}

afterEach(() => {
  Object.defineProperty(process, "pid", { value: realPid, configurable: true, writable: true });
});

/** Whether `p` settled within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await Bun.sleep(ms);
  return settled;
}

describe("a wait loop resumed in another process stops for good", () => {
  test("Queue.get leaves the item to the process that started the wait", async () => {
    const q = Queue<number>();
    const got = q.get({ timeout: 2000 });
    pretendForked();
    q.putSync(7);
    expect(await settlesWithin(got, 100)).toBe(false);
    expect(q.qsize()).toBe(1);
    q.close();
  });

  test("Connection.recv leaves the message", async () => {
    const [a, b] = Pipe();
    const got = a.recv();
    pretendForked();
    b.send("hello");
    expect(await settlesWithin(got, 100)).toBe(false);
    Object.defineProperty(process, "pid", { value: realPid, configurable: true, writable: true });
    expect(a.poll(0)).toBe(true);
    expect(a.recvSync()).toBe("hello");
    a.close();
    b.close();
  });

  test("Lock.acquire does not take the lock", async () => {
    const lock = Lock();
    lock.acquireSync();
    const got = lock.acquire({ timeout: 2000 });
    pretendForked();
    lock.release();
    expect(await settlesWithin(got, 100)).toBe(false);
    expect(lock.acquireSync({ timeout: 0 })).toBe(true);
  });
});
