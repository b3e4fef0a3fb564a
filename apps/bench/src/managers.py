"""CPython's side of managers.ts: a Manager().dict() set and get, a
multiprocessing.connection Listener/Client round trip over TCP and over a unix
socket, and connections accepted per second with an authkey.

Prints one JSON list of {workload, system, medianMs}.
Usage: python3 managers.py quick|full
"""
import json
import multiprocessing as mp
import os
import socket
import statistics
import sys
import time
from multiprocessing.connection import Client, Listener

SMALL = {"id": 1, "name": "spam", "tags": ["a", "b"]}
KEY = b"bench key"
W = {
    "set": "Manager dict set, one round trip (d[k] = v)",
    "get": "Manager dict get, one round trip (d[k])",
    "tcp": "Listener/Client round trip over TCP, small object",
    "unix": "Listener/Client round trip over a unix socket, small object",
    "accept": "Listener.accept with an authkey (connect + HMAC handshake both ways + close)",
    "floor": "Raw round trip floor: 48 bytes over a unix socket pair, bare system calls, no framing or codec",
}


def echo_client(address):
    c = Client(address)
    while True:
        v = c.recv()
        if v is None:
            break
        c.send(v)
    c.close()


def connect_many(address, n):
    for _ in range(n):
        Client(address, authkey=KEY).close()


def per_op_ms(op, rounds, per_round, warm_up):
    for _ in range(warm_up):
        op()
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(per_round):
            op()
        samples.append((time.perf_counter() - t) * 1000 / per_round)
    return statistics.median(samples)


def round_trip(family, rounds, per_round, warm_up):
    address = ("127.0.0.1", 0) if family == "tcp" else None
    with Listener(address, family="AF_INET" if family == "tcp" else "AF_UNIX") as l:
        p = mp.Process(target=echo_client, args=(l.address,))
        p.start()
        c = l.accept()

        def op():
            c.send(SMALL)
            c.recv()

        ms = per_op_ms(op, rounds, per_round, warm_up)
        c.send(None)
        p.join()
        c.close()
    return ms


def accepts(rounds, per_round):
    samples = []
    with Listener(("127.0.0.1", 0), authkey=KEY) as l:
        for _ in range(rounds):
            p = mp.Process(target=connect_many, args=(l.address, per_round + 1))
            p.start()
            l.accept().close()  # the child is up: time the rest
            t = time.perf_counter()
            for _ in range(per_round):
                l.accept().close()
            samples.append((time.perf_counter() - t) * 1000 / per_round)
            p.join()
    return statistics.median(samples)


def raw_floor(rounds, per_round, warm_up):
    """48 bytes to a forked child and back over a socket pair, blocking socket calls."""
    a, b = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        a.close()
        while True:
            m = b.recv(256)
            if not m or m[0] == 0:
                os._exit(0)
            b.sendall(m)
    b.close()
    msg = b"\x01" * 48

    def op():
        a.sendall(msg)
        a.recv(256)

    ms = per_op_ms(op, rounds, per_round, warm_up)
    a.sendall(b"\x00")
    os.waitpid(pid, 0)
    a.close()
    return ms


def main():
    quick = sys.argv[1] == "quick"
    rounds = 3 if quick else 10
    out = []
    with mp.Manager() as m:
        d = m.dict()

        def set_():
            d["k"] = SMALL

        def get():
            return d["k"]

        out.append({"workload": W["set"], "medianMs": per_op_ms(set_, rounds, 300, 300)})
        out.append({"workload": W["get"], "medianMs": per_op_ms(get, rounds, 300, 300)})
    for family in ["tcp", "unix"]:
        out.append({"workload": W[family], "medianMs": round_trip(family, rounds, 1000, 1000)})
    out.append({"workload": W["accept"], "medianMs": accepts(rounds, 50 if quick else 200)})
    out.append({"workload": W["floor"], "medianMs": raw_floor(rounds, 1000, 1000)})
    for f in out:
        f["system"] = "CPython"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
