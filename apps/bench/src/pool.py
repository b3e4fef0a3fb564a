"""CPython's Pool on the workloads of pool.ts, printed as JSON (run by pool.ts)."""
import json
import statistics
import sys
import time
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor


def square(x):
    return x * x


def timed(fn, repeat):
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main():
    quick = sys.argv[1] == "quick"
    round_trips = 200 if quick else 2000
    in_flight = 2000 if quick else 10000
    mapped = 20000 if quick else 100000
    repeat = 3 if quick else 7
    out = []
    for method in mp.get_all_start_methods():
        ctx = mp.get_context(method)
        system = "CPython/" + method
        out.append({"workload": "start", "system": system,
                    "medianMs": timed(lambda: start_close(ctx), repeat)})
        with ctx.Pool(2) as pool:
            pool.apply(square, (1,))
            rt = timed(lambda: [pool.apply_async(square, (i,)).get() for i in range(round_trips)], repeat)
            out.append({"workload": "rt", "system": system, "medianMs": rt / round_trips})

            def flight():
                results = [pool.apply_async(square, (i,)) for i in range(in_flight)]
                for r in results:
                    r.get()
            out.append({"workload": "inflight", "system": system, "medianMs": timed(flight, repeat) / in_flight})
            items = list(range(mapped))
            out.append({"workload": "map", "system": system,
                        "medianMs": timed(lambda: pool.map(square, items), repeat) / mapped})
        if method == "fork":
            with ProcessPoolExecutor(2, mp_context=ctx) as ex:
                ex.submit(square, 1).result()
                rt = timed(lambda: [ex.submit(square, i).result() for i in range(round_trips)], repeat)
                out.append({"workload": "rt", "system": "CPython ProcessPoolExecutor/fork", "medianMs": rt / round_trips})
    print(json.dumps(out))


def start_close(ctx):
    pool = ctx.Pool(2)
    pool.close()
    pool.join()


if __name__ == "__main__":
    main()
