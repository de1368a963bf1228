#!/usr/bin/env python3
"""The README's example must be demos/hello.c verbatim, and the README's two set-up commands
must be the ones .ci/run runs."""
import re
import sys

readme_path, hello_path = sys.argv[1], sys.argv[2]
readme = open(readme_path).read()
hello = open(hello_path).read()
blocks = re.findall(r"```c\n(.*?)```", readme, re.S)
if hello not in blocks:
    sys.exit("README.md's C example differs from demos/hello.c")
commands = [l for l in readme.splitlines() if l.startswith(".ci/install-deps ")]
if len(commands) != 2 or "build/demos/loadtest" not in commands[0] or "meson test" not in commands[1]:
    sys.exit("README.md must show exactly two set-up commands: the loadtest demo, then the tests")
print("ok")
