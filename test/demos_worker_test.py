#!/usr/bin/env python3
"""Runs the worker-thread demos as a newcomer would and checks what they print.

usage: demos_worker_test.py BUILD_DEMOS_DIR [NAME...]
Each check is a function below, a TAP case (test/taplib.py)."""
import json
import os
import subprocess
import sys

import taplib

BUILD = sys.argv[1]
ONLY = sys.argv[2:]


def run(args):
    return subprocess.run([os.path.join(BUILD, args[0])] + args[1:], capture_output=True,
                          text=True, timeout=60)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def test_help():
    for name in ["worker-pingpong", "worker-data", "worker-env", "message-channel",
                 "worker-parse"]:
        r = run([name, "--help"])
        check(r.returncode == 0 and "usage" in r.stdout.lower(), f"{name} --help: {r}")


def test_worker_pingpong():
    r = run(["worker-pingpong"])
    check(r.returncode == 0, r)
    check(r.stdout.splitlines()[0] == '{"pong":"ping"}', r.stdout)
    r = run(["worker-pingpong", "--json", "2000"])
    check(r.returncode == 0, r)
    s = json.loads(r.stdout)
    check(s["rounds"] == 2000 and s["round_trips_per_s"] > 0, s)
    r = run(["worker-pingpong", "zero"])
    check(r.returncode == 2 and "ROUNDS" in r.stderr, r)


def test_worker_data():
    r = run(["worker-data"])
    check(r.returncode == 0, r)
    check(r.stdout.splitlines()[0] == "Hello", r.stdout)
    check("worker exited with code 0" in r.stdout, r.stdout)
    r = run(["worker-data", "--json", '{"list":[1,2]}'])
    s = json.loads(r.stdout)
    check(s["workerData"] == {"list": [1, 2]} and s["isMainThread"] is False, s)
    check(s["threadId"] >= 1 and s["name"] == "data-demo", s)


def test_worker_env():
    r = run(["worker-env", "--json"])
    check(r.returncode == 0, r)
    check(json.loads(r.stdout) == {"default": "undefined", "share_env": "foo"}, r.stdout)


def test_message_channel():
    r = run(["message-channel"])
    check(r.returncode == 0, r)
    check(r.stdout.splitlines()[0] == 'port1 received {"foo":"bar"}', r.stdout)
    r = run(["message-channel", "--json"])
    s = json.loads(r.stdout)
    check(json.loads(s["received"][0]) == {"foo": "bar"}, s)
    echo = json.loads(s["received"][1])
    check(echo["echo"] == {"question": "who is there?"} and echo["fromThread"] >= 1, s)
    check(sorted(s["closed"]) == ["main's port", "port1", "port2"], s)
    check(s["worker_exit"] == 0, s)


def test_worker_parse():
    r = run(["worker-parse", "--json", "50000"])
    check(r.returncode == 0, r)
    s = json.loads(r.stdout)
    check(s["ok"] is True and s["records"] == 50000 and s["bytes"] > 3000000, s)
    # The parent's 5 ms timer kept running while the worker parsed (a 4 MB parse takes
    # tens of milliseconds on any machine).
    check(s["ticks"] >= 1, s)
    r = run(["worker-parse", "--bad", "1000"])
    check(r.returncode == 1 and "worker error: EBADMSG" in r.stderr, r)


tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
sys.exit(taplib.run([(n, f) for n, f in tests if not ONLY or n[5:] in ONLY]))
