/**
 * primes — a real job for a Pool: count the primes below a limit, cut into
 * ranges that the workers count in parallel, then print the speed-up over
 * doing the same in one process. Run with
 * `bun apps/examples/src/primes.ts --backend fork [--limit 5000000]`.
 */
import { cpuCount, getStartMethod, Pool } from "@multiproc/core";
import { backendFromArgs } from "./cli.ts";

/** The primes in [from, to), by trial division: plain CPU work. */
export function countPrimes(from: number, to: number): number {
  let count = 0;
  for (let n = Math.max(from, 2); n < to; n++) {
    if (n % 2 === 0) {
      if (n === 2) count++;
      continue;
    }
    let prime = true;
    for (let d = 3; d * d <= n; d += 2) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}

/** [from, to) pairs covering [0, limit) in `parts` ranges. */
function ranges(limit: number, parts: number): [number, number][] {
  const size = Math.ceil(limit / parts);
  return Array.from({ length: parts }, (_, i) => [i * size, Math.min(limit, (i + 1) * size)]);
}

if (import.meta.main) {
  backendFromArgs();
  const at = Bun.argv.indexOf("--limit");
  const limit = at === -1 ? 3_000_000 : Number(Bun.argv[at + 1]);
  const workers = Math.max(2, cpuCount());
  console.log(`[backend: ${getStartMethod()}] primes below ${limit}, ${workers} workers`);

  let started = performance.now();
  const alone = countPrimes(0, limit);
  const oneProcess = performance.now() - started;
  console.log(`one process: ${alone} primes in ${oneProcess.toFixed(0)} ms`);

  // Pool start-up counts too: it is part of what the user waits for.
  started = performance.now();
  await using pool = Pool(workers);
  // More ranges than workers: the high ranges cost more, and small pieces even the load.
  const counts = await pool.starmap(countPrimes, ranges(limit, workers * 8));
  const total = counts.reduce((a, b) => a + b, 0);
  const pooled = performance.now() - started;
  console.log(`pool of ${workers}: ${total} primes in ${pooled.toFixed(0)} ms`);
  if (total !== alone) throw new Error(`the pool counted ${total} primes, one process ${alone}`);
  console.log(`speed-up: ${(oneProcess / pooled).toFixed(2)}x`);
}
