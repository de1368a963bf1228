"""The layering rule of src/, checked on the sources and on the built objects.

    layering_test.py SOURCE_ROOT LIBUVPROC_A

Dependencies run one way: common <- launcher <- process <- ipc <- {pool, cluster};
common <- threads. launcher, process and ipc are one chain: each may include the private
headers of every folder below it. pool, cluster and threads sit on PUBLIC calls: they may include
only common/ and their own folder's private headers (the channel's internal-message hook,
on_internal, is public). A header is "of a folder" when it lives in src/<folder>/.

The same rule on the linked code: an object of src/<folder>/ must not use (as an undefined
symbol) a uvproc__<other>_ name of a folder it may not reach. That catches a call made through
a local prototype, which the include check cannot see.

Demos are what a newcomer copies: they include <uvproc.h> and system headers, nothing else."""
import os
import re
import subprocess
import sys
import tempfile

import taplib

FOLDERS = ["common", "launcher", "process", "ipc", "pool", "cluster", "threads"]
ALLOWED = {
    "common": {"common"},
    "launcher": {"common", "launcher"},
    "process": {"common", "launcher", "process"},
    "ipc": {"common", "launcher", "process", "ipc"},
    "pool": {"common", "pool"},
    "cluster": {"common", "cluster"},
    "threads": {"common", "threads"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def private_headers(src):
    """basename -> folder, for every header in src/<folder>/."""
    owner = {}
    for folder in FOLDERS:
        for name in os.listdir(os.path.join(src, folder)):
            if name.endswith(".h"):
                owner[name] = folder
    return owner


def include_violations(src):
    owner = private_headers(src)
    bad = []
    for folder in FOLDERS:
        for name in sorted(os.listdir(os.path.join(src, folder))):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(src, folder, name)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for m in INCLUDE.finditer(text):
                if m.group(1) != '"':
                    continue
                inc = m.group(2)
                line = text.count("\n", 0, m.start()) + 1
                if "/" in inc:
                    target, base = inc.split("/", 1)
                    if target not in FOLDERS or owner.get(base) != target:
                        if inc.startswith("uvproc"):
                            continue
                        bad.append(f"src/{folder}/{name}:{line}: {inc}: not a header of src/")
                        continue
                    if target == folder:
                        bad.append(f"src/{folder}/{name}:{line}: {inc}: same-folder includes "
                                   "are written bare")
                else:
                    if inc == "uvproc.h":
                        continue
                    if owner.get(inc) != folder:
                        bad.append(f"src/{folder}/{name}:{line}: {inc}: not in src/{folder}/ "
                                   "(cross-folder includes are written \"folder/file.h\")")
                        continue
                    target = folder
                if target not in ALLOWED[folder]:
                    bad.append(f"src/{folder}/{name}:{line}: includes {inc}: {folder} may not "
                               f"reach {target}")
    return bad


def symbol_violations(lib):
    out = subprocess.run(["nm", "-A", "-u", lib], capture_output=True, text=True, check=True)
    return undefined_violations(out.stdout)


def undefined_violations(nm_output):
    bad = set()
    sym = re.compile(r"^uvproc__(" + "|".join(FOLDERS) + r")_")
    for line in nm_output.splitlines():
        # "path/libuvproc.a:pool_pool.c.o:                 U uvproc__process_foo"
        fields = line.split()
        if len(fields) < 2 or fields[-2] != "U":
            continue
        obj = fields[0].rstrip(":").split(":")[-1]
        folder = obj.split("_", 1)[0]
        m = sym.match(fields[-1])
        if folder not in ALLOWED or m is None:
            continue
        if m.group(1) not in ALLOWED[folder]:
            bad.add(f"{obj}: uses {fields[-1]}: {folder} may not reach {m.group(1)}")
    return sorted(bad)


def demo_violations(demos, src):
    owner = private_headers(src)
    bad = []
    for name in sorted(os.listdir(demos)):
        if not name.endswith(".c"):
            continue
        with open(os.path.join(demos, name), encoding="utf-8") as f:
            text = f.read()
        for m in INCLUDE.finditer(text):
            inc = m.group(2)
            if m.group(1) == '"' or inc.startswith("uvproc/") or inc in owner:
                bad.append(f"demos/{name}: #include {m.group(1)}{inc}: a demo includes only "
                           "<uvproc.h> and system headers")
    return bad


def main():
    root, lib = sys.argv[1], sys.argv[2]
    src = os.path.join(root, "src")

    def check(found):
        def case():
            bad = found()
            assert not bad, "\n".join(bad)
        return case

    def checker_finds_planted_violations():
        # The checker itself, on a tree and an nm listing made to break the rule.
        with tempfile.TemporaryDirectory() as tmp:
            for folder in FOLDERS:
                os.mkdir(os.path.join(tmp, folder))
                with open(os.path.join(tmp, folder, folder + ".h"), "w") as f:
                    f.write("#include \"uvproc.h\"\n")
            with open(os.path.join(tmp, "pool", "p.c"), "w") as f:
                f.write('#include "pool.h"\n#include "common/common.h"\n'
                        '#include "launcher/launcher.h"\n')
            with open(os.path.join(tmp, "ipc", "i.c"), "w") as f:
                f.write('#include "process/process.h"\n#include "pool/pool.h"\n')
            bad = include_violations(tmp)
            assert len(bad) == 2 and any("p.c:3" in b for b in bad) and \
                any("i.c:2" in b for b in bad), bad
        listing = ("lib.a:cluster_c.c.o:  U uvproc__launcher_posix_available\n"
                   "lib.a:cluster_c.c.o:  U uvproc__common_memdup0\n"
                   "lib.a:ipc_fork.c.o:  U uvproc__process_start\n"
                   "lib.a:threads_w.c.o:  U uvproc__process_x\n")
        bad = undefined_violations(listing)
        assert len(bad) == 2 and "launcher" in bad[0] and "threads_w" in bad[1], bad

    def library_objects_are_named_by_folder():
        out = subprocess.run(["ar", "t", lib], capture_output=True, text=True, check=True)
        names = out.stdout.split()
        folders = {n.split("_", 1)[0] for n in names}
        assert folders == set(FOLDERS), f"objects not named <folder>_<file>.c.o: {names}"

    return taplib.run([
        ("the checker finds planted violations", checker_finds_planted_violations),
        ("libuvproc.a's objects are named by folder", library_objects_are_named_by_folder),
        ("src/ includes reach only allowed folders", check(lambda: include_violations(src))),
        ("pool, cluster and threads objects use no launcher/process/ipc internal symbol",
         check(lambda: symbol_violations(lib))),
        ("demos include only <uvproc.h>",
         check(lambda: demo_violations(os.path.join(root, "demos"), src))),
    ])


if __name__ == "__main__":
    sys.exit(main())
