#!/usr/bin/env python3
"""pool-run against GNU parallel itself: the same command lines run through both, comparing
stdout (exact with -k or -j1, sorted lines otherwise), the exit status, and the job log's
columns other than the times (Seq, Host, Send, Receive, Exitval, Signal, Command).

usage: pool_run_parallel_test.py POOL_RUN

Both run with PARALLEL_SHELL=/bin/sh (parallel otherwise picks the shell it was started from)
and a HOME of their own in a temp dir holding .parallel/will-cite (parallel's citation notice).
Every case is skipped when parallel is not installed (.ci/install-deps installs it). The cases
that differ on purpose are in docs/pool.md ("Differences kept on purpose"), tested in
pool_run_test.py."""
import os
import shutil
import subprocess
import sys
import tempfile

import taplib

POOL_RUN = os.path.abspath(sys.argv[1])
PARALLEL = shutil.which("parallel")
WORK = tempfile.mkdtemp(prefix="pool-run-diff-")
os.makedirs(os.path.join(WORK, "home", ".parallel"))
open(os.path.join(WORK, "home", ".parallel", "will-cite"), "w").close()
ENV = {k: v for k, v in os.environ.items() if not k.startswith("PARALLEL")}
ENV.update(HOME=os.path.join(WORK, "home"), PARALLEL_SHELL="/bin/sh", LC_ALL="C")

FILES = {
    "f1": b"a\nb c\n",
    "f2": b"1\n2\n3\n",
    "paths": b"dir/file.tar.gz\n/abs/p.q\nnoext\n.hidden\ndir/\nx y/z w.e\n",
    "noeol": b"first\nlast-without-newline",
    "empty": b"",
}
for name, data in FILES.items():
    with open(os.path.join(WORK, name), "wb") as f:
        f.write(data)

NASTY = ["a b", "it's", "x''y", "$HOME", "`echo hi`", "$(echo hi)", "-n", "-e", ";", "|",
         "&&", "*", "\\", 'a"b', "tab\there", "é", "{}", "~", "a=b", ""]


def run(tool, args, stdin=b"", joblog=None):
    argv = [tool] + [joblog if a == "JOBLOG" else "+" + joblog if a == "+JOBLOG" else a
                     for a in args]
    return subprocess.run(argv, input=stdin, capture_output=True, cwd=WORK, env=ENV,
                          timeout=120)


def log_rows(path):
    """The job log's rows, times left out, by Seq; header checked."""
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    if lines[0] != b"Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand":
        raise AssertionError(f"job log header: {lines[0]!r}")
    rows = []
    for line in lines[1:]:
        if not line:
            continue
        cols = line.split(b"\t")
        if len(cols) < 9:
            raise AssertionError(f"job log row: {line!r}")
        float(cols[2]), float(cols[3])
        rows.append([cols[0], cols[1]] + cols[4:8] + [b"\t".join(cols[8:])])
    return sorted(rows, key=lambda r: int(r[0]))


def diff_case(args, stdin=b"", order="sorted", joblog=False, before=None):
    """before: a command line both tools run first (same job log), e.g. for --resume."""
    def one(tool, tag):
        path = os.path.join(WORK, f"log.{tag}")
        if os.path.exists(path):
            os.unlink(path)
        if before is not None:
            run(tool, before, joblog=path)
        r = run(tool, args, stdin, joblog=path)
        return r, (log_rows(path) if joblog else None)

    if PARALLEL is None:
        raise taplib.Skip("GNU parallel is not installed")
    (want, want_log), (got, got_log) = one(PARALLEL, "parallel"), one(POOL_RUN, "pool-run")
    if order == "exact":
        same = want.stdout == got.stdout
    else:
        same = sorted(want.stdout.split(b"\n")) == sorted(got.stdout.split(b"\n"))
    if not same:
        raise AssertionError(f"stdout: parallel {want.stdout!r}\npool-run {got.stdout!r}\n"
                             f"pool-run stderr {got.stderr!r}")
    if want.returncode != got.returncode:
        raise AssertionError(f"exit: parallel {want.returncode}, pool-run {got.returncode}\n"
                             f"parallel stderr {want.stderr!r}\npool-run stderr {got.stderr!r}")
    if want_log != got_log:
        raise AssertionError(f"job log: parallel {want_log}\npool-run {got_log}")


