"""CPython's side of shared-array.ts: multiprocessing.Array('d', 10_000_000, lock=False),
four children each adding 1 to their quarter, start + update + join timed as a whole.

Prints one JSON list of {system, medianMs}; exits 1 if a final sum is wrong.
Usage: python3 shared-array.py quick|full
"""
import json
import multiprocessing as mp
import statistics
import sys
import time

LENGTH = 10_000_000
CHILDREN = 4


def add_one(a, lo, hi):
    for i in range(lo, hi):
        a[i] += 1


def add_one_numpy(a, lo, hi):
    import numpy

    numpy.frombuffer(a, dtype=numpy.float64)[lo:hi] += 1


def run(ctx, a, target):
    quarter = LENGTH // CHILDREN
    t0 = time.perf_counter()
    kids = [ctx.Process(target=target, args=(a, k * quarter, (k + 1) * quarter)) for k in range(CHILDREN)]
    for k in kids:
        k.start()
    for k in kids:
        k.join()
    if any(k.exitcode != 0 for k in kids):
        sys.exit(f"a child failed: {[k.exitcode for k in kids]}")
    return (time.perf_counter() - t0) * 1000


def measure(ctx, target, samples, warm_up):
    a = ctx.Array("d", LENGTH, lock=False)
    for _ in range(warm_up):
        run(ctx, a, target)
    times = [run(ctx, a, target) for _ in range(samples)]
    runs = warm_up + samples
    total = sum(memoryview(a).cast("B").cast("d"))
    if total != runs * LENGTH:
        sys.exit(f"shared array sum {total} after {runs} runs, expected {runs * LENGTH}")
    return statistics.median(times)


def main():
    quick = sys.argv[1] == "quick"
    out = []
    for method in ["fork", "spawn", "forkserver"]:
        ms = measure(mp.get_context(method), add_one, 1 if quick else 3, 0 if quick else 1)
        out.append({"system": f"CPython/{method}", "medianMs": ms})
    try:
        import numpy  # noqa: F401
    except ImportError:
        pass
    else:
        # Not CPython's own speed: a reference row, named so the ratios ignore it.
        ms = measure(mp.get_context("fork"), add_one_numpy, 1 if quick else 5, 1)
        out.append({"system": "numpy view (CPython fork)", "medianMs": ms})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
