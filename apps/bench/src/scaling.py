"""CPython's side of scaling.ts: start + join of N no-op children in parallel, and a
Pipe round trip of byte messages (send_bytes/recv_bytes) per size, for fork, spawn
and forkserver.

Prints one JSON list of {curve: "start" | "pipe", x, system, medianMs}.
Usage: python3 scaling.py quick|full
"""
import json
import multiprocessing as mp
import statistics
import sys
import time

CHILDREN = [1, 2, 4, 8, 16]
QUICK_CHILDREN = [1, 4, 16]
SIZES = [16, 1 << 10, 64 << 10, 1 << 20, 16 << 20]


def noop():
    pass


def echo_bytes(conn):
    while True:
        data = conn.recv_bytes()
        if not data:
            return
        conn.send_bytes(data)


def clamp(n, lo, hi):
    return min(hi, max(lo, int(n)))


def pipe_plan(size, quick):
    """The rule of pipePlan in scaling.ts, with fewer warm-up round trips: CPython has no JIT to warm."""
    per_sample = clamp((8 << 20) / size, 2, 1000)
    warm_up = clamp((64 << 20) / size, 2, 1000)
    return per_sample, warm_up, 3 if quick else 15


def timed_ms(fn, quick, warm_up):
    """Median of fn's times after `warm_up` calls: samples until 1.5 s have passed
    (at least 5), like tinybench; quick: 2 samples."""
    for _ in range(warm_up):
        fn()
    times = []
    started = time.perf_counter()
    while len(times) < (2 if quick else 5) or (not quick and time.perf_counter() - started < 1.5 and len(times) < 100):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def start_curve(ctx, quick):
    def batch(n):
        kids = [ctx.Process(target=noop) for _ in range(n)]
        for k in kids:
            k.start()
        for k in kids:
            k.join()

    # The first forkserver start also starts the server: always warm that one up.
    warm_up = 0 if quick and ctx.get_start_method() != "forkserver" else 1
    return [(n, timed_ms(lambda: batch(n), quick, warm_up)) for n in (QUICK_CHILDREN if quick else CHILDREN)]


def pipe_curve(ctx, quick):
    a, b = ctx.Pipe()
    p = ctx.Process(target=echo_bytes, args=(b,))
    p.start()
    b.close()
    result = []
    for size in SIZES:
        data = bytes([7]) * size
        per_sample, warm_up, samples = pipe_plan(size, quick)
        for _ in range(warm_up):
            a.send_bytes(data)
            a.recv_bytes()
        times = []
        for _ in range(samples):
            t0 = time.perf_counter()
            for _ in range(per_sample):
                a.send_bytes(data)
                a.recv_bytes()
            times.append((time.perf_counter() - t0) * 1000 / per_sample)
        result.append((size, statistics.median(times)))
    a.send_bytes(b"")
    p.join()
    a.close()
    return result


def main():
    quick = sys.argv[1] == "quick"
    out = []
    for method in ["fork", "spawn", "forkserver"]:
        ctx = mp.get_context(method)
        system = f"CPython/{method}"
        out += [{"curve": "start", "x": n, "system": system, "medianMs": ms} for n, ms in start_curve(ctx, quick)]
        out += [{"curve": "pipe", "x": s, "system": system, "medianMs": ms} for s, ms in pipe_curve(ctx, quick)]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
