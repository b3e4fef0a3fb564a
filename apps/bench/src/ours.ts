/** Our workloads, on every backend usable here. */
import { getAllStartMethods, getContext } from "@multiproc/core";
import { joinAll, NO_OP_DEADLINE_MS } from "./join-all.ts";
import { add, addApart, type Figure, makeApartBench, makeBench, type RunOptions } from "./measure.ts";
import { noop } from "./start-target.ts";
import { hammer } from "./targets.ts";
import { W } from "./workloads.ts";

// Large enough that the one child start inside each sample is a small share of it.
const CONTENDED_OPS = 200_000;

/**
 * Runs our workloads; returns one figure per workload and backend. Each
 * backend's rows are a bench of their own, run in turn: tinybench warms up
 * every task of a bench before it times any, so in one bench the fork rows
 * were timed after the spawn and worker rows' warm-ups (their children,
 * threads and garbage, which each fork then pays for: its cost grows with
 * the parent's resident memory, docs/fork.md).
 */
export async function runOurs(opts: RunOptions): Promise<Figure[]> {
  const readers: (() => Figure | undefined)[] = [];
  const locks = makeBench(opts);
  const lock = getContext().Lock();
  readers.push(
    add(
      locks,
      W.lockUncontended,
      "ours",
      () => {
        for (let i = 0; i < 1000; i++) {
          lock.acquireSync();
          lock.release();
        }
      },
      1000,
    ),
  );
  await locks.run();

  for (const backend of getAllStartMethods()) {
    const bench = makeBench(opts);
    const apart = makeApartBench(opts);
    const mp = getContext(backend);
    const system = `ours/${backend}`;
    const startJoin = async () => {
      const p = new mp.Process({ target: noop });
      p.start();
      await joinAll([p], NO_OP_DEADLINE_MS);
      p.close();
    };
    readers.push(add(bench, W.startJoin, system, startJoin));
    readers.push(addApart(apart, W.startJoinApart, system, startJoin));
    readers.push(
      add(bench, W.start8, system, async () => {
        const kids = Array.from({ length: 8 }, () => new mp.Process({ target: noop }));
        for (const k of kids) k.start();
        await joinAll(kids, NO_OP_DEADLINE_MS);
      }),
    );
    readers.push(
      add(
        bench,
        W.lockContended,
        system,
        async () => {
          const shared = mp.Lock();
          const child = new mp.Process({ target: hammer, args: [shared, CONTENDED_OPS] });
          child.start();
          hammer(shared, CONTENDED_OPS);
          await joinAll([child]);
        },
        2 * CONTENDED_OPS,
      ),
    );
    await bench.run();
    await apart.run();
  }
  return readers.map((r) => r()).filter((f): f is Figure => f !== undefined);
}

// `bun src/ours.ts [--quick]`: these rows alone, as JSON (main.ts runs them so, in a fresh process).
if (import.meta.main) {
  process.stdout.write(JSON.stringify(await runOurs({ quick: Bun.argv.includes("--quick") })));
  process.exit(0);
}
