"""What CPython's pools do when a worker dies mid-task (run by pool-crash.ts); prints JSON."""
import json
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor


def die(_):
    os._exit(1)


def square(x):
    return x * x


def pool_map():
    with mp.get_context("fork").Pool(2) as pool:
        result = pool.map_async(die, [1])
        try:
            result.get(timeout=3)
            return "the task succeeded"
        except mp.TimeoutError:
            return "hangs: map never returns (stopped after 3 s)"
        except Exception as e:
            return "the task fails (" + type(e).__name__ + ")"


def executor():
    with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
        try:
            ex.submit(die, 1).result(timeout=3)
            first = "the task succeeded"
        except Exception as e:
            first = type(e).__name__
        try:
            ex.submit(square, 3).result(timeout=3)
            return "the task fails (" + first + "); the pool recovers"
        except Exception as e:
            return "the task fails (" + first + "); the pool is broken for good (" + type(e).__name__ + ")"


if __name__ == "__main__":
    print(json.dumps({"CPython Pool (fork)": pool_map(), "CPython ProcessPoolExecutor (fork)": executor()}))
