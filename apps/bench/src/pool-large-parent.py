"""CPython's side of pool-large-parent.ts (#23, item 3): a fork Pool(2) in a
parent holding `objects` small live objects (0: a small parent), mapping
100 000 numbers `maps` times; prints one JSON object with the median ms of a
map and the workers' own minor faults per map per worker, over all maps and
over the last quarter (the steady state).

Usage: python3 pool-large-parent.py <variant> <objects> <maps>
"""
import json
import multiprocessing as mp
import os
import statistics
import sys
import time


def square(x):
    return x * x


def children_faults():
    """Minor faults of every direct child of this process, together, and how many there are."""
    total = 0
    count = 0
    for pid in open(f"/proc/self/task/{os.getpid()}/children").read().split():
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue  # ended while we looked
        total += int(stat[stat.rindex(")") + 2 :].split()[7])
        count += 1
    return total, count


def main():
    variant, objects, maps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    # The large program: many small live objects, as a server's caches are (the same shape as ours).
    ballast = [{"id": i, "name": f"item {i}", "tags": [i, i + 1]} for i in range(objects)]
    with open("/proc/self/statm") as f:
        rss_mb = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    items = list(range(100_000))
    times = []
    faults = []
    with mp.get_context("fork").Pool(2) as pool:
        for _ in range(maps):
            before, _ = children_faults()
            t0 = time.perf_counter()
            out = pool.map(square, items)
            times.append((time.perf_counter() - t0) * 1000)
            after, count = children_faults()
            faults.append((after - before) / max(1, count))
            if len(out) != len(items):
                raise RuntimeError(f"map returned {len(out)} results for {len(items)} items")
    if len(ballast) != objects:
        raise RuntimeError("the ballast was lost")
    late = faults[-max(1, maps >> 2) :]
    print(json.dumps({
        "variant": variant,
        "rssMb": round(rss_mb),
        "mapMs": statistics.median(times),
        "faultsPerMap": statistics.median(faults),
        "lateFaultsPerMap": statistics.median(late),
    }))


if __name__ == "__main__":
    main()
