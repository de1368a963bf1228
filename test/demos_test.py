#!/usr/bin/env python3
"""Runs the demos a newcomer runs, as a newcomer would, and checks what they print.

usage: demos_test.py BUILD_DEMOS_DIR SOURCE_DEMOS_DIR [NAME...]
(the tools are found in BUILD_DEMOS_DIR/../tools)
Each check is a function below, a TAP case (test/taplib.py); exit 77 (meson's skip) is never
used: node is required for the --node-child cases only, and those are skipped one by one when
node is missing."""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request

import taplib

BUILD, SOURCE = sys.argv[1], sys.argv[2]
ONLY = sys.argv[3:]
NODE = shutil.which("node")


def demo(name):
    return os.path.join(BUILD, name)


def tool(name):
    return os.path.join(BUILD, "..", "tools", name)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def test_help():
    for name in ["ls", "exitcode", "find", "exec", "isprime", "isprime_child", "pingpong",
                 "isprime-server", "../tools/cluster-server"]:
        r = run([demo(name), "--help"])
        check(r.returncode == 0 and "usage" in r.stdout.lower(), f"{name} --help: {r}")


def test_loadtest():
    """The README's main demo: with no URL it starts its own server, loads it and stops it."""
    r = run([tool("uvproc-loadtest"), "--help"])
    check(r.returncode == 0 and "usage" in r.stdout, r)
    r = run([tool("uvproc-loadtest"), "-d", "1", "--json"])
    check(r.returncode == 0, r)
    j = json.loads(r.stdout)
    check(j["requests"] > 0 and sum(j["errors"].values()) == 0, j)
    check(all(c["outcome"] == "done" for c in j["per_child"]), j)
    r = run([tool("uvproc-loadtest"), "-d", "1"])
    check(r.returncode == 0 and "req/s" in r.stdout and "p99" in r.stdout, r)


def test_ls():
    r = run([demo("ls")])
    check(r.returncode == 0, r)
    check("[close] code 0" in r.stderr and "bin" in r.stdout, r)
    r = run([demo("ls"), "/nonexistent-dir"])
    check("[close] code 2" in r.stderr and "No such file" in r.stderr, r)


def test_exitcode():
    r = run([demo("exitcode")])
    check(r.returncode == 0, r)
    lines = {l.split()[0] + " " + l.split()[1]: l for l in r.stdout.splitlines()
             if l.endswith(" ok") or l.endswith(" WRONG")}
    check(len(lines) == 4 and all(l.endswith(" ok") for l in lines.values()), r.stdout)


def test_find():
    tree = os.path.join(BUILD, "find-tree")
    shutil.rmtree(tree, ignore_errors=True)
    for i in range(50):
        os.makedirs(os.path.join(tree, f"d{i}"))
    r = run([demo("find"), tree])
    check(r.returncode == 0, r)
    # 1 root + 50 directories
    check("51 lines" in r.stdout, r.stdout)
    shutil.rmtree(tree)


def test_exec():
    r = run([demo("exec")], cwd="/")
    check(r.returncode == 0, r)
    check("stdout: /\n" in r.stdout, r.stdout)


def isprime_lines(stdout):
    return [json.loads(l.split("  (")[0]) for l in stdout.splitlines() if l.startswith("{")]


def test_isprime():
    r = run([demo("isprime"), "2", "7", "1000000007", "1000000008"])
    check(r.returncode == 0, r)
    got = {m["number"]: m["isPrime"] for m in isprime_lines(r.stdout)}
    check(got == {2: True, 7: True, 1000000007: True, 1000000008: False}, r.stdout)
    r = run([demo("isprime"), "12345678910987654321"])
    check(r.returncode == 1 and "not a number" in r.stderr, r)


def test_isprime_node_child():
    if not NODE:
        raise taplib.Skip("node not found")
    r = run([demo("isprime"), "--node-child", os.path.join(SOURCE, "isprime_child.js"), "97",
             "91"])
    check(r.returncode == 0, r)
    got = {m["number"]: m["isPrime"] for m in isprime_lines(r.stdout)}
    check(got == {97: True, 91: False}, r.stdout)


