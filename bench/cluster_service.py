#!/usr/bin/env python3
"""bench/cluster_service: cluster-server as a service (issue 20), measured with wrk on 127.0.0.1.

  upgrade   USR2 N times in a row (default 10) under constant load (wrk -t1 -cC for the whole
            series), one row per policy with C workers and one with Node workers (round-robin):
            failed requests (wrk's socket errors + non-2xx), and the time from each USR2 to
            the new primary serving (its "listening on" line: every new worker listens),
            median and max.
  ttin      SIGTTIN -> the new worker's "listening" line on stderr, K times (TTOU in between),
            median and max.
  metrics   wrk's requests/s with and without a scraper fetching /metrics once a second,
            rounds interleaved (off, on, off, on, ...), paired ratio on/off per round.

usage: cluster_service [-d SECONDS] [-c CONNS] [-n UPGRADES] [-k TTINS] [-r ROUNDS]
                       [--only upgrade,ttin,metrics]
Found next to itself in the build tree: ../tools/cluster-server; node and wrk from PATH."""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import queue

HERE = os.path.dirname(os.path.abspath(__file__))
CS = os.path.join(HERE, "..", "tools", "cluster-server")
SRC = "@SOURCE_ROOT@"  # meson's configure_file fills it in the build tree
if SRC.startswith("@"):
    SRC = os.path.join(HERE, "..")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, args, env=None, prog=CS):
        self.p = subprocess.Popen([prog] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env, start_new_session=True)
        self.out, self.err = queue.Queue(), queue.Queue()
        for f, q in [(self.p.stdout, self.out), (self.p.stderr, self.err)]:
            threading.Thread(target=self._read, args=(f, q), daemon=True).start()

    @staticmethod
    def _read(f, q):
        for line in f:
            q.put((time.monotonic(), line))
        q.put((time.monotonic(), None))

    def line(self, q, pattern, timeout=60):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            t, line = q.get(timeout=max(0.01, deadline - time.monotonic()))
            if line is None:
                raise RuntimeError("server output ended")
            if rx.search(line):
                return t, line


def wrk_parse(text):
    req = re.search(r"(\d+) requests in", text)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    failed = (sum(int(x) for x in sock.groups()) if sock else 0) + (int(non2xx.group(1))
                                                                     if non2xx else 0)
    return int(req.group(1)) if req else 0, failed, float(rps.group(1)) if rps else 0.0


def wrk(port, conns, seconds):
    r = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s",
                        f"http://127.0.0.1:{port}/"], capture_output=True, text=True)
    return wrk_parse(r.stdout)


def pid_wait(pid, timeout=60):
    import select
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [], timeout)
    finally:
        os.close(fd)


def upgrade_row(name, args, env, n, conns):
    tmp = tempfile.mkdtemp()
    pid_file = os.path.join(tmp, "pid")
    srv = Server(args + ["--pid-file", pid_file], env=env)
    _, line = srv.line(srv.out, r"listening on http://")
    port = int(line.rsplit(":", 1)[1].strip("/\n"))
    pid = srv.p.pid
    res = {}
    # Long enough for n upgrades with a little steady traffic between them.
    secs = max(4, 2 * n)
    t = threading.Thread(target=lambda: res.update(w=wrk(port, conns, secs)))
    t.start()
    time.sleep(0.5)  # bench only: let wrk's connections come up before the first USR2
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        os.kill(pid, signal.SIGUSR2)
        t1, _ = srv.line(srv.out, r"listening on http://")
        times.append((t1 - t0) * 1000)
        with open(pid_file) as f:
            new = int(f.read())
        pid_wait(pid)
        pid = new
    t.join()
    os.kill(pid, signal.SIGTERM)
    pid_wait(pid)
    srv.p.wait()
    shutil.rmtree(tmp, ignore_errors=True)
    req, failed, _ = res["w"]
    print(f"| {name} | {n} | {req} | {failed} | {statistics.median(times):.0f} | "
          f"{max(times):.0f} |", flush=True)


def ttin_row(k):
    srv = Server(["-w", "2", "-p", "0", "--max", "64"])
    srv.line(srv.out, r"listening on http://")
    times = []
    for i in range(k):
        t0 = time.monotonic()
        srv.p.send_signal(signal.SIGTTIN)
        # Worker ids only grow: the one TTIN starts is the (i+3)-th.
        t1, _ = srv.line(srv.err, rf"^listening: worker {i + 3} ")
        times.append((t1 - t0) * 1000)
        srv.p.send_signal(signal.SIGTTOU)
        srv.line(srv.err, r"^exit: worker \d+ ")
    srv.p.send_signal(signal.SIGTERM)
    srv.p.wait()
    print(f"| C worker | {k} | {statistics.median(times):.1f} | {min(times):.1f} | "
          f"{max(times):.1f} |", flush=True)


