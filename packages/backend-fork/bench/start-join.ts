/**
 * Benchmark: start + join of a no-op fork child (target: median <= 1 ms),
 * against the raw fork + exit + wait underneath it.
 * Run: bun --preload ../src/preload.ts bench/start-join.ts
 */
import { Bench } from "tinybench";
import { getContext } from "../../core/src/index.ts";
import { native } from "../../core/src/internal.ts";
import "../src/index.ts";

const mp = getContext("fork");
const noop = () => {};

const bench = new Bench({ time: 3000, warmup: true, warmupTime: 500 });
bench
  .add("fork: start + await join() of a no-op child", async () => {
    const p = new mp.Process({ target: noop });
    p.start();
    await p.join();
    p.close();
  })
  .add("fork: start + joinSync() of a no-op child", () => {
    const p = new mp.Process({ target: noop });
    p.start();
    p.joinSync();
    p.close();
  })
  .add("raw: markAllForkable + fork + _exit + wait", () => {
    native.markAllForkable();
    const pid = native.forkProcess();
    if (pid === 0) native.exitNow(0);
    const fd = native.pidfdOpen(pid);
    native.pollReadable(fd);
    native.reapChild(fd);
    native.closeFd(fd);
  });

await bench.run();
console.log(
  `JSC settings: ${process.env.BUN_JSC_useConcurrentGC ?? "default"}/${process.env.BUN_JSC_useConcurrentJIT ?? "default"}`,
);
console.table(
  bench.tasks.map((t) => {
    const r = t.result as unknown as {
      latency?: { p50?: number; p99?: number; samples?: number[] };
      throughput?: { mean?: number };
    };
    return {
      task: t.name,
      "median ms": r.latency?.p50?.toFixed(3),
      "p99 ms": r.latency?.p99?.toFixed(3),
      samples: r.latency?.samples?.length,
    };
  }),
);
