#!/usr/bin/env python3
"""Every C snippet in README.md and docs/*.md compiles against the public header (TAP).

    doc_snippets_test.py SOURCE_ROOT BUILD_ROOT [--cc "CC ARGS"] [--sanitize LIST]

A snippet is a ```c block. What it is, and what it may assume, is said by an HTML comment
(invisible on the rendered page) on the lines just before the block:

    <!-- snippet: KIND
    C declarations the snippet assumes (optional; placed before it)
    -->

KIND is one of:
- `program`: a whole program; compiled and linked against the built library (-I include,
  -L BUILD_ROOT/src -luvproc, libuv and jansson from pkg-config), not run. A block with no
  comment that defines `main(` is a program.
- `fragment`: the function definitions it opens with (each from a line `TYPE NAME(...` at
  column 0 to the next line that is exactly `}`) stay at file scope; from the first other
  line on, the rest are statements, put into the body of
  `int snippet_body(uv_loop_t *loop) { ...; return 0; }`. A line that is only `...` (the page
  skipping something) is dropped. Compiled only (-c), so the comment may declare functions
  without defining them (without `static`).
- `skip REASON`: not compiled (not C, or only part of a line); the reason is printed.

Every snippet gets <stdio.h>, <stdlib.h>, <string.h> and <uvproc.h> first, and is compiled as
C17 with -Wall -Wextra -Werror (unused names allowed: snippets show parts). A block with no
comment that is not a program fails: say what it is. Names a fragment uses without defining
them (`on_close`, `p`, ...) go into its comment."""
import glob
import os
import re
import shlex
import subprocess
import sys
import tempfile

import taplib

args = sys.argv[1:]
source_root, build_root = os.path.abspath(args[0]), os.path.abspath(args[1])
cc = shlex.split(os.environ.get("CC", "cc"))
sanitize = "none"
i = 2
while i < len(args):
    if args[i] == "--cc":
        cc = shlex.split(args[i + 1])
    elif args[i] == "--sanitize":
        sanitize = args[i + 1]
    i += 2

HEAD = "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <uvproc.h>\n"
MARK = re.compile(r"<!--\s*snippet:\s*(\w+)(.*?)-->$", re.S)
FLAGS = ["-std=gnu17", "-Wall", "-Wextra", "-Werror", "-Wno-unused-function",
         "-Wno-unused-variable", "-Wno-unused-parameter", "-Wno-unused-but-set-variable",
         "-Wno-unused-value"]


def pkg_config(*what):
    r = subprocess.run(["pkg-config", *what, "libuv", "jansson"], stdout=subprocess.PIPE,
                       text=True, check=True, timeout=60)
    return shlex.split(r.stdout)


def snippets():
    """(file, line, kind, prelude, code) for every ```c block."""
    files = [os.path.join(source_root, "README.md")]
    files += sorted(glob.glob(os.path.join(source_root, "docs", "*.md")))
    for path in files:
        text = open(path).read()
        for m in re.finditer(r"^```c\n(.*?)^```", text, re.S | re.M):
            line = text.count("\n", 0, m.start()) + 1
            before = text[:m.start()].rstrip()
            start = before.rfind("<!-- snippet:")
            mark = MARK.match(before[start:]) if before.endswith("-->") and start >= 0 else None
            code = m.group(1)
            if mark:
                kind, rest = mark.group(1), mark.group(2)
            else:
                kind, rest = ("program" if re.search(r"\bmain\s*\(", code) else None), ""
            yield os.path.relpath(path, source_root), line, kind, rest, code


FUNCTION = re.compile(r"^(?:static\s+)?(?:const\s+)?[A-Za-z_]\w*[\s*]+\**\w+\s*\(.*[^;]\s*$")


def fragment_source(prelude, code):
    lines = [l for l in code.splitlines() if l.strip() != "..."]
    split, i = 0, 0
    while i < len(lines):
        if not lines[i].strip() or lines[i].lstrip().startswith(("/*", "*", "//")):
            i += 1
        elif FUNCTION.match(lines[i]) and "}" in lines[i:]:
            i = lines.index("}", i) + 1
            split = i
        else:
            break
    top, body = lines[:split], lines[split:]
    return (HEAD + prelude + "\n" + "\n".join(top) +
            "\nint snippet_body(uv_loop_t *loop);\nint snippet_body(uv_loop_t *loop)\n{\n" +
            "\n".join(body) + "\n    return 0;\n}\n")


def compile_case(name, kind, rest, code, tmp):
    def run():
        if kind is None:
            raise AssertionError("neither a program (no main) nor marked: put "
                                 "<!-- snippet: fragment --> (or program, or skip REASON) "
                                 "before it")
        if kind == "skip":
            raise taplib.Skip(rest.strip() or "marked skip")
        src = os.path.join(tmp, re.sub(r"[^A-Za-z0-9]+", "_", name) + ".c")
        cmd = cc + FLAGS + ["-I", os.path.join(source_root, "include")]
        cmd += pkg_config("--cflags")
        if sanitize not in ("", "none"):
            cmd.append(f"-fsanitize={sanitize}")
        if kind == "program":
            with open(src, "w") as f:
                f.write(HEAD + rest + "\n" + code)
            cmd += [src, "-o", src[:-2], "-L", os.path.join(build_root, "src"), "-luvproc"]
            cmd += pkg_config("--libs")
        elif kind == "fragment":
            with open(src, "w") as f:
                f.write(fragment_source(rest, code))
            cmd += ["-c", src, "-o", src[:-2] + ".o"]
        else:
            raise AssertionError(f"unknown snippet kind {kind!r} (program, fragment, skip)")
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise AssertionError(f"does not compile ({' '.join(cmd[:1])}):\n"
                                 + r.stdout[-3000:])
    return run


with tempfile.TemporaryDirectory(prefix="uvproc-snippets-") as tmp:
    cases = []
    for path, line, kind, rest, code in snippets():
        name = f"{path}:{line}"
        cases.append((f"{name} ({kind or 'unmarked'})", compile_case(name, kind, rest, code, tmp)))
    status = taplib.run(cases)
sys.exit(status)
