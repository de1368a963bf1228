#!/usr/bin/env python3
"""pool-run on its own: what it refuses, what it names, its signals (no orphan after SIGINT,
SIGTERM twice and SIGKILL), the job log's Command column re-run through a shell, and what
differs from GNU parallel on purpose (docs/pool.md). The side-by-side cases are in
pool_run_parallel_test.py.

usage: pool_run_test.py POOL_RUN"""
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import taplib

POOL_RUN = os.path.abspath(sys.argv[1])
WORK = tempfile.mkdtemp(prefix="pool-run-test-")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("PARALLEL")}
ENV["LC_ALL"] = "C"
DEADLINE = 60  # seconds for anything to happen; far above what it takes on an idle machine


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def run(args, stdin=b"", cwd=None):
    return subprocess.run([POOL_RUN] + args, input=stdin, capture_output=True,
                          cwd=cwd or WORK, env=ENV, timeout=120)


STARTED = []  # every pool-run started in the background, killed at the end if still there


def popen(args, d):
    p = subprocess.Popen([POOL_RUN] + args, cwd=d, env=ENV, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    STARTED.append(p)
    return p


def fresh_dir(name):
    d = os.path.join(WORK, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_until(cond, what):
    end = time.monotonic() + DEADLINE
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def read_pids(d, suffix, n):
    def ready():
        files = [f for f in os.listdir(d) if f.endswith(suffix)]
        return len(files) == n and all(open(os.path.join(d, f)).read().strip() for f in files)
    wait_until(ready, f"{n} *{suffix} files")
    return [int(open(os.path.join(d, f)).read()) for f in os.listdir(d) if f.endswith(suffix)]


def test_help_version():
    r = run(["--help"])
    check(r.returncode == 0 and b"usage: pool-run" in r.stdout, r)
    r = run(["--version"])
    check(r.returncode == 0 and r.stdout.startswith(b"pool-run "), r)


def test_refused():
    """Exit 2, one line naming what was refused (plus the --help hint), and nothing run."""
    d = fresh_dir("refused")
    cases = [
        (["--pipe", "touch", "ran"], b"'--pipe' is not supported"),
        (["-X", "touch", "ran"], b"'-X' is not supported"),
        (["--no-such-option", "touch", "ran"], b"unknown option '--no-such-option'"),
        (["--colsep=,", "touch", "ran"], b"'--colsep=,' is not supported"),
        (["touch", "ran{=$_=1=}", ":::", "a"], b"'{=$_=1=}' is not supported"),
        (["--halt", "bogus", "touch", "ran"], b"not 'bogus'"),
        (["--halt", "now,fail", "touch", "ran"], b"not 'now,fail'"),
        (["--timeout", "150%", "touch", "ran"], b"150%"),
        (["--timeout", "3x", "touch", "ran"], b"not '3x'"),
        (["-j", "lots", "touch", "ran"], b"not 'lots'"),
        (["--resume", "touch", "ran"], b"need --joblog"),
        (["touch", "ran", "::::"], b":::: needs a file"),
    ]
    for args, want in cases:
        r = run(args + ([":::", "x"] if ":::" not in args and "::::" not in args else []),
                cwd=d)
        lines = r.stderr.splitlines()
        check(r.returncode == 2 and want in lines[0] and len(lines) == 2 and not r.stdout,
              f"{args}: {r}")
        check(not os.listdir(d), f"{args} ran something: {os.listdir(d)}")


def test_missing_file():
    r = run(["echo", "::::", "/nonexistent/uvproc"])
    check(r.returncode == 255 and b"/nonexistent/uvproc" in r.stderr, r)


def test_missing_program_named():
    r = run(["--no-shell", "--joblog", "-", "nosuchprog-uvproc", ":::", "1"])
    check(r.returncode == 1, r)
    check(b"nosuchprog-uvproc: command not found" in r.stderr, r)
    check(r.stdout.splitlines()[1].split(b"\t")[6] == b"127", r.stdout)


def test_timeout_named():
    r = run(["--timeout", "0.2", "sleep", ":::", "30"])
    check(r.returncode == 1, r)
    check(b"killed because it timed out" in r.stderr and b"sleep 30" in r.stderr, r.stderr)


def test_no_summary():
    """Nothing on stderr unless asked: scripts see only the jobs' own output."""
    r = run(["echo", ":::", "a", "b"])
    check(r.returncode == 0 and r.stderr == b"" and sorted(r.stdout.split()) == [b"a", b"b"], r)
    r = run(["--bar", "echo", ":::", "a", "b"])
    check(r.returncode == 0 and b"100%" in r.stderr, r)


def test_no_shell_argv():
    r = run(["-k", "--no-shell", "printf", "[%s]\\n", ":::", "$x", "a b", "`id`", "-n"])
    check(r.stdout == b"[$x]\n[a b]\n[`id`]\n[-n]\n", r)
    r = run(["-k", "--no-shell", "echo", "x{}y{}", ":::", "a b"])
    check(r.stdout == b"xa bya b\n", r)


def test_joblog_command_reruns():
    """The Command column, given to sh -c, does what the job did."""
    inputs = ["a b", "it's", "$HOME", "`echo no`", "-n", "x;y", "é", "\\", ""]
    log = os.path.join(WORK, "rerun.log")
    r = run(["--joblog", log, "printf", "[%s]", ":::"] + inputs)
    check(r.returncode == 0, r)
    with open(log, "rb") as f:
        rows = [l.split(b"\t") for l in f.read().split(b"\n")[1:] if l]
    check(len(rows) == len(inputs), rows)
    for row in rows:
        again = subprocess.run(["/bin/sh", "-c", row[8]], capture_output=True, env=ENV)
        want = b"[" + inputs[int(row[0]) - 1].encode() + b"]"
        check(again.stdout == want, (row[8], again.stdout, want))


def test_slots():
    r = run(["-j3", "echo {%}", ":::"] + [str(i) for i in range(12)])
    check(set(r.stdout.split()) <= {b"1", b"2", b"3"}, r)


def test_json():
    r = run(["-j2", "--json", "exit $(({} % 2))"], stdin=b"1\n2\n3\n4\n")
    check(r.returncode == 2 and b'"summary"' in r.stdout.splitlines()[-1], r)


def test_sshlogin_hosts():
    """-S on the pool's hosts: an `ssh` on PATH that runs its command here stands in for the
    remote host; the job log names the host each job ran on, ":" for this one."""
    d = fresh_dir("ssh")
    bindir = os.path.join(d, "bin")
    os.makedirs(bindir)
    with open(os.path.join(bindir, "ssh"), "w") as f:
        f.write('#!/bin/sh\nshift\nexec /bin/sh -c "$*"\n')
    os.chmod(os.path.join(bindir, "ssh"), 0o755)
    env = dict(ENV, PATH=bindir + ":" + ENV.get("PATH", "/usr/bin:/bin"))
    log = os.path.join(d, "log")
    r = subprocess.run([POOL_RUN, "-S", "2/fakehost,1/:", "--joblog", log, "echo", "[{}]",
                        ":::"] + [f"a b{i}" for i in range(6)], capture_output=True, env=env,
                       cwd=d, timeout=120)
    check(r.returncode == 0, r)
    check(sorted(r.stdout.splitlines()) == [f"[a b{i}]".encode() for i in range(6)], r.stdout)
    with open(log, "rb") as f:
        hosts = {l.split(b"\t")[1] for l in f.read().splitlines()[1:]}
    check(hosts <= {b"fakehost", b":"} and b"fakehost" in hosts, hosts)


# ---- signals: no job, and no child of a job, outlives pool-run ----

JOB = "echo $$ > {}.sh; sleep 300 & echo $! > {}.pid; wait"


def start_jobs(d):
    p = popen(["-j3", JOB, ":::", "1", "2", "3"], d)
    return p, read_pids(d, ".sh", 3) + read_pids(d, ".pid", 3)


def no_orphans(pids):
    wait_until(lambda: not any(alive(p) for p in pids), f"jobs {pids} to end")


def test_sigint_stops_jobs():
    p, pids = start_jobs(fresh_dir("sigint"))
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=DEADLINE)
    check(p.returncode == 255, (p.returncode, err))
    no_orphans(pids)


def test_sigterm_twice_stops_jobs():
    p, pids = start_jobs(fresh_dir("sigterm2"))
    p.send_signal(signal.SIGTERM)
    wait_for_line(p, b"SIGTERM received")
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=DEADLINE)
    check(p.returncode == 255, (p.returncode, err))
    no_orphans(pids)


