"""CPython's side of pipe-faults.ts: time and minor faults per Pipe round trip, fork and spawn.

Prints one JSON object {"<method>|<bytes|object>|<64K|16M>": {"us": median µs, "faults": per round trip}};
faults are the parent's and the child's together.
Usage: python3 pipe-faults.py <rounds> <round trips per sample at 64K> <at 16M>
"""
import json
import multiprocessing as mp
import resource
import sys
import time

SIZES = {"64K": 64 << 10, "16M": 16 << 20}


def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def echo(c, mode):
    while True:
        if mode == "bytes":
            m = c.recv_bytes()
            if len(m) == 1:
                return
            c.send_bytes(json.dumps(faults()).encode() if len(m) == 0 else m)
        else:
            v = c.recv()
            if v is None:
                return
            c.send(faults() if v == "faults" else v)


def measure(ctx, mode, size, rounds, per_round):
    a, b = ctx.Pipe()
    p = ctx.Process(target=echo, args=(b, mode))
    p.start()
    b.close()
    payload = bytes(SIZES[size])
    if mode == "bytes":
        def once():
            a.send_bytes(payload)
            a.recv_bytes()

        def child_faults():
            a.send_bytes(b"")
            return json.loads(a.recv_bytes())
    else:
        def once():
            a.send(payload)
            a.recv()

        def child_faults():
            a.send("faults")
            return a.recv()
    for _ in range(per_round * 2):
        once()
    samples = []
    c0, f0 = child_faults(), faults()
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(per_round):
            once()
        samples.append((time.perf_counter() - t) * 1e6 / per_round)
    own = faults() - f0
    total = own + child_faults() - c0
    if mode == "bytes":
        a.send_bytes(b"x")
    else:
        a.send(None)
    p.join()
    a.close()
    return {"us": sorted(samples)[len(samples) // 2], "faults": total / (rounds * per_round)}


if __name__ == "__main__":
    rounds, per64k, per16m = (int(x) for x in sys.argv[1:4])
    out = {}
    for method in ["fork", "spawn"]:
        ctx = mp.get_context(method)
        for mode in ["bytes", "object"]:
            for size, per_round in [("64K", per64k), ("16M", per16m)]:
                out[f"{method}|{mode}|{size}"] = measure(ctx, mode, size, rounds, per_round)
    print(json.dumps(out))
