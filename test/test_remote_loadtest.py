#!/usr/bin/env python3
"""loadtest --hosts through real sshd on 127.0.0.2 and .3 (test/remote/engines.sh runs this):
the load children are dealt out over the hosts, each one really behind ssh (sshd's log shows a
login per child), their counts add up exactly, and an unreachable host's child is reported as
crashed (exit 255) while the others carry the run.

    test_remote_loadtest.py LOADTEST

Three TAP cases (test/taplib.py); a case runs all its checks and fails with every failed one.
"""
import json
import os
import re
import subprocess
import sys

import taplib

loadtest = sys.argv[1]
cfg = os.environ.get("UVPROC_SSH_CONFIG")
if not cfg:
    print("run me through test/remote/engines.sh", file=sys.stderr)
    sys.exit(77)
engines = os.environ["UVPROC_ENGINES_DIR"]
launcher = "ssh -F " + cfg
failures = []


def check(cond, what):
    """Records a failed check; the case goes on and fails at its end with all of them."""
    if not cond:
        failures.append(what)


def case(fn):
    """Runs FN's checks; raises with every failed one, so the TAP case is "not ok"."""
    def run_case():
        failures.clear()
        fn()
        if failures:
            raise AssertionError("\n".join("FAIL: " + f for f in failures))
    return (fn.__name__.replace("_", " "), run_case)


def logins(i):
    with open(os.path.join(engines, "ssh", "sshd_%d.log" % i)) as f:
        return len(re.findall(r"Accepted publickey", f.read()))


# Generous: on a busy machine each ssh login alone can take seconds (a timeout only catches a
# hang; nothing here judges by wall time).
def run(*args, timeout=300):
    return subprocess.run([loadtest, *args], capture_output=True, text=True, timeout=timeout)


@case
def children_across_hosts():
    # 2 children on .2, 1 on .3, 1 here; exactly 4000 requests against the embedded server.
    before = {i: logins(i) for i in (2, 3)}
    r = run("--hosts", "2/127.0.0.2,1/127.0.0.3,1/:", "--launcher", launcher, "-n", "4000",
            "--json")
    check(r.returncode == 0, "loadtest --hosts exits 0 (%d: %s)" % (r.returncode, r.stderr))
    d = json.loads(r.stdout)
    check(d["children"] == 4, "-p defaults to the sum of the slots")
    check(d["requests"] == 4000, "every request counted once: %s" % d["requests"])
    check(sum(d["errors"].values()) == 0, "no errors: %s" % d["errors"])
    check(sorted(d["hosts"]) == sorted([":", "127.0.0.2", "127.0.0.2", "127.0.0.3"]),
          "hosts %s" % d["hosts"])
    check(all(c["requests"] > 0 for c in d["per_child"]), "every child loaded")
    check(logins(2) - before[2] == 2 and logins(3) - before[3] == 1,
          "one ssh login per remote child")


@case
def unreachable_host():
    # Its child is a crash (ssh's 255), the run goes on without it. A request budget, not a
    # duration: under load the reachable child's ssh login can take longer than a 1 s run.
    r = run("--hosts", "1/127.0.0.9,1/127.0.0.2", "--launcher", launcher, "-n", "200", "--json")
    d = json.loads(r.stdout)
    check(d["requests"] > 0, "the reachable child loaded")
    check(any("255" in json.dumps(c) for c in d["per_child"]), "the unreachable child exited 255")


@case
def bad_lists():
    r = run("--hosts", "0/127.0.0.2")
    check(r.returncode == 2 and "--hosts" in r.stderr, "a bad --hosts list is a usage error")
    r = run("--hosts", "1/a,")
    check(r.returncode == 2, "a trailing comma is a usage error")


sys.exit(taplib.run([children_across_hosts, unreachable_host, bad_lists]))
