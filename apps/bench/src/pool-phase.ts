/**
 * The Pool phase of `bun run bench`: each group of systems (pool.ts,
 * `PoolGroup`) in a Bun process of its own, as CPython's pools run in a fresh
 * python3. By the Pool phase the main run's process has grown (every earlier
 * workload's objects, threads and children), and a fork pool started there
 * inherits all of it (see the Limits of docs/pool.md for what that costs);
 * and a fork pool must not fork while another group's worker threads run.
 *
 * `bun src/pool-phase.ts <group> [--quick]` runs one group and prints its
 * figures as JSON; `bun src/pool-phase.ts [--quick]` runs them all and prints a table;
 * `bun src/pool-phase.ts <group> <group>... [--quick]` runs those, each in its own
 * process as above, and prints the report's markdown (e.g. `spawn cluster bullmq`:
 * the cluster against the local Pool and BullMQ in one run).
 */
import { availableParallelism } from "node:os";
import { figuresFromFreshProcess } from "./fresh-process.ts";
import type { Figure } from "./measure.ts";
import { type PoolGroup, poolGroups, PW, runPoolGroup } from "./pool.ts";
import { markdown } from "./report.ts";

/** Runs every group, each in a new Bun process with at most `limitMs`; a group that fails or runs out of time is reported and left out. */
export async function runPoolPhase(
  quick: boolean,
  limitMs: number,
  groups: PoolGroup[] = poolGroups(),
): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const group of groups) {
    const args = [group, ...(quick ? ["--quick"] : [])];
    figures.push(...(await figuresFromFreshProcess("pool-phase.ts", args, limitMs, `the Pool group ${group}`)));
  }
  return figures;
}

if (import.meta.main) {
  const quick = Bun.argv.includes("--quick");
  const groups = Bun.argv.slice(2).filter((a) => !a.startsWith("--")) as PoolGroup[];
  for (const group of groups) {
    if (!poolGroups().includes(group))
      throw new Error(`Unknown Pool group ${group}; expected one of ${poolGroups().join(", ")}`);
  }
  if (groups.length === 1) {
    process.stdout.write(JSON.stringify(await runPoolGroup({ quick }, groups[0]!)));
  } else if (groups.length > 1) {
    const figures = await runPoolPhase(quick, 600_000, groups);
    const machine = {
      cores: availableParallelism(),
      bun: Bun.version,
      python: "no python3 (not run)",
      date: new Date().toISOString(),
    };
    console.log(markdown(figures, { ...machine, mode: quick ? "quick" : "full" }));
  } else {
    const figures = await runPoolPhase(quick, 600_000);
    for (const workload of Object.values(PW)) {
      console.log(`\n${workload}`);
      for (const f of figures.filter((g) => g.workload === workload).sort((a, b) => a.medianMs - b.medianMs)) {
        console.log(
          `  ${f.system.padEnd(34)} ${(f.medianMs * 1000).toFixed(2).padStart(10)} µs  ${Math.round(f.opsPerSec)}/s`,
        );
      }
    }
  }
  process.exit(0);
}
