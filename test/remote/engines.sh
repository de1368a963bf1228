#!/usr/bin/env bash
# Real remote engines on loopback for the `remote` test suite: sshd on 127.0.0.1, .2 and .3
# (one port, keys made here, no passwords, listening on 127.0.0.0/8 only) and, on request, a
# one-node Slurm with its own munged. Everything lives in one temp dir and is stopped by pid.
#
#   engines.sh [--slurm] [--tap] -- COMMAND ARGS...   start, run COMMAND, stop; exit with its
#                                             status
#   engines.sh start [--slurm]                start, print `export ...` lines, leave running
#   engines.sh stop DIR                       stop what `start` left in DIR
#
# COMMAND sees:
#   UVPROC_SSH_CONFIG  an ssh_config for the three hosts: `ssh -F $UVPROC_SSH_CONFIG 127.0.0.2 cmd`
#   UVPROC_SSH_HOSTS   "127.0.0.1 127.0.0.2 127.0.0.3"
#   UVPROC_SSHD_PIDS   the listener pid of each host, in the same order
#   SLURM_CONF         (with --slurm) the cluster's slurm.conf, for srun/sinfo/scancel
# An engine that is not installed or cannot start is a failure with its log printed, or a skip
# (exit 77) when UVPROC_ENGINES_SKIP_OK=1 or when not running as root; with --tap (COMMAND
# prints TAP, which meson fails on exit 77) the skip is the plan "1..0 # SKIP ..." and exit 0.
# engines.sh's own messages go to stderr: COMMAND's stdout is the test's.
# Recipe and measurements: research/remote-engines.md.
set -uo pipefail

hosts="127.0.0.1 127.0.0.2 127.0.0.3"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

