#!/bin/sh
# A stand-in for ssh in the pool-across-hosts tests: `fake_launcher.sh DIR HOST CMD...` runs
# CMD here, unless files in DIR say HOST is broken:
#   DIR/HOST.down      exists: exit 255 at once, as ssh does when the connection is refused,
#                      after writing the time (ns since the epoch) to DIR/HOST.exited
#   DIR/HOST.downonce  exists: remove it and exit 255 (one failure; the first caller wins)
#   DIR/HOST.slow      exists: wait 300 ms first (a slow connection, for ordering)
dir=$1 host=$2
shift 2
if [ -e "$dir/$host.down" ]; then
    date +%s%N >"$dir/$host.exited"
    exit 255
fi
rm "$dir/$host.downonce" 2>/dev/null && exit 255
[ -e "$dir/$host.slow" ] && sleep 0.3
exec "$@"
