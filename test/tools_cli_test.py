#!/usr/bin/env python3
"""Every installed tool follows tools/common/cli.h, and has a man page (TAP, test/taplib.py).

    tools_cli_test.py BUILD_ROOT

The tools are the executables under BUILD_ROOT/tools/ that `meson introspect --installed`
lists (a tool that is built but not installed, as a test helper, is not checked); their man
pages are the installed files named TOOL.1. For each tool, four cases:

- `--help` exits 0 and prints the program's own name on stdout;
- `--version` exits 0 and prints the project's version on stdout;
- an unknown option exits 2, and stderr says so in one line naming the option (a second line
  that only points at --help, "Try 'TOOL --help' ...", is allowed);
- its man page renders with groff (or `man -l`) without a warning, and names the tool.

TODO below lists the cases of tools whose command line is not converted yet: they are
reported as TAP "not ok ... # TODO" (an expected failure, not a failure). A listed case that
passes is reported "ok ... # TODO", which meson counts as an unexpected pass: take it off the
list then."""
import json
import os
import shutil
import signal
import subprocess
import sys

import taplib

# (tool, case) pairs not done yet, case one of "help", "version", "unknown option", "man page";
# "*" for every case of a tool. Emptied as the tools are converted.
TODO = set()
UNKNOWN = "--no-such-option-xyzzy"

build_root = os.path.abspath(sys.argv[1])
tools_dir = os.path.join(build_root, "tools")


def installed():
    r = subprocess.run(["meson", "introspect", "--installed", build_root],
                       stdout=subprocess.PIPE, text=True, check=True, timeout=120)
    return json.loads(r.stdout)


def project_version():
    r = subprocess.run(["meson", "introspect", "--projectinfo", build_root],
                       stdout=subprocess.PIPE, text=True, check=True, timeout=120)
    return json.loads(r.stdout)["version"]


def run_tool(path, *args):
    """The tool with its stdin at /dev/null and no IPC channel; killed (its whole session)
    if it has not exited after 30 s, which fails the case."""
    env = {k: v for k, v in os.environ.items() if k != "NODE_CHANNEL_FD"}
    p = subprocess.Popen([path, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise AssertionError(f"{os.path.basename(path)} {' '.join(args)} still running after 30 s")
    return p.returncode, out, err


def check_help(path, name):
    code, out, err = run_tool(path, "--help")
    if code != 0:
        raise AssertionError(f"--help exited {code} (stderr: {err.strip()[:200]!r})")
    if name not in out:
        raise AssertionError(f"--help does not name the program {name!r}: {out[:200]!r}")


def check_version(path, name, version):
    code, out, err = run_tool(path, "--version")
    if code != 0:
        raise AssertionError(f"--version exited {code} (stderr: {err.strip()[:200]!r})")
    if version not in out:
        raise AssertionError(f"--version does not print {version}: {out[:200]!r}")


def check_unknown(path, name):
    code, out, err = run_tool(path, UNKNOWN)
    if code != 2:
        raise AssertionError(f"{UNKNOWN} exited {code}, not 2 (stderr: {err.strip()[:200]!r})")
    lines = [l for l in err.splitlines()
             if l.strip() and not (l.startswith("Try '") and "--help" in l)]
    if len(lines) != 1 or UNKNOWN not in lines[0]:
        raise AssertionError(f"stderr is not one line naming {UNKNOWN}: {err[:300]!r}")


def render(page):
    """(warnings, text) of the page, rendered as man(1) would."""
    if shutil.which("groff"):
        cmd = ["groff", "-man", "-Tutf8", "-ww", page]
    elif shutil.which("man"):
        cmd = ["man", "--warnings", "-l", page]
    else:
        raise taplib.Skip("neither groff nor man is installed (.ci/install-deps: groff-base)")
    env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=env, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr[:300]}")
    return r.stderr.strip(), r.stdout


def check_man(name, pages):
    page = pages.get(name)
    if page is None:
        raise AssertionError(f"no man page {name}.1 is installed (install_man in tools/meson.build)")
    warnings, text = render(page)
    if warnings:
        raise AssertionError(f"{page} renders with warnings:\n{warnings[:500]}")
    plain = text.replace("\u2010", "-").replace("\u2212", "-")
    if name not in plain:
        raise AssertionError(f"{page} does not name {name}")


def main():
    files = installed()
    tools = sorted({src for src in files if os.path.dirname(os.path.abspath(src)) == tools_dir})
    pages = {os.path.basename(dst)[:-2]: src for src, dst in files.items()
             if os.path.basename(os.path.dirname(dst)) == "man1" and dst.endswith(".1")}
    version = project_version()
    cases = []
    for path in tools:
        name = os.path.basename(path)
        cases += [
            (name, "help", lambda p=path, n=name: check_help(p, n)),
            (name, "version", lambda p=path, n=name: check_version(p, n, version)),
            (name, "unknown option", lambda p=path, n=name: check_unknown(p, n)),
            (name, "man page", lambda n=name: check_man(n, pages)),
        ]
    if not cases:
        print("1..0 # SKIP no tool is installed by this build")
        return 0
    failed = 0
    for n, (name, case, fn) in enumerate(cases, 1):
        todo = (name, case) in TODO or (name, "*") in TODO
        directive = " # TODO not converted to tools/common/cli.h yet" if todo else ""
        title = f"{name} {case}"
        try:
            fn()
        except taplib.Skip as e:
            print(f"ok {n} - {title} # SKIP {e}", flush=True)
        except Exception as e:  # noqa: BLE001 - every case reports its own failure
            failed += not todo
            print(f"not ok {n} - {title}{directive}", flush=True)
            taplib.comment(str(e) if isinstance(e, AssertionError) else f"{type(e).__name__}: {e}")
        else:
            print(f"ok {n} - {title}{directive}", flush=True)
    print(f"1..{len(cases)}", flush=True)
    return 1 if failed else 0


sys.exit(main())
