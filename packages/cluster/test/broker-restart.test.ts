/** The broker restarted mid-run: the map completes (#22 point 3). */
import { describe, expect, test } from "bun:test";
import { Pool } from "@multiproc/core";
import { skipReason, useBrokerAndHosts } from "./broker.ts";
import { slowSquare } from "./fixtures/tasks.ts";

const NAME = "restarttest";

describe.skipIf(skipReason !== undefined)("cluster Pool and a broker restart", () => {
  const setup = useBrokerAndHosts({ name: NAME, extra: ["--ack-wait", "1000"] });

  test("Pool.map completes with every result once, in order, when the broker restarts mid-run", async () => {
    await using pool = Pool({ cluster: setup.broker.cluster, name: NAME });
    const items = Array.from({ length: 200 }, (_, i) => i);
    const result = pool.mapAsync(slowSquare, items, 1);
    await Bun.sleep(400);
    expect(result.ready()).toBe(false);
    await setup.broker.restart(300);
    expect(await result.get(25_000)).toEqual(items.map((x) => x * x));
  }, 30_000);
});
