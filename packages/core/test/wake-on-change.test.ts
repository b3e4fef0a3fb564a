import { describe, expect, test } from "bun:test";
import { futexWake, pauseWaker, waitForChange } from "../src/native/index.ts";
import { allocate } from "../src/arena/arena.ts";

/** waitForChange returns undefined while the waker thread starts: retry until it answers. */
async function watch(address: number, expected: number, timeout: number): Promise<boolean> {
  for (let i = 0; i < 400; i++) {
    const p = waitForChange(address, expected, timeout);
    if (p !== undefined) return p;
    await Bun.sleep(5);
  }
  throw new Error("the waker thread did not start");
}

describe("waitForChange (the async waiters' waker thread)", () => {
  test("waitForChange() resolves true at once when the word already differs", async () => {
    const block = allocate(4);
    block.int32(1)[0] = 3;
    expect(await waitForChange(block.address(), 0, 1000)).toBe(true);
  });

  test("waitForChange() resolves true when the word changes and is futex-woken, false on timeout", async () => {
    const block = allocate(8);
    const words = block.int32(2);
    expect(await watch(block.address(), 0, 50)).toBe(false);
    const woken = watch(block.address(), 0, 10_000);
    // A waiter on another word is not disturbed by this change.
    const other = watch(block.address(4), 0, 200);
    setTimeout(() => {
      Atomics.store(words, 0, 1);
      futexWake(block.address(), 1);
    }, 20);
    expect(await woken).toBe(true);
    expect(await other).toBe(false);
  });

  test("pauseWaker() parks the waker (as around a fork); its resume function lets wake-ups through again", async () => {
    // A waker still starting up may look at the words once before it honours
    // a pause: make sure it runs its loop first, with one full wake-up.
    const warm = allocate(4);
    const warmed = watch(warm.address(), 0, 10_000);
    setTimeout(() => {
      Atomics.store(warm.int32(1), 0, 1);
      futexWake(warm.address(), 1);
    }, 5);
    expect(await warmed).toBe(true);
    const block = allocate(4);
    const words = block.int32(1);
    const changed = watch(block.address(), 0, 10_000);
    let settled = false;
    void changed.then(() => {
      settled = true;
    });
    await Bun.sleep(20);
    const resume = pauseWaker();
    Atomics.store(words, 0, 1);
    futexWake(block.address(), 1);
    await Bun.sleep(60);
    expect(settled).toBe(false);
    resume();
    expect(await changed).toBe(true);
  });
});