def test_sigkill_leaves_no_orphan():
    p, pids = start_jobs(fresh_dir("sigkill"))
    p.kill()
    p.communicate(timeout=DEADLINE)
    no_orphans(pids)


def test_halt_now_leaves_no_orphan():
    d = fresh_dir("halt")
    # Job 3 leaves no child behind: a child holding the job's stdout would keep it running
    # (pool-run waits for its output to end, docs/pool.md).
    p = popen(["-j3", "--halt", "now,fail=1",
                          "if [ {} = 3 ]; then while [ ! -e go ]; do sleep 0.02; done; exit 3; "
                          "fi; echo $$ > {}.sh; sleep 300 & echo $! > {}.pid; wait",
               ":::", "1", "2", "3"], d)
    pids = read_pids(d, ".sh", 2) + read_pids(d, ".pid", 2)
    open(os.path.join(d, "go"), "w").close()
    out, err = p.communicate(timeout=DEADLINE)
    check(p.returncode == 3, (p.returncode, err))
    no_orphans(pids)


def wait_for_line(p, text):
    buf = b""
    end = time.monotonic() + DEADLINE
    while text not in buf:
        left = end - time.monotonic()
        check(left > 0, f"no {text!r} on stderr: {buf!r}")
        ready, _, _ = select.select([p.stderr], [], [], left)
        if ready:
            chunk = os.read(p.stderr.fileno(), 4096)
            check(chunk, f"stderr closed before {text!r}: {buf!r}")
            buf += chunk


def test_sigterm_once_lets_jobs_finish():
    """parallel's rule: a first SIGTERM starts no new job and lets the running ones end."""
    d = fresh_dir("sigterm1")
    p = popen(["-j2", "touch {}.started; while [ ! -e go ]; do sleep 0.02; done; echo done {}",
               ":::", "1", "2", "3", "4"], d)
    wait_until(lambda: os.path.exists(os.path.join(d, "1.started")) and
               os.path.exists(os.path.join(d, "2.started")), "two jobs")
    p.send_signal(signal.SIGTERM)
    wait_for_line(p, b"SIGTERM received")
    open(os.path.join(d, "go"), "w").close()
    out, err = p.communicate(timeout=DEADLINE)
    check(p.returncode == 255, (p.returncode, err))
    check(sorted(out.splitlines()) == [b"done 1", b"done 2"], out)
    check(not os.path.exists(os.path.join(d, "3.started")), os.listdir(d))


CASES = [(name, fn) for name, fn in sorted(globals().items()) if name.startswith("test_")]

if __name__ == "__main__":
    try:
        status = taplib.run(CASES)
    finally:
        for p in STARTED:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(status)
