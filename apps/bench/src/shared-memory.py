"""CPython's side of shared-memory.ts: shared_memory.SharedMemory of 64 MiB,
four children each attaching by name and filling their quarter (numpy when
installed, else a bytes slice assignment), start + fill + join timed as a whole.

Prints one JSON list of {system, medianMs}; exits 1 if a final check fails.
Usage: python3 shared-memory.py quick|full
"""
import json
import multiprocessing as mp
import statistics
import sys
import time
from multiprocessing import shared_memory

SIZE = 64 << 20
CHILDREN = 4

try:
    import numpy
except ImportError:
    numpy = None


def fill(name, part, parts, value):
    shm = shared_memory.SharedMemory(name=name)
    chunk = shm.size // parts
    lo, hi = part * chunk, (part + 1) * chunk
    if numpy is not None:
        numpy.ndarray((shm.size,), dtype=numpy.uint8, buffer=shm.buf)[lo:hi] = value
    else:
        shm.buf[lo:hi] = bytes([value]) * (hi - lo)
    shm.close()


def run(ctx, name, value):
    t0 = time.perf_counter()
    kids = [ctx.Process(target=fill, args=(name, k, CHILDREN, value)) for k in range(CHILDREN)]
    for k in kids:
        k.start()
    for k in kids:
        k.join()
    if any(k.exitcode != 0 for k in kids):
        sys.exit(f"a child failed: {[k.exitcode for k in kids]}")
    return (time.perf_counter() - t0) * 1000


def measure(ctx, samples, warm_up):
    shm = shared_memory.SharedMemory(create=True, size=SIZE)
    try:
        value = 0
        times = []
        for i in range(warm_up + samples):
            value = value % 255 + 1
            ms = run(ctx, shm.name, value)
            if i >= warm_up:
                times.append(ms)
        if bytes(shm.buf).count(value) != SIZE:
            sys.exit(f"SharedMemory not filled with {value}")
        return statistics.median(times)
    finally:
        shm.close()
        shm.unlink()


def main():
    quick = sys.argv[1] == "quick"
    fill_kind = "numpy" if numpy is not None else "bytes"
    out = []
    for method in ["fork", "spawn", "forkserver"]:
        ms = measure(mp.get_context(method), 2 if quick else 5, 1)
        out.append({"system": f"CPython/{method} ({fill_kind} fill)", "medianMs": ms})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
