#!/usr/bin/env python3
"""uvproc-relay (tools/relay/relay.c) as a launcher's far side uses it: bytes both ways at
once through stdin/stdout <-> the child's socketpair, checksummed, with flow control (issue
16, fault 2: once a buffer had been full the relay never read that side again: parent to child
hung after 256 KiB, child to parent dropped the rest). 64 MiB each way by default; 1 GiB each
way with UVPROC_TEST_FULL=1 (.ci/run). Also its command line (tools/common/cli.h).

    test_relay.py RELAY HELPERS_DIR"""
import hashlib
import os
import subprocess
import sys
import threading

import taplib

RELAY, HELPERS = sys.argv[1], sys.argv[2]
sys.path.insert(0, HELPERS)
import relay_stream  # noqa: E402  (the child's own pattern)

FULL = os.environ.get("UVPROC_TEST_FULL") == "1"
SIZE = (1 << 30) if FULL else (64 << 20)


def both_ways(size, read_chunk):
    """`size` bytes each way; the test reads stdout in `read_chunk` pieces."""
    child = [sys.executable, os.path.join(HELPERS, "relay_stream.py"), str(size)]
    p = subprocess.Popen([RELAY, "--"] + child, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    got = {"len": 0, "sha": hashlib.sha1()}
    errs = []

    read_all = threading.Event()

    def writer():
        try:
            for block in relay_stream.pattern(size):
                p.stdin.write(block)
            p.stdin.flush()
            # As a parent does: its side stays open until it has what it waits for. stdin's
            # EOF means "the parent is gone" to the relay, which then gives the child only
            # --grace ms to end (a child still sending would be cut off).
            read_all.wait()
            p.stdin.close()  # EOF: the relay shuts the child's socket for writing
        except BrokenPipeError as e:
            errs.append(f"stdin: {e}")

    def reader():
        while True:
            b = p.stdout.read1(read_chunk)
            if not b:
                read_all.set()
                return
            got["len"] += len(b)
            got["sha"].update(b)

    def err_reader():
        got["stderr"] = p.stderr.read().decode(errors="replace")

    threads = [threading.Thread(target=f) for f in (writer, reader, err_reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rc = p.wait()
    want = hashlib.sha1()
    for block in relay_stream.pattern(size):
        want.update(block)
    assert not errs, errs
    assert rc == 0, f"relay exited {rc}: {got['stderr']}"
    assert got["len"] == size, f"child to parent: {got['len']} of {size} bytes"
    assert got["sha"].hexdigest() == want.hexdigest(), "child to parent: bytes differ"
    line = [ln for ln in got["stderr"].splitlines() if ln.startswith("got ")]
    assert line == [f"got {size} {want.hexdigest()}"], \
        f"parent to child: child said {line!r}, want {size} bytes {want.hexdigest()}"


def test_both_ways():
    taplib.comment(f"{SIZE >> 20} MiB each way")
    both_ways(SIZE, 1 << 16)


def test_slow_reader_parent():
    # The parent reads in small pieces: the relay's buffer toward it fills again and again,
    # and the socket must be read again every time it drains.
    both_ways(8 << 20, 4096)


def cli(*args):
    return subprocess.run([RELAY] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True)


def test_cli():
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("uvproc-relay "), r
    r = cli("--help")
    assert r.returncode == 0 and "uvproc-relay" in r.stdout and "--grace" in r.stdout, r
    for bad in (["--bogus"], [], ["--grace", "x", "true"], ["--grace"], ["-x", "true"]):
        r = cli(*bad)
        assert r.returncode == 2, (bad, r)
        assert r.stderr.splitlines()[0].startswith("uvproc-relay: "), (bad, r.stderr)
    # `--` ends the options: a program named --version is looked for (and is not there).
    r = cli("--", "--version")
    assert r.returncode == 127 and "cannot run --version" in r.stderr, r
    # Options end at PROGRAM: its own options are its own.
    r = cli("--grace=50", "sh", "-c", "exit 4", "--version")
    assert r.returncode == 4, r


sys.exit(taplib.run([("both_ways", test_both_ways), ("slow_reader_parent", test_slow_reader_parent),
                     ("cli", test_cli)]))
