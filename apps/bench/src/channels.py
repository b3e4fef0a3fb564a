"""CPython's multiprocessing on the channel workloads of channels.ts, fork, spawn and forkserver.

Prints one JSON list of {workload, system, value}: value is µs per round trip for
the pipe workloads, items/s for the queues, bytes/s for "bytes".
Usage: python3 channels.py quick|full
"""
import json, multiprocessing as mp, sys, time
SMALL = {"id": 1, "name": "spam", "tags": ["a", "b"]}
def echo(c):
    while True:
        v = c.recv()
        if v is None: return
        c.send(v)
def drain(q, n, done):
    done.send("ready")
    for _ in range(n): q.get()
    done.send("done")
def produce(q, n, gate):
    gate.wait(60)
    for i in range(n): q.put({"i": i, "name": "spam", "tags": ["a", "b"]})
def sink(c, n):
    for _ in range(n):
        c.recv_bytes(); c.send_bytes(b"x")
def med(xs): return sorted(xs)[len(xs) // 2]
def pipe(ctx, payload, warm_up, rounds, per_round):
    a, b = ctx.Pipe(); p = ctx.Process(target=echo, args=(b,)); p.start(); b.close()
    for _ in range(warm_up): a.send(payload); a.recv()
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(per_round): a.send(payload); a.recv()
        samples.append((time.perf_counter() - t) * 1e6 / per_round)
    a.send(None); p.join(); a.close()
    return med(samples)
if __name__ == "__main__":
    quick = sys.argv[1] == "quick"
    out = []
    for method in ["fork", "spawn", "forkserver"]:
        ctx = mp.get_context(method)
        system = "CPython/" + method
        # Quick runs warm CPython up less: it has no JIT to wait for.
        warm_up = 3000 if quick else 30000
        out.append({"workload": "pipe", "system": system, "value": pipe(ctx, SMALL, warm_up, 3 if quick else 10, 2000)})
        for key, size in [("pipe1K", 1 << 10), ("pipe1M", 1 << 20)]:
            big = size > 1 << 16
            us = pipe(ctx, bytes(size), 30 if big else warm_up // 3, 3 if quick else 10, 10 if big else 1000)
            out.append({"workload": key, "system": system, "value": us})
        n = 50_000 if quick else 100_000
        rates = []
        for _ in range(1 if quick else 3):
            q = ctx.Queue(); a, b = ctx.Pipe()
            p = ctx.Process(target=drain, args=(q, n, b)); p.start(); b.close(); a.recv()
            t = time.perf_counter()
            for i in range(n): q.put({"i": i, "name": "spam", "tags": ["a", "b"]})
            a.recv(); rates.append(n / (time.perf_counter() - t)); p.join(); a.close()
        out.append({"workload": "queue", "system": system, "value": med(rates)})
        n = 5_000 if quick else 25_000
        q = ctx.Queue(); gate = ctx.Barrier(5)
        ps = [ctx.Process(target=produce, args=(q, n, gate)) for _ in range(4)]
        for p in ps: p.start()
        gate.wait(60)
        t = time.perf_counter()
        for _ in range(4 * n): q.get(timeout=60)
        out.append({"workload": "fanIn", "system": system, "value": 4 * n / (time.perf_counter() - t)})
        for p in ps: p.join()
        size, count = 8 << 20, (5 if quick else 20)
        data = bytes(size); rates = []
        for _ in range(1 if quick else 3):
            a, b = ctx.Pipe(); p = ctx.Process(target=sink, args=(b, count + 1)); p.start(); b.close()
            a.send_bytes(data); a.recv_bytes()
            t = time.perf_counter()
            for _ in range(count): a.send_bytes(data); a.recv_bytes()
            rates.append(size * count / (time.perf_counter() - t)); p.join(); a.close()
        out.append({"workload": "bytes", "system": system, "value": med(rates)})
    print(json.dumps(out))
