"""Python's side of bench/pool: N tiny tasks (x + 1) through ProcessPoolExecutor(2), as the
anchors measured it: 200 warm-up tasks, then N submit() futures awaited (mode "submit"), or
map(chunksize=100) (mode "map100"); every result checked. Prints "tasks_per_s=<rate>".

    python3 pool_ppe.py submit|map100 [N=10000]"""
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def inc(x):
    return x + 1


def main():
    mode, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    with ProcessPoolExecutor(2) as ex:
        assert [f.result() for f in [ex.submit(inc, i) for i in range(200)]] == list(range(1, 201))
        t0 = time.perf_counter()
        if mode == "submit":
            got = [f.result() for f in [ex.submit(inc, i) for i in range(n)]]
        else:
            got = list(ex.map(inc, range(n), chunksize=100))
        secs = time.perf_counter() - t0
        assert got == list(range(1, n + 1))
    print(f"tasks_per_s={n / secs} n={n}")


if __name__ == "__main__":
    main()