K = ["-k"]
CASES = [
    # sources
    ("one_source", [ "echo", ":::", "a", "b", "c"], {}),
    ("cartesian", K + ["echo", ":::", "a", "b", ":::", "1", "2"], {"order": "exact"}),
    ("cartesian_three", K + ["echo", ":::", "a", "b", ":::", "1", "2", ":::", "x", "y"],
     {"order": "exact"}),
    ("linked_shortest", K + ["echo", ":::", "a", "b", ":::+", "1", "2", "3"], {"order": "exact"}),
    ("link_wraps", K + ["--link", "echo", ":::", "a", "b", "c", ":::", "1", "2"],
     {"order": "exact"}),
    ("file_source", K + ["echo", "::::", "f1"], {"order": "exact"}),
    ("file_linked", K + ["echo", "::::", "f1", "::::+", "f2"], {"order": "exact"}),
    ("file_and_args", K + ["echo", "::::", "f1", ":::", "x", "y"], {"order": "exact"}),
    ("arg_file", K + ["-a", "f2", "echo"], {"order": "exact"}),
    ("two_arg_files", K + ["-a", "f1", "-a", "f2", "echo"], {"order": "exact"}),
    ("stdin", K + ["echo", "in:{}"], {"stdin": b"x\ny z\n", "order": "exact"}),
    ("stdin_no_newline", K + ["echo"], {"stdin": b"a\nb", "order": "exact"}),
    ("file_no_newline", K + ["echo", "::::", "noeol"], {"order": "exact"}),
    ("empty_file", ["echo", "::::", "empty"], {}),
    ("no_values", ["echo", ":::"], {}),
    ("empty_value", K + ["echo", "[{}]", ":::", "", "x"], {"order": "exact"}),
    ("null_stdin", K + ["-0", "printf", "[%s]\\n"], {"stdin": b"a\nb\0c d\0", "order": "exact"}),
    ("delimiter", K + ["-d", ",", "echo"], {"stdin": b"a,b b,c", "order": "exact"}),
    ("inputs_are_commands", K + [":::", "echo a", "echo b; echo c"], {"order": "exact"}),
    ("n0", K + ["-N0", "echo", "foo", "{#}", ":::", "a", "b"], {"order": "exact"}),
    ("n0_tag", K + ["-N0", "--tag", "echo", "foo", ":::", "a", "b"], {"order": "exact"}),
    ("newline_in_value", K + ["echo", ":::", "a\nb", "c"], {"order": "exact"}),
    # replacement strings
    ("every_brace", K + ["echo", "x{}y{}", "{}", ":::", "a", "b c"], {"order": "exact"}),
    ("path_strings", K + ["echo", "{}", "{.}", "{/}", "{//}", "{/.}", "::::", "paths"],
     {"order": "exact"}),
    ("seq_slot", K + ["-j1", "echo", "{#}", "{%}", "{}", ":::", "a", "b", "c"],
     {"order": "exact"}),
    ("positional", K + ["echo", "{1}", "{2}", "{1.}", "{2/}", "{2//}", "{1/.}", ":::", "a.x",
                        "b.y", ":::", "d/e.f"], {"order": "exact"}),
    ("positional_negative", K + ["echo", "{-1}", "{-2}", ":::", "a", ":::", "b"],
     {"order": "exact"}),
    ("positional_past_end", K + ["echo", "{3}", "x{1}y", ":::", "a"], {"order": "exact"}),
    ("all_args_brace", K + ["echo", "{}", ":::", "a", ":::", "b c"], {"order": "exact"}),
    ("unknown_braces_kept", K + ["echo", "{foo}", "{1x}", "{", "}", ":::", "a"],
     {"order": "exact"}),
    # quoting
    ("quoting_printf", K + ["printf", "[%s]\\n", ":::"] + NASTY, {"order": "exact"}),
    ("quoting_in_word", K + ["echo", "pre{}post", ":::"] + NASTY[:8], {"order": "exact"}),
    ("quoting_joblog", K + ["--joblog", "JOBLOG", "printf", "%s\\n", ":::"] + NASTY,
     {"order": "exact", "joblog": True}),
    ("joblog_newline", K + ["-0", "--joblog", "JOBLOG", "echo"],
     {"stdin": b"a\nb\0c\0", "order": "exact", "joblog": True}),
    ("non_utf8", K + ["printf", "[%s]\\n", ":::", b"\xff\xfe", b"a\xc3(b"],
     {"order": "exact"}),
    ("non_utf8_bytes", K + ["printf", "[%s]\\n"], {"stdin": b"\xff\xfe\n\xc3(\n",
                                                     "order": "exact"}),
    ("leading_dash", K + ["printf", "<%s>", ":::", "-n", "--help", "-"], {"order": "exact"}),
    ("quote_q", K + ["-q", "printf", "%s|\\n", "a {} b", ":::", "x y", "$z"],
     {"order": "exact"}),
    ("dry_run", K + ["--dry-run", "echo", "{}", "{.}", ":::", "a b.c", "it's", "$x", "-n"],
     {"order": "exact"}),
    ("dry_run_tag", K + ["--dry-run", "--tag", "echo", ":::", "a", "b"], {"order": "exact"}),
    # output
    ("tag", K + ["--tag", "echo", ":::", "a", "b", ":::", "1", "2"], {"order": "exact"}),
    ("tag_multiline", K + ["--tag", "printf", "x\\ny", ":::", "a"], {"order": "exact"}),
    ("tagstring", K + ["--tagstring", "<{1}:{#}>", "echo", "{2}", ":::", "a", "b", ":::", "1"],
     {"order": "exact"}),
    ("keep_order", K + ["-j3", "sleep 0.{}; echo {}", ":::", "3", "1", "2"],
     {"order": "exact"}),
    # options as getopt_long reads them
    ("long_equals", K + ["--jobs=2", "echo", ":::", "a", "b"], {"order": "exact"}),
    ("double_dash", K + ["--", "echo", ":::", "a"], {"order": "exact"}),
    ("jobs_percent", K + ["-j", "50%", "echo", ":::", "1", "2", "3"], {"order": "exact"}),
    ("jobs_plus", K + ["-j", "+1", "echo", ":::", "1", "2", "3"], {"order": "exact"}),
    ("jobs_minus", K + ["-j", "-1", "echo", ":::", "1", "2", "3"], {"order": "exact"}),
    ("jobs_zero", K + ["-j", "0", "echo", ":::", "1", "2", "3"], {"order": "exact"}),
    # exit status and job log
    ("exit_counts", ["--joblog", "JOBLOG", "exit {}", ":::", "0", "3", "0", "4"],
     {"joblog": True}),
    ("exit_capped", ["exit 1", "::::", "-"], {"stdin": b"".join(b"%d\n" % i
                                                                 for i in range(105))}),
    ("signal_in_log", ["--joblog", "JOBLOG", "kill -9 $$", ":::", "1"], {"joblog": True}),
    ("missing_program", ["--joblog", "JOBLOG", "nosuchprog-uvproc", ":::", "1"],
     {"joblog": True}),
    ("timeout", ["--joblog", "JOBLOG", "--timeout", "1", "sleep", ":::", "30", "0.1"],
     {"joblog": True}),
    ("retries", ["--joblog", "JOBLOG", "--retries", "2", "echo x; exit 1", ":::", "a"],
     {"joblog": True}),
    # --halt
    ("halt_now_fail", ["-j1", "--joblog", "JOBLOG", "--halt", "now,fail=1", "echo {}; exit {}",
                       ":::", "0", "3", "0"], {"order": "exact", "joblog": True}),
    ("halt_soon_fail2", ["-j1", "--halt", "soon,fail=2", "echo {}; exit {}", ":::", "0", "3",
                         "4", "5", "0"], {"order": "exact"}),
    ("halt_now_success", ["-j1", "--halt", "now,success=1", "echo {}; exit {}", ":::", "3", "0",
                          "4"], {"order": "exact"}),
    ("halt_fail_pct", ["-j1", "--joblog", "JOBLOG", "--halt", "soon,fail=50%", "exit {}", ":::",
                       "0", "3", "4", "5", "0", "0"], {"joblog": True}),
    ("halt_done", ["-j1", "--halt", "now,done=2", "echo {}; exit {}", ":::", "0", "3", "4",
                   "5"], {"order": "exact"}),
    ("halt_alias_2", ["-j1", "--halt", "2", "echo {}; exit {}", ":::", "0", "7", "0"],
     {"order": "exact"}),
    ("halt_signal_status", ["-j1", "--halt", "now,fail=1", "kill -9 $$", ":::", "1"], {}),
    # --resume
    ("resume", K + ["--resume", "--joblog", "JOBLOG", "echo {}; exit {}", ":::", "0", "1", "0",
                    "2"], {"order": "exact", "joblog": True,
                           "before": ["-j1", "--joblog", "JOBLOG", "exit {}", ":::", "0", "1",
                                      "0"]}),
    ("resume_failed", K + ["--resume-failed", "--joblog", "JOBLOG", "echo {}; exit {}", ":::",
                           "0", "1", "0", "2"],
     {"order": "exact", "joblog": True,
      "before": ["-j1", "--joblog", "JOBLOG", "exit {}", ":::", "0", "1", "0"]}),
    ("resume_no_log", K + ["--resume", "--joblog", "JOBLOG", "echo", ":::", "a", "b"],
     {"order": "exact", "joblog": True}),
    ("joblog_append", ["--joblog", "+JOBLOG", "echo", ":::", "b"], {"order": "exact"}),
    ("sshlogin_local", K + ["-S", ":", "echo", ":::", "a", "b"], {"order": "exact"}),
    ("sshlogin_slots", K + ["-S", "2/:", "echo", "{%}", ":::", "a"], {"order": "exact"}),
]


def make(args, kw):
    return lambda: diff_case(args, **kw)


if __name__ == "__main__":
    try:
        status = taplib.run([(name, make(args, kw)) for name, args, kw in CASES])
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(status)
