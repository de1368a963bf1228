#!/usr/bin/env python3
"""cluster-server as a service (issue 20): each signal (TTIN, TTOU, HUP, USR2, QUIT, TERM, INT,
USR1), the sd_notify sequence through a NOTIFY_SOCKET listener, socket activation through the
real systemd-socket-activate, the primary's upgrade under client load (both policies, C and
Node workers) and failed upgrades, and /metrics read by prometheus_client's own parser.

usage: test_cluster_service.py BUILD_TOOLS_DIR SOURCE_TEST_DIR [NAME...]
Every wait is on an event (a line on stdout/stderr, a datagram, a pidfd), with generous
timeouts; nothing is judged by wall time."""
import http.client
import json
import os
import queue
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import taplib

TOOLS, TESTDIR = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ONLY = sys.argv[3:]
NODE = shutil.which("node")
TIMEOUT = 60  # seconds for any one awaited event, on a busy machine

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # Debian's python3-prometheus-client, under a Python other than Debian's
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        text_string_to_metric_families = None


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_wait(pid, timeout=TIMEOUT):
    """Waits for a process that is not our child to end (a pidfd: no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        r, _, _ = select.select([fd], [], [], timeout)
        return bool(r)
    finally:
        os.close(fd)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


class Server:
    """cluster-server (or a wrapper such as systemd-socket-activate) with its stdout and
    stderr read line by line by threads; wait_err() waits for a line matching a pattern."""

    def __init__(self, args, prog=None, env=None, wrapper=()):
        self.prog = prog or os.path.join(TOOLS, "cluster-server")
        self.proc = subprocess.Popen(list(wrapper) + [self.prog] + args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.out = queue.Queue()
        self.json = []
        self.err = []
        self.cond = threading.Condition()
        self.threads = [threading.Thread(target=self._read, args=(self.proc.stdout, True)),
                        threading.Thread(target=self._read, args=(self.proc.stderr, False))]
        for t in self.threads:
            t.daemon = True
            t.start()

    def _read(self, f, is_out):
        for line in f:
            if is_out:
                self.out.put(line)
            with self.cond:
                if not is_out:
                    self.err.append(line)
                self.cond.notify_all()
        if is_out:
            self.out.put(None)

    def stdout_line(self):
        line = self.out.get(timeout=TIMEOUT)
        check(line is not None, f"stdout closed; stderr: {''.join(self.err)}")
        return line

    def listening_port(self):
        line = self.stdout_line()
        while line.startswith("{"):  # an old primary's --json at its exit, after an upgrade
            self.json.append(json.loads(line))
            line = self.stdout_line()
        m = re.match(r"cluster-server listening on http://[^ ]*:(\d+)/$", line)
        check(m is not None, line)
        return int(m.group(1))

    def wait_err(self, pattern, start=0, timeout=TIMEOUT):
        """Index of the first stderr line at or after `start` matching `pattern`."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.err):
                    if rx.search(self.err[i]):
                        return i
                    i += 1
                left = deadline - time.monotonic()
                check(left > 0, f"no stderr line /{pattern}/ in: {''.join(self.err[start:])}")
                self.cond.wait(left)

    def mark(self):
        with self.cond:
            return len(self.err)

    def send(self, sig):
        self.proc.send_signal(sig)

    def finish(self, sig=signal.SIGTERM):
        if self.proc.poll() is None and sig is not None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        for t in self.threads:
            t.join(timeout=TIMEOUT)
        return self.proc.returncode

    def stderr_text(self):
        with self.cond:
            return "".join(self.err)


