"""CPython's side of fork-faults.ts: time and minor faults of fork children.

Prints one JSON object {workload: {"ms": median ms, "faults": median minor faults per child,
"parentFaults": the parent's own minor faults per child, median}}.
Usage: python3 fork-faults.py <samples>
"""
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time


def noop():
    pass


def child_faults():
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt


def own_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(fn, samples, children=1):
    fn()  # warm-up
    times, faults, parent = [], [], []
    for _ in range(samples):
        f0 = child_faults()
        p0 = own_faults()
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
        parent.append((own_faults() - p0) / children)
        faults.append((child_faults() - f0) / children)
    return {
        "ms": statistics.median(times),
        "faults": statistics.median(faults),
        "parentFaults": statistics.median(parent),
    }


def main():
    samples = int(sys.argv[1])
    ctx = mp.get_context("fork")

    def raw():
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)

    def start_join():
        p = ctx.Process(target=noop)
        p.start()
        p.join()

    def start8():
        kids = [ctx.Process(target=noop) for _ in range(8)]
        for k in kids:
            k.start()
        for k in kids:
            k.join()

    def pool():
        p = ctx.Pool(2)
        p.close()
        p.join()

    out = {
        "raw": measure(raw, samples),
        "startJoin": measure(start_join, samples),
        "start8": measure(start8, max(5, samples // 4), 8),
        "pool": measure(pool, max(5, samples // 4), 2),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
