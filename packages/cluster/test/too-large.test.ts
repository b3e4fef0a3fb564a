/** A task larger than the broker accepts (its max_payload, 1 MiB by default) fails at once, naming its size (#22). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Pool, ProcessError } from "@multiproc/core";
import { type Broker, type Host, skipReason, startBroker, startHost } from "./broker.ts";
import { add, repeatX } from "./fixtures/tasks.ts";

const NAME = "toolarge";

describe.skipIf(skipReason !== undefined)("a task too large for the broker", () => {
  let broker: Broker;
  let host: Host;

  beforeAll(async () => {
    broker = await startBroker();
    host = await startHost(broker, NAME);
  }, 30_000);

  afterAll(async () => {
    await host?.stop();
    await broker?.stop();
  }, 30_000);

  test("fails with a ProcessError naming its size and the limit, not sent again for ever; the pool goes on", async () => {
    await using pool = Pool({ cluster: { servers: broker.url, token: broker.token }, name: NAME });
    expect(await pool.apply(add, [1, 2])).toBe(3);
    // A 2 MiB string where add takes a number: the codec sends it all the same.
    const big = "x".repeat(2 * 1024 * 1024) as unknown as number;
    const error = await pool
      .applyAsync(add, [big, 0])
      .get(10_000)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProcessError);
    expect((error as Error).message).toMatch(
      /A message of \d+ bytes on multiproc\.toolarge\.tasks .*max_payload 1048576/,
    );
    expect(await pool.apply(add, [3, 4])).toBe(7);
  }, 30_000);

  test("in calls of one turn (a batch), only the call too large for the broker fails, argument or result", async () => {
    await using pool = Pool({ cluster: { servers: broker.url, token: broker.token }, name: NAME });
    const big = "x".repeat(2 * 1024 * 1024) as unknown as number;
    const KiB = 1024;
    // Results of 300 KiB: more than one result message of a batch holds, so they come back in several.
    const sizes = [300 * KiB, 300 * KiB, 2 * 1024 * KiB, 300 * KiB, 10];
    const results = sizes.map((n) => pool.applyAsync(repeatX, [n]));
    const sums = [pool.applyAsync(add, [1, 2]), pool.applyAsync(add, [big, 0]), pool.applyAsync(add, [5, 6])];
    for (const [i, r] of results.entries()) {
      if (i === 2) {
        const error = await r.get(20_000).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ProcessError);
        expect((error as Error).message).toMatch(/larger than the NATS server accepts/);
      } else {
        expect((await r.get(20_000)).length).toBe(sizes[i]!);
      }
    }
    expect(await sums[0]!.get(20_000)).toBe(3);
    await expect(sums[1]!.get(20_000)).rejects.toThrow(/A message of \d+ bytes on multiproc\.toolarge\.tasks/);
    expect(await sums[2]!.get(20_000)).toBe(11);
  }, 30_000);
});
