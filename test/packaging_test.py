#!/usr/bin/env python3
"""uvproc as other projects consume it (TAP, test/taplib.py).

    packaging_test.py SOURCE_ROOT BUILD_ROOT [B_SANITIZE]

- cmake consumer: `meson install --destdir` of BUILD_ROOT into a temp dir, then a real CMake
  project (CMakeLists.txt + main.c) does find_package(uvproc VERSION CONFIG REQUIRED), links
  uvproc::uvproc, builds, and runs: it prints uvproc_version_string() and spawns /bin/true.
  Skipped (TAP SKIP) only when cmake is not installed (.ci/install-deps installs it).
- cmake version rule: the same install refuses find_package(uvproc 0.<other minor>) while the
  version is 0.x, and accepts the exact version.
- subproject: a meson project with uvproc in subprojects/ installs only its own files, and
  uvproc's too with -Duvproc:install_as_subproject=true.
Every temp dir is removed at the end."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import taplib

source_root, build_root = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
# The build's b_sanitize (a sanitized library needs the consumer built with the same runtime).
sanitize = sys.argv[3] if len(sys.argv) > 3 else "none"
tmp = tempfile.mkdtemp(prefix="uvproc-packaging-")
state = {}

CONSUMER_C = r"""#include <stdio.h>
#include <string.h>
#include <uvproc.h>

static int64_t closed_code = -1;

static void on_close(uvproc_process_t *p, int64_t code, int signal)
{
    (void)p;
    (void)signal;
    closed_code = code;
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uvproc_spawn_options_t opts = {.on_close = on_close};
    printf("uvproc %s\n", uvproc_version_string());
    if (uvproc_version() != UVPROC_VERSION_HEX)
        return 3;
    if (uvproc_spawn(loop, NULL, "/bin/true", NULL, &opts) != 0)
        return 4;
    uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_close(loop) != 0)
        return 5;
    printf("/bin/true closed with code %lld\n", (long long)closed_code);
    return closed_code == 0 ? 0 : 6;
}
"""

CONSUMER_CMAKE = """cmake_minimum_required(VERSION 3.16)
project(uvproc_consumer C)
find_package(uvproc {version} CONFIG REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE uvproc::uvproc)
"""


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=300, **kw)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout[-3000:]}")
    return r.stdout


def build_options():
    out = run(["meson", "introspect", "--buildoptions", build_root])
    return {o["name"]: o["value"] for o in json.loads(out)}


def project_version():
    out = run(["meson", "introspect", "--projectinfo", build_root])
    return json.loads(out)["version"]


def installed_prefix():
    """meson install --destdir once; the prefix inside it."""
    if "prefix" not in state:
        dest = os.path.join(tmp, "destdir")
        run(["meson", "install", "-C", build_root, "--no-rebuild", "--quiet", "--destdir", dest])
        state["prefix"] = dest + build_options()["prefix"]
    return state["prefix"]


def cmake_project(name, version):
    src = os.path.join(tmp, name)
    os.makedirs(src)
    with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
        f.write(CONSUMER_CMAKE.format(version=version))
    with open(os.path.join(src, "main.c"), "w") as f:
        f.write(CONSUMER_C)
    return src


def cmake_configure(src, prefix):
    bld = src + "-build"
    cmd = ["cmake", "-S", src, "-B", bld, f"-DCMAKE_PREFIX_PATH={prefix}"]
    if sanitize not in ("", "none"):
        cmd.append(f"-DCMAKE_C_FLAGS=-fsanitize={sanitize}")
    return subprocess.run(cmd,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300), bld


def need_cmake():
    if shutil.which("cmake") is None:
        raise taplib.Skip("cmake is not installed (.ci/install-deps installs it)")


def cmake_consumer():
    need_cmake()
    prefix = installed_prefix()
    version = project_version()
    config = os.path.join(prefix, build_options()["libdir"], "cmake", "uvproc",
                          "uvprocConfig.cmake")
    if not os.path.exists(config):
        raise AssertionError(f"{config} was not installed")
    src = cmake_project("consumer", version)
    r, bld = cmake_configure(src, prefix)
    if r.returncode != 0:
        raise AssertionError(f"cmake configure failed:\n{r.stdout[-3000:]}")
    run(["cmake", "--build", bld])
    # No LD_LIBRARY_PATH: CMake's build RPATH must point at the destdir's library.
    out = run([os.path.join(bld, "consumer")])
    if f"uvproc {version}" not in out or "closed with code 0" not in out:
        raise AssertionError(f"unexpected output:\n{out}")
    lib = run(["ldd", os.path.join(bld, "consumer")])
    if prefix not in lib:
        raise AssertionError(f"the consumer did not load the installed library:\n{lib}")


def cmake_version_rule():
    need_cmake()
    prefix = installed_prefix()
    major, minor, _ = project_version().split(".")
    other = f"{major}.{int(minor) + 1}" if major == "0" else f"{int(major) + 1}.0"
    r, _ = cmake_configure(cmake_project("consumer-other", other), prefix)
    if r.returncode == 0:
        raise AssertionError(f"find_package(uvproc {other}) accepted {project_version()}")
    if "uvprocConfigVersion.cmake" not in r.stdout and "version" not in r.stdout.lower():
        raise AssertionError(f"cmake failed for another reason:\n{r.stdout[-3000:]}")
    r, _ = cmake_configure(cmake_project("consumer-exact", project_version()), prefix)
    if r.returncode != 0:
        raise AssertionError(f"find_package(uvproc {project_version()}) failed:\n"
                             f"{r.stdout[-3000:]}")


def subproject_installs(options):
    top = os.path.join(tmp, "meson-consumer" + ("-install" if options else ""))
    os.makedirs(os.path.join(top, "subprojects"))
    os.symlink(source_root, os.path.join(top, "subprojects", "uvproc"))
    with open(os.path.join(top, "meson.build"), "w") as f:
        f.write("project('consumer', 'c')\n"
                "executable('consumer', 'main.c', dependencies : dependency('uvproc'),\n"
                "  install : true)\n")
    with open(os.path.join(top, "main.c"), "w") as f:
        f.write(CONSUMER_C)
    bld = os.path.join(top, "build")
    run(["meson", "setup", bld, top] + options, cwd=top)
    installed = json.loads(run(["meson", "introspect", "--installed", bld]))
    return sorted(os.path.basename(p) for p in installed.values())


def subproject_installs_nothing():
    names = subproject_installs([])
    if names != ["consumer"]:
        raise AssertionError(f"a subproject build installs more than the consumer: {names}")


def subproject_installs_when_asked():
    names = subproject_installs(["-Duvproc:install_as_subproject=true"])
    for want in ("consumer", "uvproc.h", "uvproc.pc", "uvprocConfig.cmake"):
        if want not in names:
            raise AssertionError(f"{want} not installed with install_as_subproject: {names}")


try:
    status = taplib.run([("cmake consumer builds and runs against meson install --destdir",
                          cmake_consumer),
                         ("cmake version file: same 0.minor only", cmake_version_rule),
                         ("as a meson subproject installs nothing", subproject_installs_nothing),
                         ("as a meson subproject installs when asked",
                          subproject_installs_when_asked)])
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(status)
