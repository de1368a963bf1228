#!/usr/bin/env bash
# Builds uvproc in release mode and runs the benchmarks, printing their markdown tables on
# stdout (progress goes to stderr). Every executable meson builds in bench/ is a benchmark.
#
#   bench/run.sh                       all benchmarks, their defaults (~2-3 min each)
#   bench/run.sh spawn                 only bench/spawn
#   bench/run.sh spawn -- -n 500 -r 3  arguments after -- go to every benchmark run
#   BUILD=build-rel bench/run.sh       another build directory (default: build-bench)
#
# Numbers are only comparable within one run (the variants of a table are interleaved); the
# machine should be otherwise idle.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build-bench}

names=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    names+=("$1")
    shift
done
[ "${1:-}" = "--" ] && shift

if [ -d "$build" ]; then
    meson configure "$build" -Dbuildtype=release >/dev/null
else
    meson setup "$build" -Dbuildtype=release -Dwerror=true >/dev/null
fi
if ! log=$(ninja -C "$build" 2>&1); then
    echo "$log" >&2
    exit 1
fi

if [ ${#names[@]} -eq 0 ]; then
    # The usual order first, then any other benchmark that exists.
    for f in spawn exec ipc; do
        [ -x "$build/bench/$f" ] && names+=("$f")
    done
    for f in "$build"/bench/*; do
        n=$(basename "$f")
        [ -f "$f" ] && [ -x "$f" ] || continue
        [ "$n" = raw_http_server ] && continue # a server bench/cluster starts (issue 8)
        [[ " ${names[*]} " == *" $n "* ]] || names+=("$n")
    done
fi

echo "uvproc benchmarks, $(git rev-parse --short HEAD 2>/dev/null || echo unknown) ($(date -u +%Y-%m-%dT%H:%MZ))"
for n in "${names[@]}"; do
    if [ ! -x "$build/bench/$n" ]; then
        echo "no such benchmark: $build/bench/$n" >&2
        exit 2
    fi
    echo
    echo "## $n"
    echo
    "$build/bench/$n" "$@"
done