def test_c_child_under_node_parent():
    if not NODE:
        raise taplib.Skip("node not found")
    script = """
const c = require('child_process').fork('unused', [], {execPath: process.argv[1]});
c.on('message', (m) => { console.log(JSON.stringify(m)); c.disconnect(); });
c.on('exit', (code, sig) => console.log('exit', code, sig));
c.send({number: 1000000007});
"""
    r = run([NODE, "-e", script, demo("isprime_child")])
    check(r.returncode == 0, r)
    check(r.stdout == '{"number":1000000007,"isPrime":true}\nexit 0 null\n', r.stdout)


def test_pingpong():
    r = run([demo("pingpong"), "500"])
    check(r.returncode == 0 and "500 round trips" in r.stdout, r)
    if NODE:
        r = run([demo("pingpong"), "--node-child", os.path.join(SOURCE, "pingpong_child.js"),
                 "200"])
        check(r.returncode == 0 and "200 round trips" in r.stdout, r)


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as resp:
        return resp.status, json.loads(resp.read())


def test_isprime_server():
    srv = subprocess.Popen([demo("isprime-server"), "--port", "0"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        line = srv.stdout.readline()
        check(line.startswith("listening on http://127.0.0.1:"), line)
        port = int(line.rsplit(":", 1)[1].strip("/\n"))
        status, body = get(port, "/isprime?number=97")
        check(status == 200 and body["number"] == 97 and body["isPrime"] is True, body)
        check(isinstance(body["time"], float), body)
        # The loop stays responsive: /testrequest is answered while a child computes a large
        # prime (2^61-1 takes seconds of trial division). Ordering, not timing, is asserted.
        big = {}
        t = threading.Thread(target=lambda: big.update(r=get(port, "/isprime?number=2305843009213693951")))
        t.start()
        status, body = get(port, "/testrequest")
        check(status == 200 and body == {"ok": True}, body)
        check(t.is_alive() and "r" not in big, "the big prime finished before /testrequest")
        t.join()
        check(big["r"][1]["isPrime"] is True, big)
        for path, code in [("/isprime?number=abc", 400), ("/nope", 404)]:
            try:
                get(port, path)
                check(False, f"{path} did not fail")
            except urllib.error.HTTPError as e:
                check(e.code == code, f"{path}: {e.code}")
    finally:
        srv.send_signal(signal.SIGTERM)
        out, err = srv.communicate(timeout=30)
    check(srv.returncode == 0, f"server exit {srv.returncode}: {err}")



# pool demos (issue 10)
def test_pool_run():
    r = run([tool("pool-run"), "--help"])
    check(r.returncode == 0 and "usage" in r.stdout, f"pool-run --help: {r}")
    # The first input takes longest: --keep-order still prints in input order; commands go
    # through a shell, as GNU parallel's; nothing on stderr unless asked.
    r = run([tool("pool-run"), "-j", "3", "--keep-order", "sleep 0.$((3 - {})); echo job {}",
             ":::", "1", "2", "3"])
    check(r.returncode == 0 and r.stdout == "job 1\njob 2\njob 3\n", f"keep-order: {r}")
    check(r.stderr == "", f"no summary unless asked: {r.stderr}")
    # Inputs from stdin, {} replaced; the exit status counts the failed jobs.
    r = run([tool("pool-run"), "-j2", "--json", "exit $(({} % 2))"], input="1\n2\n3\n4\n")
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    check(r.returncode == 2 and lines[-1]["summary"]["failed"] == 2, f"json: {r}")
    check(sorted(x["seq"] for x in lines[:-1]) == [1, 2, 3, 4], f"json jobs: {r.stdout}")


def test_isprime_pool():
    r = run([demo("isprime-pool"), "--help"])
    check(r.returncode == 0 and "usage" in r.stdout, f"isprime-pool --help: {r}")
    nums = ["2", "7", "97", "100", "1000000007", "1000000008"]
    r = run([demo("isprime-pool"), "-j", "2", "--json"] + nums)
    got = [json.loads(x) for x in r.stdout.splitlines()]
    check(r.returncode == 0 and [g["number"] for g in got] == [int(n) for n in nums], f"{r}")
    check([g["isPrime"] for g in got] == [True, True, True, False, True, False], f"{got}")
    node_modules = os.path.join(SOURCE, "..", "test", "node", "node_modules")
    if NODE is None or not os.path.isdir(os.path.join(node_modules, "workerpool")):
        taplib.comment("skip isprime-pool --node-worker: no node, or no npm workerpool in "
                       "test/node (.ci/install-deps installs it)")
        return
    env = dict(os.environ, NODE_PATH=node_modules)
    r = run([demo("isprime-pool"), "--node-worker", os.path.join(SOURCE, "isprime_worker.js"),
             "--json"] + nums, env=env)
    got2 = [json.loads(x) for x in r.stdout.splitlines()]
    check(r.returncode == 0 and got2 == got, f"node worker: {r}")

# cluster (issue 8): cluster-server with C workers, then with seed 004's Node program.
def get_text(port, path):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port}{path}", timeout=60) as resp:
        return resp.status, resp.read().decode()


def cluster_server_run(args, env=None):
    srv = subprocess.Popen([tool("cluster-server")] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = srv.stdout.readline()
        check(line.startswith("cluster-server listening on http://127.0.0.1:"), line)
        port = int(line.rsplit(":", 1)[1].strip("/\n"))
        for _ in range(4):
            status, body = get_text(port, "/")
            check(status == 200 and body == "hello world\n", body)
        if "--node-worker" not in args:
            try:
                get_text(port, "/crash")
                check(False, "/crash answered")
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            status, body = get_text(port, "/")  # the other worker, or the replacement
            check(status == 200, status)
    finally:
        srv.send_signal(signal.SIGTERM)
        out, err = srv.communicate(timeout=30)
    check(srv.returncode == 0, f"cluster-server exit {srv.returncode}: {err}")
    check(out == "", f"more on stdout: {out!r}")
    return err


def test_cluster_server():
    for policy in ["rr", "shared"]:
        err = cluster_server_run(["-w", "2", "-p", "0", "--policy", policy])
        check("killed by signal 9" in err, err)  # /crash


def test_cluster_server_reload_keepalive():
    """Two SIGHUP reloads while keep-alive clients hammer the port: no request fails."""
    import http.client
    srv = subprocess.Popen([tool("cluster-server"), "-w", "2", "-p", "0"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    done = threading.Semaphore(0)
    stop = threading.Event()
    counts = {"ok": 0, "failed": 0}

    def read_stderr():
        for line in srv.stderr:
            if line.startswith("reload: done"):
                done.release()

    def client(port):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.is_set():
            try:
                conn.request("GET", "/")
                r = conn.getresponse()
                ok = r.status == 200 and r.read() == b"hello world\n"
                counts["ok" if ok else "failed"] += 1
            except (OSError, http.client.HTTPException):
                counts["failed"] += 1
                conn.close()

    try:
        line = srv.stdout.readline()
        port = int(line.rsplit(":", 1)[1].strip("/\n"))
        threading.Thread(target=read_stderr, daemon=True).start()
        clients = [threading.Thread(target=client, args=(port,)) for _ in range(4)]
        for t in clients:
            t.start()
        for _ in range(2):
            start = counts["ok"]
            while counts["ok"] < start + 200 and not counts["failed"]:
                threading.Event().wait(0.01)  # traffic flowing before each reload
            srv.send_signal(signal.SIGHUP)
            check(done.acquire(timeout=30), "reload did not finish")
        start = counts["ok"]
        while counts["ok"] < start + 200 and not counts["failed"]:
            threading.Event().wait(0.01)  # and after the last one
        stop.set()
        for t in clients:
            t.join()
    finally:
        stop.set()
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=30)
    check(srv.returncode == 0, f"exit {srv.returncode}")
    check(counts["ok"] > 0 and counts["failed"] == 0, counts)


def test_cluster_server_port_in_use():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = run([tool("cluster-server"), "-w", "2", "-p", str(s.getsockname()[1])])
    check(r.returncode == 1 and r.stdout == "" and "address already in use" in r.stderr, r)


def test_cluster_server_node_worker():
    if NODE is None:
        raise taplib.Skip("no node")
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, CLUSTER_TEST_PORT=str(port))
    seed = os.path.join(SOURCE, "..", "test", "node", "cluster_seed.js")
    cluster_server_run(["-w", "2", "--node-worker", seed], env=env)


def skip_reason(name):
    if name.startswith("test_cluster_server") and not os.path.exists(tool("cluster-server")):
        return "built without http_parser"
    needs = {"test_isprime_server": demo("isprime-server"),
             "test_loadtest": tool("uvproc-loadtest")}.get(name)
    if needs is not None and not os.path.exists(needs):
        return "built without http_parser"
    return None


tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
sys.exit(taplib.run([(n, f) for n, f in tests if not ONLY or n[5:] in ONLY], skip_reason))
