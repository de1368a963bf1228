"""The public header as users compile it: C11 and C++ (each compiler found), -Wpedantic
-Werror, including the spawn options' anonymous events member (C11; an extension in C++).

    public_header_test.py INCLUDE_DIR"""
import os
import shutil
import subprocess
import sys
import tempfile

import taplib

C_USE = r"""
#include <stddef.h>
#include <uvproc.h>
_Static_assert(offsetof(uvproc_spawn_options_t, on_close) ==
               offsetof(uvproc_spawn_options_t, events) +
                   offsetof(uvproc_process_events_t, on_close), "one layout");
static void on_exit_cb(uvproc_process_t *p, int64_t code, int signal) {}
int main(void)
{
    uvproc_spawn_options_t o = {.on_exit = on_exit_cb, .data = NULL};
    uvproc_process_events_t ev = o.events;
    o.events = ev;
    return o.events.on_exit == on_exit_cb ? 0 : 1;
}
"""
CXX_USE = r"""
#include <uvproc.h>
static void on_exit_cb(uvproc_process_t *, int64_t, int) {}
int main()
{
    uvproc_spawn_options_t o = {};
    o.on_exit = on_exit_cb;
    uvproc_process_events_t ev = o.events;
    return ev.on_exit == on_exit_cb ? 0 : 1;
}
"""


def compile_case(compiler, std, source, suffix, inc):
    def case():
        cc = shutil.which(compiler)
        if cc is None:
            raise taplib.Skip(f"{compiler} not installed")
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "use" + suffix)
            with open(src, "w") as f:
                f.write(source)
            cmd = [cc, f"-std={std}", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Wpedantic",
                   "-Werror", "-Wno-unused-parameter", "-I", inc, "-fsyntax-only", src]
            r = subprocess.run(cmd, capture_output=True, text=True)
            assert r.returncode == 0, " ".join(cmd) + "\n" + r.stderr
    return case


def main():
    inc = sys.argv[1]
    return taplib.run([
        (f"{cc} -std={std} -Wpedantic", compile_case(cc, std, src, suf, inc))
        for cc, std, src, suf in [("gcc", "c11", C_USE, ".c"), ("clang", "c11", C_USE, ".c"),
                                  ("g++", "c++17", CXX_USE, ".cc"),
                                  ("clang++", "c++17", CXX_USE, ".cc")]
    ])


if __name__ == "__main__":
    sys.exit(main())
