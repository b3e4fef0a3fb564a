"""CPython's multiprocessing on the workloads of apps/bench (names must match workloads.ts).

Prints one JSON list of {workload, system, medianMs}. Usage: python3 python-suite.py quick|full
"""
import json
import multiprocessing as mp
import statistics
import sys
import time

W = {
    "startJoin": "start + join of a no-op child",
    "startJoinApart": "start + join of a no-op child, 30 ms after the last one ended",
    "start8": "start + join of 8 children in parallel",
    "lockUncontended": "Lock acquire + release, uncontended",
    "lockContended": "Lock acquire + release, 2 processes contending",
    "pipeSmall": "Pipe round trip, small object",
}


def noop():
    pass


def hammer(lock, times):
    for _ in range(times):
        lock.acquire()
        lock.release()


def echo(conn):
    while True:
        msg = conn.recv()
        if msg is None:
            return
        conn.send(msg)


def median_ms(fn, samples, per=1, apart_s=0.0):
    fn()  # warm-up
    times = []
    for _ in range(samples):
        time.sleep(apart_s)  # untimed (APART_MS of workloads.ts for "startJoinApart")
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000 / per)
    return statistics.median(times)


def main():
    quick = sys.argv[1] == "quick"
    out = []

    def record(workload, system, ms):
        out.append({"workload": W[workload], "system": system, "medianMs": ms})

    lock = mp.Lock()

    def uncontended():
        for _ in range(1000):
            lock.acquire()
            lock.release()

    record("lockUncontended", "CPython", median_ms(uncontended, 20 if quick else 200, 1000))

    for method in ["fork", "spawn", "forkserver"]:
        ctx = mp.get_context(method)
        system = f"CPython/{method}"
        slow = method == "spawn"

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

        record("startJoin", system, median_ms(start_join, 3 if quick else (10 if slow else 50)))
        record("startJoinApart", system, median_ms(start_join, 3 if quick else (10 if slow else 40), apart_s=0.03))
        record("start8", system, median_ms(start8, 2 if quick else (5 if slow else 20)))

        ops = 20_000 if quick else 200_000

        def contended():
            shared = ctx.Lock()
            p = ctx.Process(target=hammer, args=(shared, ops))
            p.start()
            hammer(shared, ops)
            p.join()

        record("lockContended", system, median_ms(contended, 2 if quick else 5, 2 * ops))

        a, b = ctx.Pipe()
        p = ctx.Process(target=echo, args=(b,))
        p.start()
        msg = {"id": 1, "name": "spam", "tags": ["a", "b"]}

        def round_trips():
            for _ in range(100):
                a.send(msg)
                a.recv()

        record("pipeSmall", system, median_ms(round_trips, 5 if quick else 50, 100))
        a.send(None)
        p.join()
        a.close()
        b.close()

    print(json.dumps(out))


if __name__ == "__main__":
    main()