def get(port, path="/"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def metrics(port):
    status, text = get(port, "/metrics")
    check(status == 200, f"/metrics: {status}")
    check(text_string_to_metric_families is not None, "prometheus_client is missing")
    fams = {}
    for fam in text_string_to_metric_families(text):
        fams[fam.name] = fam
    return fams


def sample(fams, family, name=None, **labels):
    for s in fams[family].samples:
        if (name is None or s.name == name) and all(s.labels.get(k) == v
                                                    for k, v in labels.items()):
            return s.value
    raise AssertionError(f"no {family} {labels}")


def metrics_port(srv):
    i = srv.wait_err(r"^metrics: serving /metrics on port \d+")
    return int(re.search(r"port (\d+)", srv.err[i]).group(1))


class Load:
    """Keep-alive clients sending GET / in a loop; counts answers and failures."""

    def __init__(self, port, clients=4):
        self.port = port
        self.ok = self.failed = 0
        self.errors = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self._client) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def _client(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        while not self.stop_ev.is_set():
            try:
                conn.request("GET", "/")
                r = conn.getresponse()
                good = r.status == 200 and r.read() == b"hello world\n"
                with self.lock:
                    if good:
                        self.ok += 1
                    else:
                        self.failed += 1
                if r.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.failed += 1
                    self.errors.append(repr(e))
                conn.close()
        conn.close()

    def flowing(self, n=100):
        """Waits until n more requests have been answered (traffic is really flowing)."""
        with self.lock:
            want = self.ok + n
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with self.lock:
                if self.ok >= want or self.failed:
                    return
            self.stop_ev.wait(0.01)
        raise AssertionError(f"traffic stalled: {self.ok} ok, {self.failed} failed")

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join()


class NotifyListener:
    """A NOTIFY_SOCKET as systemd has one: an AF_UNIX datagram socket in a temp dir."""

    def __init__(self, tmp):
        self.path = os.path.join(tmp, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def next(self, timeout=TIMEOUT):
        r, _, _ = select.select([self.sock], [], [], timeout)
        check(r, f"no sd_notify message; so far {self.messages}")
        msg = self.sock.recv(4096).decode()
        self.messages.append(msg)
        return dict(line.split("=", 1) for line in msg.split("\n") if "=" in line)

    def until(self, key, value=None):
        while True:
            m = self.next()
            if key in m and (value is None or m[key] == value):
                return m

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# command line


def test_cli():
    cs = os.path.join(TOOLS, "cluster-server")
    r = subprocess.run([cs, "--help"], capture_output=True, text=True, timeout=TIMEOUT)
    check(r.returncode == 0 and "usage: cluster-server" in r.stdout, r)
    for word in ["TTIN", "TTOU", "USR2", "QUIT", "USR1", "HUP", "--metrics", "--json"]:
        check(word in r.stdout, f"--help lacks {word}")
    r = subprocess.run([cs, "--version"], capture_output=True, text=True, timeout=TIMEOUT)
    check(r.returncode == 0 and r.stdout.startswith("cluster-server ") and "(uvproc)" in r.stdout,
          r)
    for bad in [["-w", "x"], ["--policy", "fifo"], ["--bogus"], ["-p", "70000"],
                ["--min", "3", "--max", "2"], ["--upgrade-timeout", "0"], ["extra"], ["-w"],
                ["--metrics"]]:
        r = subprocess.run([cs] + bad, capture_output=True, text=True, timeout=TIMEOUT)
        lines = r.stderr.splitlines()
        check(r.returncode == 2 and r.stdout == "" and len(lines) == 2 and
              lines[0].startswith("cluster-server: "), f"{bad}: {r}")


def test_node_worker_missing():
    """Checked up front: one clear line and exit 2, not Node's stack ten times over."""
    cs = os.path.join(TOOLS, "cluster-server")
    r = subprocess.run([cs, "-w", "2", "--node-worker", "/nonexistent.js"], capture_output=True,
                       text=True, timeout=TIMEOUT)
    check(r.returncode == 2 and r.stdout == "", r)
    check("/nonexistent.js: No such file or directory" in r.stderr, r.stderr)
    check("fork:" not in r.stderr and "node:internal" not in r.stderr, r.stderr)
    r = subprocess.run([cs, "-w", "2", "--node-worker", "/"], capture_output=True, text=True,
                       timeout=TIMEOUT)
    check(r.returncode == 2 and "not a regular file" in r.stderr, r)


# ---------------------------------------------------------------------------------------------
# signals


def test_ttin_ttou():
    srv = Server(["-w", "2", "-p", "0", "--min", "1", "--max", "3", "--metrics", "0"])
    try:
        port = srv.listening_port()
        mport = metrics_port(srv)
        m = srv.mark()
        srv.send(signal.SIGTTIN)
        srv.wait_err(r"^ttin: 3 workers", m)
        srv.wait_err(r"^listening: worker 3 ", m)
        fams = metrics(mport)
        check(sample(fams, "uvproc_cluster_workers_target") == 3, "target 3")
        check(sample(fams, "uvproc_cluster_workers", state="listening") == 3, "3 listening")
        m = srv.mark()
        srv.send(signal.SIGTTIN)
        srv.wait_err(r"^ttin: already at --max 3", m)
        m = srv.mark()
        srv.send(signal.SIGTTOU)
        srv.wait_err(r"^ttou: 2 workers", m)
        srv.wait_err(r"^exit: worker \d+ code 0", m)  # the newest one, stopped gracefully
        srv.send(signal.SIGTTOU)
        srv.wait_err(r"^ttou: 1 workers", m)
        m2 = srv.wait_err(r"^exit: worker \d+ code 0", srv.wait_err(r"^ttou: 1 workers", m))
        srv.send(signal.SIGTTOU)
        srv.wait_err(r"^ttou: already at --min 1", m2)
        check(get(port) == (200, "hello world\n"), "serves with one worker")
        fams = metrics(mport)
        check(sample(fams, "uvproc_cluster_workers_target") == 1, "target 1")
    finally:
        rc = srv.finish()
    check(rc == 0, f"exit {rc}: {srv.stderr_text()}")


def test_ttin_during_reload():
    """TTIN while HUP replaces the workers: the reload's replacements are not counted as the
    extra worker, so three listen at the end."""
    srv = Server(["-w", "2", "-p", "0", "--metrics", "0"])
    try:
        srv.listening_port()
        mport = metrics_port(srv)
        srv.send(signal.SIGHUP)
        srv.send(signal.SIGTTIN)
        srv.wait_err(r"^reload: done")
        srv.wait_err(r"^ttin: 3 workers")
        deadline = time.monotonic() + TIMEOUT
        while True:  # the extra worker may still be starting: its state is the event
            fams = metrics(mport)
            states = [s.labels["state"] for s in fams["uvproc_cluster_worker_state"].samples]
            if states.count("listening") == 3 and len(states) == 3:
                break
            check(time.monotonic() < deadline, states)
            threading.Event().wait(0.05)
    finally:
        rc = srv.finish()
    check(rc == 0, f"exit {rc}")


def graceful(sig, name):
    srv = Server(["-w", "2", "-p", "0", "--json"])
    port = srv.listening_port()
    check(get(port) == (200, "hello world\n"), "serves")
    srv.send(sig)
    rc = srv.finish(None)
    err = srv.stderr_text()
    check(rc == 0, f"exit {rc}: {err}")
    check(f"stopping ({name})" in err, err)
    check(len(re.findall(r"^exit: worker \d+ code 0 ", err, re.M)) == 2, err)
    summary = json.loads(srv.out.get(timeout=TIMEOUT))
    check(summary["forks"] == 2 and summary["exits"] == 2 and summary["upgraded_to"] == 0,
          summary)


def test_quit():
    graceful(signal.SIGQUIT, "SIGQUIT")


def test_term():
    graceful(signal.SIGTERM, "SIGTERM")


def test_int():
    graceful(signal.SIGINT, "SIGINT")


def test_int_twice():
    """A worker held up by a half-sent request: the first INT waits (grace 10 min), the
    second kills the workers at once."""
    srv = Server(["-w", "1", "-p", "0", "--grace", "600000"])
    port = srv.listening_port()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        check(b"hello world" in s.recv(4096), "answered")
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # no blank line: a request in progress
        m = srv.mark()
        srv.send(signal.SIGINT)
        srv.wait_err(r"^stopping \(SIGINT\)", m)
        srv.send(signal.SIGINT)
        srv.wait_err(r"^stopping now: killing 1 workers", m)
        rc = srv.finish(None)
    err = srv.stderr_text()
    check(rc == 0, f"exit {rc}: {err}")
    check("killed by signal 9" in err, err)


def test_hup_reload_notify():
    """HUP: every worker replaced, RELOADING=1 then READY=1; TERM: STOPPING=1."""
    with tempfile.TemporaryDirectory() as tmp:
        nl = NotifyListener(tmp)
        env = dict(os.environ, NOTIFY_SOCKET=nl.path)
        srv = Server(["-w", "2", "-p", "0"], env=env)
        try:
            port = srv.listening_port()
            first = nl.until("READY", "1")
            check(first.get("MAINPID") == str(srv.proc.pid), first)
            check("2 workers listening" in first.get("STATUS", ""), first)
            srv.send(signal.SIGHUP)
            m = nl.until("RELOADING", "1")
            check(int(m.get("MONOTONIC_USEC", "0")) > 0, m)
            m = nl.until("READY", "1")
            check("reloaded" in m.get("STATUS", ""), m)
            srv.wait_err(r"^reload: done")
            check(get(port) == (200, "hello world\n"), "serves after the reload")
            srv.send(signal.SIGTERM)
            nl.until("STOPPING", "1")
        finally:
            rc = srv.finish()
            nl.close()
        check(rc == 0, f"exit {rc}")
        err = srv.stderr_text()
        check(len(re.findall(r"^fork: ", err, re.M)) == 4, err)


def wait_file(path, text):
    """Waits for `text` in the file (the primary writes its log there, not to our pipe)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                if text in f.read():
                    return
        threading.Event().wait(0.02)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_usr1_reopens_log():
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "cs.log")
        srv = Server(["-w", "1", "-p", "0", "--log", log])
        try:
            srv.listening_port()
            os.rename(log, log + ".1")  # what logrotate does
            srv.send(signal.SIGUSR1)
            # The reopened file gets the answer, then what follows.
            wait_file(log, "usr1: log reopened")
            srv.send(signal.SIGTTIN)
            wait_file(log, "ttin: 2 workers")
        finally:
            rc = srv.finish()
        check(rc == 0, f"exit {rc}")
        with open(log) as f:
            new = f.read()
        with open(log + ".1") as f:
            old = f.read()
        check("ttin: 2 workers" in new and "stopped after" in new, new)
        check("listening: worker 1 " in old and "ttin" not in old, old)


# ---------------------------------------------------------------------------------------------
# the upgrade


def upgrade_under_load(policy, upgrades, node=False):
    """USR2 `upgrades` times in a row under constant keep-alive load; returns (ok, failed)."""
    with tempfile.TemporaryDirectory() as tmp:
        link = os.path.join(tmp, "cluster-server")
        os.symlink(os.path.join(TOOLS, "cluster-server"), link)
        pid_file = os.path.join(tmp, "pid")
        nl = NotifyListener(tmp)
        env = dict(os.environ, NOTIFY_SOCKET=nl.path)
        args = ["-w", "2", "-p", "0", "--policy", policy, "--pid-file", pid_file, "--json"]
        if node:
            env["CLUSTER_TEST_PORT"] = str(free_port())
            args += ["--node-worker", os.path.join(TESTDIR, "node", "cluster_seed.js")]
        srv = Server(args, prog=link, env=env)
        pids = [srv.proc.pid]
        load = None
        try:
            port = srv.listening_port()
            nl.until("READY", "1")
            load = Load(port)
            for i in range(upgrades):
                load.flowing()
                os.kill(pids[-1], signal.SIGUSR2)
                m = nl.until("MAINPID")
                new = int(m["MAINPID"])
                check(new != pids[-1] and pid_alive(new), m)
                check(srv.listening_port() == port, "the new primary serves the same port")
                with open(pid_file) as f:
                    check(int(f.read()) == new, "the pid file names the new primary")
                check(pid_wait(pids[-1]), f"old primary {pids[-1]} did not exit")
                pids.append(new)
            load.flowing()
        finally:
            if load is not None:
                load.stop()
            os.kill(pids[-1], signal.SIGTERM)
            pid_wait(pids[-1])
            srv.finish(None)
            nl.close()
        check(srv.proc.returncode == 0, f"first primary exit {srv.proc.returncode}")
        while True:  # the rest of stdout, up to its end (every primary has exited)
            line = srv.out.get(timeout=TIMEOUT)
            if line is None:
                break
            srv.json.append(json.loads(line))
        # Each primary's summary names its successor; the last one's names none.
        check([j["upgraded_to"] for j in srv.json] == pids[1:] + [0], (srv.json, pids))
        check(not os.path.exists(pid_file), "the last primary removed its pid file")
        err = srv.stderr_text()
        check(err.count("upgrade: new primary pid") == upgrades, err)
        return load.ok, load.failed, load.errors


def test_upgrade_rr():
    ok, failed, errors = upgrade_under_load("rr", 3)
    taplib.comment(f"rr: 3 upgrades, {ok} requests, {failed} failed")
    check(ok > 0 and failed == 0, errors[:5])


def test_upgrade_shared():
    ok, failed, errors = upgrade_under_load("shared", 3)
    taplib.comment(f"shared: 3 upgrades, {ok} requests, {failed} failed")
    check(ok > 0 and failed == 0, errors[:5])


def test_upgrade_node():
    if NODE is None:
        raise taplib.Skip("no node")
    ok, failed, errors = upgrade_under_load("rr", 1, node=True)
    # Node's workers close keep-alive connections abruptly when told to leave (its
    # server.close() does not drain them): the count is reported, not judged.
    taplib.comment(f"node rr: 1 upgrade, {ok} requests, {failed} failed {errors[:3]}")
    check(ok > 0, "served")


def test_upgrade_failed():
    """A new binary that crashes, then one that never gets ready: the old primary serves on;
    then the real binary again: the upgrade goes through."""
    with tempfile.TemporaryDirectory() as tmp:
        link = os.path.join(tmp, "cluster-server")
        real = os.path.join(TOOLS, "cluster-server")
        crash = os.path.join(tmp, "crash.sh")
        hang = os.path.join(tmp, "hang.sh")
        hang_pid = os.path.join(tmp, "hang.pid")
        with open(crash, "w") as f:
            f.write("#!/bin/sh\necho 'new binary: broken' >&2\nexit 3\n")
        with open(hang, "w") as f:
            f.write(f"#!/bin/sh\necho $$ > {hang_pid}\nexec sleep 600\n")
        os.chmod(crash, 0o755)
        os.chmod(hang, 0o755)
        os.symlink(real, link)
        srv = Server(["-w", "2", "-p", "0", "--upgrade-timeout", "2000", "--metrics", "0"],
                     prog=link)
        try:
            port = srv.listening_port()
            mport = metrics_port(srv)
            os.unlink(link)
            os.symlink(crash, link)
            m = srv.mark()
            srv.send(signal.SIGUSR2)
            srv.wait_err(r"^upgrade: failed: the new primary exited before it was ready; "
                         r"this primary serves on", m)
            check("new binary: broken" in srv.stderr_text(), "the new binary ran")
            check(get(port) == (200, "hello world\n"), "serves after a crashed upgrade")

            os.unlink(link)
            os.symlink(hang, link)
            m = srv.mark()
            srv.send(signal.SIGUSR2)
            srv.wait_err(r"^upgrade: failed: connection timed out; this primary serves on", m)
            with open(hang_pid) as f:
                hung = int(f.read())
            check(pid_wait(hung), "the new primary that never got ready was killed")
            check(get(port) == (200, "hello world\n"), "serves after a timed-out upgrade")
            fams = metrics(mport)
            check(sample(fams, "uvproc_cluster_upgrade_failures") == 2, "2 failed upgrades")

            os.unlink(link)
            os.symlink(real, link)
            m = srv.mark()
            srv.send(signal.SIGUSR2)
            i = srv.wait_err(r"^upgrade: new primary pid (\d+) serves", m)
            new = int(re.search(r"pid (\d+)", srv.err[i]).group(1))
            check(srv.listening_port() == port, "the new primary serves the same port")
            rc = srv.proc.wait(timeout=TIMEOUT)  # its stdio lives on in the new primary
            check(rc == 0, f"old primary exit {rc}")
            check(get(port) == (200, "hello world\n"), "the new primary serves")
            os.kill(new, signal.SIGTERM)
            check(pid_wait(new), "new primary stopped")
        finally:
            srv.finish()


# ---------------------------------------------------------------------------------------------
# systemd's socket activation


def test_socket_activation():
    """systemd-socket-activate binds the port and starts cluster-server on the first
    connection: that connection waits in the backlog and is served; -p is ignored."""
    sa = shutil.which("systemd-socket-activate")
    if sa is None:
        raise taplib.Skip("no systemd-socket-activate (Debian package systemd)")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        nl = NotifyListener(tmp)
        env = dict(os.environ, NOTIFY_SOCKET=nl.path)
        srv = Server(["-w", "2", "-p", "1"], env=env,
                     wrapper=[sa, "-l", f"127.0.0.1:{port}", "--fdname=web",
                              "-E", "NOTIFY_SOCKET", "-E", "PATH"])
        try:
            srv.wait_err(r"Listening on 127\.0\.0\.1:\d+")
            check(get(port) == (200, "hello world\n"), "the first connection is served")
            check(srv.listening_port() == port, "serves the passed socket, not -p 1")
            srv.wait_err(rf"^passed socket: fd 3 named web on 127\.0\.0\.1 port {port}")
            m = nl.until("READY", "1")
            check(m.get("MAINPID") == str(srv.proc.pid), m)  # systemd-socket-activate execs
            for _ in range(4):
                check(get(port) == (200, "hello world\n"), "served")
        finally:
            rc = srv.finish()
            nl.close()
        check(rc == 0, f"exit {rc}: {srv.stderr_text()}")


# ---------------------------------------------------------------------------------------------
# metrics


def test_metrics():
    """Parsed by prometheus_client; answers while no worker can (all SIGSTOPped)."""
    if text_string_to_metric_families is None:
        raise taplib.Skip("no prometheus_client (Debian package python3-prometheus-client)")
    srv = Server(["-w", "2", "-p", "0", "--metrics", "127.0.0.1:0"])
    stopped = []
    try:
        port = srv.listening_port()
        mport = metrics_port(srv)
        fams = metrics(mport)
        for fam, typ in [("uvproc_cluster_workers_target", "gauge"),
                         ("uvproc_cluster_workers", "gauge"),
                         ("uvproc_cluster_worker_state", "gauge"),
                         ("uvproc_cluster_worker_restarts", "counter"),
                         ("uvproc_cluster_worker_uptime_seconds", "gauge"),
                         ("uvproc_cluster_worker_resident_memory_bytes", "gauge"),
                         ("uvproc_cluster_worker_cpu_seconds", "counter"),
                         ("uvproc_cluster_forks", "counter"),
                         ("uvproc_cluster_restarts", "counter"),
                         ("uvproc_cluster_crash_loops", "counter"),
                         ("uvproc_cluster_reloads", "counter"),
                         ("uvproc_cluster_upgrades", "counter"),
                         ("uvproc_cluster_primary_resident_memory_bytes", "gauge"),
                         ("uvproc_cluster_primary_cpu_seconds", "counter")]:
            check(fam in fams and fams[fam].type == typ, f"{fam}: {fams.get(fam)}")
        check(sample(fams, "uvproc_cluster_workers", state="listening") == 2, "2 listening")
        check(sample(fams, "uvproc_cluster_forks") == 2, "2 forks")
        pids = [s.labels["pid"] for s in fams["uvproc_cluster_worker_state"].samples]
        check(len(pids) == 2, pids)
        for s in fams["uvproc_cluster_worker_resident_memory_bytes"].samples:
            check(s.value > 0, s)
        check(sample(fams, "uvproc_cluster_primary_resident_memory_bytes") > 0, "primary rss")

        # A crash: counted as an exit and a restart, on the slot too.
        m = srv.mark()
        try:
            get(port, "/crash")
        except (OSError, http.client.HTTPException):
            pass
        srv.wait_err(r"^listening: worker 3 ", m)
        fams = metrics(mport)
        check(sample(fams, "uvproc_cluster_restarts") == 1, "1 restart")
        check(sample(fams, "uvproc_cluster_exits") == 1, "1 exit")
        check(sum(s.value for s in fams["uvproc_cluster_worker_restarts"].samples) == 1,
              "the slot's restart")

        # No worker can answer: the primary does.
        for s in fams["uvproc_cluster_worker_state"].samples:
            os.kill(int(s.labels["pid"]), signal.SIGSTOP)
            stopped.append(int(s.labels["pid"]))
        fams = metrics(mport)
        check(sample(fams, "uvproc_cluster_workers_target") == 2, "answers with workers stopped")
        for p in stopped:
            os.kill(p, signal.SIGCONT)
        stopped = []

        # A reload: counted.
        m = srv.mark()
        srv.send(signal.SIGHUP)
        srv.wait_err(r"^reload: done", m)
        fams = metrics(mport)
        check(sample(fams, "uvproc_cluster_reloads") == 1, "1 reload")
        status, _ = get(mport, "/")
        check(status == 404, status)
    finally:
        for p in stopped:
            os.kill(p, signal.SIGCONT)
        rc = srv.finish()
    check(rc == 0, f"exit {rc}")


def test_metrics_bad_address():
    cs = os.path.join(TOOLS, "cluster-server")
    r = subprocess.run([cs, "-w", "1", "-p", "0", "--metrics", "nowhere:x"], capture_output=True,
                       text=True, timeout=TIMEOUT)
    check(r.returncode == 2 and "--metrics nowhere:x" in r.stderr, r)
    with socket.socket() as s:  # well-formed, but taken by a plain (not SO_REUSEPORT) listener
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = subprocess.run([cs, "-w", "1", "-p", "0", "--metrics", str(s.getsockname()[1])],
                           capture_output=True, text=True, timeout=TIMEOUT)
    check(r.returncode == 1 and "address already in use" in r.stderr, r)


tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
sys.exit(taplib.run([(n, f) for n, f in tests if not ONLY or n[5:] in ONLY], timed=True))
