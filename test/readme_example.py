#!/usr/bin/env python3
"""The README's example must be demos/hello.c verbatim, the README's two set-up commands must
be the ones .ci/run runs (the main demo, then the tests), and the README stays short (at most
350 lines). TAP cases (test/taplib.py)."""
import re
import sys

import taplib

readme_path, hello_path = sys.argv[1], sys.argv[2]
readme = open(readme_path).read()
hello = open(hello_path).read()


def c_example_is_hello_c():
    blocks = re.findall(r"```c\n(.*?)```", readme, re.S)
    if hello not in blocks:
        raise AssertionError("README.md's C example differs from demos/hello.c")


def two_setup_commands():
    commands = [l for l in readme.splitlines() if l.startswith(".ci/install-deps ")]
    if (len(commands) != 2 or not commands[0].endswith("build/tools/uvproc-loadtest")
            or not commands[1].endswith("meson test -C build --print-errorlogs")):
        raise AssertionError("README.md must show exactly two set-up commands: the loadtest "
                             "demo, then the tests")


def short_enough():
    n = len(readme.splitlines())
    if n > 350:
        raise AssertionError(f"README.md has {n} lines, at most 350: move details to docs/")


sys.exit(taplib.run([("C example is demos/hello.c", c_example_is_hello_c),
                     ("two set-up commands", two_setup_commands),
                     ("at most 350 lines", short_enough)]))