die() {
    echo "engines.sh: $*" >&2
    [ -n "${T:-}" ] && for f in "$T"/ssh/*.log "$T"/slurm/*.log "$T"/slurm/*.stderr \
        "$T"/munge/*.stderr; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
    done
    return 1
}

# Waits up to $2 tenths of a second for the command $1 to succeed.
wait_for() {
    local i=0
    until eval "$1" >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -ge "$2" ] && return 1
        sleep 0.1
    done
}

start_ssh() {
    local port i=0 user
    command -v /usr/sbin/sshd >/dev/null || { die "no /usr/sbin/sshd (openssh-server)"; return; }
    mkdir -p "$T/ssh" "$T/cm"
    ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/host_key" || return
    ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/client_key" || return
    cp "$T/ssh/client_key.pub" "$T/ssh/authorized_keys"
    # The remote command runs under the user's login shell, and Debian's bash sources
    # ~/.bashrc when sshd starts it, unless it is nested (SHLVL >= 2): SHLVL=1 from sshd makes
    # it so, and the tests do not depend on (or wait for) what the user's .bashrc does.
    # sshd running as root needs its compile-time privilege separation dir; it has no option
    # for another path. Left in place afterwards (an empty dir, shared with other runs).
    [ "$(id -u)" -eq 0 ] && mkdir -p -m 0755 /run/sshd
    user=$(id -un)
    for attempt in 1 2 3; do
        port=$(free_port)
        local pids="" ok=1
        for h in $hosts; do
            i=${h##*.}
            cat >"$T/ssh/sshd_$i.conf" <<EOF
ListenAddress $h
Port $port
HostKey $T/ssh/host_key
PidFile $T/ssh/sshd_$i.pid
AuthorizedKeysFile $T/ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 100
LogLevel INFO
SetEnv SHLVL=1
EOF
            /usr/sbin/sshd -D -e -f "$T/ssh/sshd_$i.conf" >"$T/ssh/sshd_$i.log" 2>&1 &
            echo $! >"$T/ssh/sshd_$i.bgpid"
            pids="$pids $!"
        done
        for h in $hosts; do
            i=${h##*.}
            wait_for "grep -q 'Server listening' '$T/ssh/sshd_$i.log'" 50 || ok=0
        done
        [ "$ok" -eq 1 ] && break
        # Another run took the port between free_port and bind: try another one.
        for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
        [ "$attempt" -eq 3 ] && { die "sshd did not start"; return 1; }
    done
    cat >"$T/ssh/config" <<EOF
Host *
    Port $port
    User $user
    IdentityFile $T/ssh/client_key
    IdentitiesOnly yes
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    BatchMode yes
    LogLevel ERROR
    ConnectTimeout 5
EOF
    export UVPROC_SSH_CONFIG="$T/ssh/config" UVPROC_SSH_HOSTS="$hosts"
    UVPROC_SSHD_PIDS=$(for h in $hosts; do cat "$T/ssh/sshd_${h##*.}.bgpid"; done | xargs)
    export UVPROC_SSHD_PIDS
    ssh -F "$UVPROC_SSH_CONFIG" 127.0.0.2 true || { die "ssh to 127.0.0.2 failed"; return 1; }
}

start_slurm() {
    local ctld_port slurmd_port
    for b in munged mungekey slurmctld slurmd srun sinfo; do
        command -v "$b" >/dev/null || { die "no $b (slurm-wlm, munge)"; return 1; }
    done
    mkdir -p "$T/munge" "$T/slurm/state" "$T/slurm/spool"
    # munged refuses a socket dir that others cannot traverse (mktemp makes 0700).
    chmod 711 "$T" "$T/munge"
    mungekey -c -k "$T/munge/munge.key" -b 1024 || { die "mungekey failed"; return 1; }
    munged -F --key-file="$T/munge/munge.key" --socket="$T/munge/munge.socket" \
        --pid-file="$T/munge/munged.pid" --seed-file="$T/munge/munged.seed" \
        >"$T/munge/munged.stderr" 2>&1 &
    echo $! >"$T/munge/munged.bgpid"
    wait_for "[ -S '$T/munge/munge.socket' ]" 50 || { die "munged did not start"; return 1; }
    ctld_port=$(free_port)
    slurmd_port=$(free_port)
    cat >"$T/slurm/slurm.conf" <<EOF
ClusterName=uvproctest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge/munge.socket
StateSaveLocation=$T/slurm/state
SlurmdSpoolDir=$T/slurm/spool
SlurmctldPidFile=$T/slurm/slurmctld.pid
SlurmdPidFile=$T/slurm/slurmd.pid
SlurmctldLogFile=$T/slurm/slurmctld.log
SlurmdLogFile=$T/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MailProg=/bin/true
SlurmdParameters=config_overrides
InactiveLimit=6
KillWait=2
MinJobAge=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=8 Sockets=1 CoresPerSocket=8 ThreadsPerCore=1 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    slurmctld -D -f "$T/slurm/slurm.conf" >"$T/slurm/slurmctld.stderr" 2>&1 &
    echo $! >"$T/slurm/slurmctld.bgpid"
    slurmd -D -N localhost -f "$T/slurm/slurm.conf" >"$T/slurm/slurmd.stderr" 2>&1 &
    echo $! >"$T/slurm/slurmd.bgpid"
    export SLURM_CONF="$T/slurm/slurm.conf"
    wait_for "sinfo -h -o %t | grep -qx idle" 150 || { die "slurm node not idle in 15 s"; return 1; }
}

# The pids under $1 (its children, theirs, ...), deepest last.
descendants() {
    local kids
    kids=$(ps -eo pid=,ppid= | awk -v p="$1" '$2 == p { print $1 }')
    for k in $kids; do
        echo "$k"
        descendants "$k"
    done
}

stop_pidfile() {
    local f=$1 p
    [ -f "$f" ] || return 0
    p=$(cat "$f")
    # An sshd listener's sessions outlive it: a test that failed half-way may have left some.
    for d in $(descendants "$p"); do kill "$d" 2>/dev/null; done
    kill "$p" 2>/dev/null
    # Our own background children: wait reaps them; otherwise poll until gone.
    wait "$p" 2>/dev/null || wait_for "! kill -0 $p" 50
    rm -f "$f"
}

stop_all() {
    [ -n "${T:-}" ] && [ -d "$T" ] || return 0
    if [ -f "$T/slurm/slurmctld.bgpid" ]; then
        SLURM_CONF="$T/slurm/slurm.conf" scancel --user="$(id -un)" 2>/dev/null
        SLURM_CONF="$T/slurm/slurm.conf" wait_for '[ -z "$(squeue -h 2>/dev/null)" ]' 50
    fi
    for f in "$T"/ssh/sshd_*.bgpid "$T"/slurm/slurmd.bgpid "$T"/slurm/slurmctld.bgpid \
        "$T"/munge/munged.bgpid; do
        stop_pidfile "$f"
    done
    rm -rf "$T"
}

case "${1:-}" in
stop)
    T=$2 stop_all
    exit 0
    ;;
start)
    shift
    T=$(mktemp -d /tmp/uvr.XXXXXX)
    start_ssh || { stop_all; exit 1; }
    [ "${1:-}" = "--slurm" ] && { start_slurm || { stop_all; exit 1; }; }
    echo "export UVPROC_ENGINES_DIR='$T' UVPROC_SSH_CONFIG='$UVPROC_SSH_CONFIG'" \
        "UVPROC_SSH_HOSTS='$UVPROC_SSH_HOSTS' UVPROC_SSHD_PIDS='$UVPROC_SSHD_PIDS'" \
        "${SLURM_CONF:+SLURM_CONF='$SLURM_CONF'}"
    exit 0
    ;;
esac

slurm=0 tap=0
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    case "$1" in
    --slurm) slurm=1 ;;
    --tap) tap=1 ;;
    *) echo "usage: engines.sh [--slurm] [--tap] -- COMMAND..." >&2; exit 2 ;;
    esac
    shift
done
shift
[ $# -gt 0 ] || { echo "usage: engines.sh [--slurm] [--tap] -- COMMAND..." >&2; exit 2; }

# A short dir: ssh ControlPath sockets (%C is 40 characters) must stay under ~107 bytes.
T=$(mktemp -d /tmp/uvr.XXXXXX)
trap stop_all EXIT
trap 'exit 130' INT TERM
# Without root, sshd only logs in the user running it, and not at all if its account is locked
# (UsePAM no): an engine that cannot start is then a skip, not a failure.
skipped() {
    [ "$tap" -eq 1 ] && { echo "1..0 # SKIP $1"; exit 0; }
    exit 77
}
skip() {
    [ "${UVPROC_ENGINES_SKIP_OK:-0}" = 1 ] || [ "$(id -u)" -ne 0 ] &&
        skipped "remote engines did not start"
    exit 1
}
start_ssh || skip
if [ "$slurm" -eq 1 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        # slurmd must run as root to start tasks as their user; without root there is no
        # cluster to test against.
        echo "engines.sh: Slurm needs root here (slurmd); skipped" >&2
        skipped "Slurm needs root (slurmd)"
    fi
    start_slurm || skip
fi
export UVPROC_ENGINES_DIR="$T"
"$@"
