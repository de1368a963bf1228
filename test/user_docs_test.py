#!/usr/bin/env python3
"""What users read stays true to the repository (TAP, test/taplib.py).

    user_docs_test.py SOURCE_ROOT

"What users read" is README.md, CHANGELOG.md, docs/ (pages and man pages), bench/README.md
and the comments of include/. Three cases:
- no word of the project's own history: "seed", "issue N", "(issue";
- every relative link of README.md, docs/*.md and bench/README.md reaches a file of the
  repository, and its #anchor a heading of that file (GitHub's slugs);
- every path written in backquotes that starts with a source folder (src/, include/, tools/,
  test/, demos/, docs/, bench/, cmake/, .ci/) and names a file (it has an extension) exists;
  a pattern (`demos/worker_*.c`) or a placeholder in capitals (`bench/NAME.c`) is not checked.
"""
import glob
import os
import re
import sys

import taplib

root = os.path.abspath(sys.argv[1])


def rel(path):
    return os.path.relpath(path, root)


def pages():
    found = [os.path.join(root, "README.md"), os.path.join(root, "bench", "README.md")]
    return found + sorted(glob.glob(os.path.join(root, "docs", "*.md")))


def read_by_users():
    found = pages() + [os.path.join(root, "CHANGELOG.md")]
    found += sorted(glob.glob(os.path.join(root, "docs", "man", "*")))
    found += sorted(glob.glob(os.path.join(root, "include", "**", "*.h"), recursive=True))
    return found


HISTORY = re.compile(r"\bseeds?\b|\bissue\s+#?[0-9]|\(issue", re.I)


def no_history_words():
    bad = []
    for path in read_by_users():
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            if HISTORY.search(line):
                bad.append(f"{rel(path)}:{n}: {line.strip()[:100]}")
    if bad:
        raise AssertionError("words of the project's history where users read:\n" +
                             "\n".join(bad))


def slug(heading):
    text = re.sub(r"[`*_]|\[|\]\([^)]*\)", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    seen, out = {}, set()
    in_code = False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            s = slug(line.lstrip("#"))
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
    return out


LINK = re.compile(r"\]\(([^)\s]+)\)")


def links_resolve():
    bad = []
    for path in pages():
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            for target in LINK.findall(line):
                if re.match(r"[a-z]+:", target):
                    continue  # https:, mailto:
                file_part, _, anchor = target.partition("#")
                dest = (os.path.normpath(os.path.join(os.path.dirname(path), file_part))
                        if file_part else path)
                if not os.path.exists(dest):
                    bad.append(f"{rel(path)}:{n}: {target}: no such file")
                elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                    bad.append(f"{rel(path)}:{n}: {target}: no such heading")
    if bad:
        raise AssertionError("broken links:\n" + "\n".join(bad))


PATH = re.compile(r"`((?:src|include|tools|test|demos|docs|bench|cmake|\.ci)/[\w./-]*\.\w+)`")


def paths_exist():
    bad = []
    for path in pages():
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            for p in PATH.findall(line):
                # A pattern (`*`) or a placeholder (`bench/NAME.c`) names no one file.
                if "*" in p or re.search(r"/[A-Z][A-Z_]+\.", p):
                    continue
                if not os.path.exists(os.path.join(root, p)):
                    bad.append(f"{rel(path)}:{n}: {p}")
    if bad:
        raise AssertionError("paths that do not exist:\n" + "\n".join(bad))


sys.exit(taplib.run([("no history words where users read", no_history_words),
                     ("relative links and anchors resolve", links_resolve),
                     ("backquoted repository paths exist", paths_exist)]))
