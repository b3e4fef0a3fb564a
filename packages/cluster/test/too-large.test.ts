/** A task larger than the broker accepts (its max_payload, 1 MiB by default) fails at once, naming its size (#22). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Pool, ProcessError } from "@multiproc/core";
import { type Broker, type Host, skipReason, startBroker, startHost } from "./broker.ts";
import { add } from "./fixtures/tasks.ts";

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
});