def metrics_rows(rounds, seconds, conns):
    srv = Server(["-w", "2", "-p", "0", "--metrics", "0"])
    _, line = srv.line(srv.out, r"listening on http://")
    port = int(line.rsplit(":", 1)[1].strip("/\n"))
    _, line = srv.line(srv.err, r"^metrics: serving /metrics on port")
    mport = int(re.search(r"port (\d+)", line).group(1))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    ratios, off_rps, on_rps, scrapes = [], [], [], 0
    for _ in range(rounds):
        _, _, a = wrk(port, conns, seconds)
        stop = threading.Event()
        count = [0]

        def scraper():
            while not stop.is_set():
                with opener.open(f"http://127.0.0.1:{mport}/metrics", timeout=30) as r:
                    r.read()
                count[0] += 1
                stop.wait(1.0)

        th = threading.Thread(target=scraper)
        th.start()
        _, _, b = wrk(port, conns, seconds)
        stop.set()
        th.join()
        scrapes += count[0]
        off_rps.append(a)
        on_rps.append(b)
        ratios.append(b / a if a > 0 else float("nan"))
    # What one scrape costs the primary: its own CPU counter across 500 scrapes in a row.
    def primary_cpu():
        with opener.open(f"http://127.0.0.1:{mport}/metrics", timeout=30) as r:
            text = r.read().decode()
        return float(re.search(r"^uvproc_cluster_primary_cpu_seconds_total (\S+)$", text,
                               re.M).group(1))
    c0, t0 = primary_cpu(), time.monotonic()
    for _ in range(500):
        with opener.open(f"http://127.0.0.1:{mport}/metrics", timeout=30) as r:
            r.read()
    c1, t1 = primary_cpu(), time.monotonic()
    per_scrape_us = (c1 - c0) / 501 * 1e6
    srv.p.send_signal(signal.SIGTERM)
    srv.p.wait()
    print(f"| without scraper | {statistics.median(off_rps):.0f} | 1.00x |")
    print(f"| scraper at 1/s ({scrapes} scrapes) | {statistics.median(on_rps):.0f} | "
          f"{statistics.median(ratios):.3f}x ({min(ratios):.3f} - {max(ratios):.3f}) |",
          flush=True)
    print(f"\nOne scrape costs the primary {per_scrape_us:.0f} us of CPU (its own "
          f"primary_cpu_seconds_total over 500 scrapes in a row, {(t1 - t0) / 500 * 1000:.2f} ms "
          f"each wall-clock), i.e. {per_scrape_us / 1e4:.3f}% of one CPU at 1 scrape/s.",
          flush=True)


def main():
    ap = argparse.ArgumentParser(prog="cluster_service")
    ap.add_argument("-d", type=int, default=3, help="wrk seconds per metrics round")
    ap.add_argument("-c", type=int, default=20, help="wrk connections")
    ap.add_argument("-n", type=int, default=10, help="upgrades in a row")
    ap.add_argument("-k", type=int, default=10, help="TTINs")
    ap.add_argument("-r", type=int, default=3, help="metrics rounds")
    ap.add_argument("--only", default="upgrade,ttin,metrics")
    a = ap.parse_args()
    only = a.only.split(",")
    if shutil.which("wrk") is None and ("upgrade" in only or "metrics" in only):
        sys.exit("cluster_service: wrk not found (Debian package wrk)")
    print(f"load: {os.getloadavg()[0]:.2f} (1-min loadavg), {os.cpu_count()} CPUs")
    if "upgrade" in only:
        print(f"\n### USR2 upgrades under load (wrk -t1 -c{a.c}, {a.n} upgrades in a row)\n")
        print("| workers | upgrades | requests | failed | USR2 -> new primary serving, median ms "
              "| max ms |\n|---|---:|---:|---:|---:|---:|")
        for policy in ["rr", "shared"]:
            upgrade_row(f"C, {policy}", ["-w", "2", "-p", "0", "--policy", policy], None, a.n,
                        a.c)
        node = shutil.which("node")
        if node is not None:
            hello = os.path.join(SRC, "bench", "node", "cluster_hello.js")
            env = dict(os.environ, CLUSTER_TEST_PORT=str(free_port()))
            upgrade_row("Node (cluster_hello.js), rr", ["-w", "2", "--node-worker", hello], env,
                        a.n, a.c)
    if "ttin" in only:
        print(f"\n### TTIN -> the new worker listening ({a.k} times)\n")
        print("| workers | TTINs | median ms | min ms | max ms |\n|---|---:|---:|---:|---:|")
        ttin_row(a.k)
    if "metrics" in only:
        print(f"\n### /metrics cost (wrk -t1 -c{a.c} -d{a.d}s, {a.r} rounds interleaved)\n")
        print("| | requests/s (median) | ratio to without (median, min - max) |\n"
              "|---|---:|---:|")
        metrics_rows(a.r, a.d, a.c)
    print(f"\nload at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
