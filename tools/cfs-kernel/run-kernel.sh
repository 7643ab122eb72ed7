#!/usr/bin/env bash
# Run the CFS-bandwidth cases against the real kernel.
#
#   tools/cfs-kernel/run-kernel.sh OUTDIR [CASE...]
#
# Builds cfsload with gcc in a scratch directory, writes the cases to
# OUTDIR/cases, runs each case REPEATS times (all cases once, then again, so
# that a passing disturbance does not hit all repeats of one case) into
# OUTDIR/results/<case>.r<N>.json, prints a line per run and pod, and at the end
# the median of the repeats per case (OUTDIR/runs.csv, OUTDIR/summary.csv).
#
# Repeat r of R starts (r - 0.5) / R of a period after a CFS period boundary of
# the case's first limited pod (cfsload --phase-frac), so the repeats sample
# the phase of the arrivals against the period grid evenly and reproducibly.
#
# Environment:
#   REPEATS=3        repeats per case
#   PHASE_US=        if set, start every run this many us after a boundary
#   PARENT_SHARES=262144  cpu.shares of a parent cgroup holding the pods (as
#                    kubepods), large so that other load on the host disturbs
#                    the pods little; 0 = pods directly under the root
#   GAPS=1           record each request's off-CPU intervals (cfsload --gaps)
#   BURN=syscall     how workers burn CPU (cfsload --burn syscall|vdso)
#   PIN_WORKERS=0    1 = pin each worker to a CPU of its own (cfsload
#                    --pin-workers): the wake-up placement control
#   MAX_OTHER=0.25   a run during which the rest of the host used more than
#                    this many cores on average is noisy: wait for the host to
#                    be idle and run it again, at most TRIES times in all
#   TRIES=1          (the least noisy attempt is kept)
#   IDLE_WAIT=10     seconds to wait, before each attempt, for one second in
#                    which the rest of the host uses less than 0.1 cores
#   CC=gcc
#
# Needs root (creates cgroups).  Exit status 77 when cgroups cannot be written.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
out=$1
shift
REPEATS=${REPEATS:-3}
PHASE_US=${PHASE_US:-}
PARENT_SHARES=${PARENT_SHARES:-262144}
GAPS=${GAPS:-1}
BURN=${BURN:-syscall}
PIN_WORKERS=${PIN_WORKERS:-0}
MAX_OTHER=${MAX_OTHER:-0.25}
TRIES=${TRIES:-1}
IDLE_WAIT=${IDLE_WAIT:-10}
CC=${CC:-gcc}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/cfs-kernel.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
"$CC" -std=c11 -O2 -Wall -Wextra -pthread -o "$scratch/cfsload" "$here/cfsload.c"

rc=0
why=$("$scratch/cfsload" --check 2>&1 >/dev/null) || rc=$?
if [ "$rc" -eq 77 ]; then
    echo "run-kernel.sh: skipped, no writable cpu cgroup here (${why#cfsload: })" >&2
    exit 77
elif [ "$rc" -ne 0 ]; then
    echo "$why" >&2
    exit "$rc"
fi

mkdir -p "$out/cases" "$out/results"
mapfile -t cases < <(python3 "$here/cases.py" --write "$out/cases" "$@")
{
    echo "kernel $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "sched_cfs_bandwidth_slice_us $(cat /proc/sys/kernel/sched_cfs_bandwidth_slice_us 2>/dev/null || echo ?)"
    echo "date $(date -u +%FT%TZ) repeats $REPEATS phase ${PHASE_US:-stratified} parent_shares $PARENT_SHARES burn $BURN pin_workers $PIN_WORKERS"
} | tee "$out/machine.txt"

# CPU use of the whole host over one second, in cores
host_cores() {
    local a b
    read -r -a a < <(head -1 /proc/stat)
    sleep 1
    read -r -a b < <(head -1 /proc/stat)
    awk -v d=$(( (b[1]+b[2]+b[3]+b[6]+b[7]) - (a[1]+a[2]+a[3]+a[6]+a[7]) )) -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.2f", d / hz }'
}

wait_idle() {
    local waited=0 c
    while :; do
        c=$(host_cores)
        if awk -v c="$c" 'BEGIN { exit !(c < 0.1) }'; then return 0; fi
        if [ "$waited" -ge "$IDLE_WAIT" ]; then
            echo "run-kernel.sh: the host is still busy ($c cores), going on" >&2
            return 0
        fi
        sleep 2
        waited=$((waited + 3))
    done
}

# the rest of the host's CPU use during a run, in cores (from its JSON)
other_cores() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.3f" % (d["host"]["other_busy_us"] / max(1, d["wall_us"])))' "$1"
}

for r in $(seq 1 "$REPEATS"); do
    for c in "${cases[@]}"; do
        mapfile -t args < <(python3 "$here/cases.py" --cfsload-args "$out/cases/$c")
        extra=()
        if [ -n "$PHASE_US" ]; then
            extra+=(--phase-us "$PHASE_US")
        else
            extra+=(--phase-frac "$(awk -v r="$r" -v n="$REPEATS" 'BEGIN { printf "%.4f", (r - 0.5) / n }')")
        fi
        [ "$PARENT_SHARES" != 0 ] && extra+=(--parent-shares "$PARENT_SHARES")
        [ "$GAPS" = 1 ] && extra+=(--gaps)
        extra+=(--burn "$BURN")
        [ "$PIN_WORKERS" = 1 ] && extra+=(--pin-workers)
        res="$out/results/$c.r$r.json"
        best=""
        for t in $(seq 1 "$TRIES"); do
            wait_idle
            rc=0
            "$scratch/cfsload" --out "$res.try" "${extra[@]}" "${args[@]}" || rc=$?
            if [ "$rc" -eq 77 ]; then
                echo "run-kernel.sh: skipped: cgroups cannot be written" >&2
                exit 77
            elif [ "$rc" -ne 0 ]; then
                echo "run-kernel.sh: cfsload failed on $c (exit $rc)" >&2
                exit "$rc"
            fi
            o=$(other_cores "$res.try")
            if [ -z "$best" ] || awk -v o="$o" -v b="$best" 'BEGIN { exit !(o < b) }'; then
                mv "$res.try" "$res"
                best=$o
            else
                rm -f "$res.try"
            fi
            if awk -v o="$best" -v m="$MAX_OTHER" 'BEGIN { exit !(o <= m) }'; then break; fi
            echo "run-kernel.sh: $c r$r attempt $t: the rest of the host used $o cores" >&2
        done
        python3 "$here/summarize.py" --line "$res"
    done
done

echo
echo "median of $REPEATS repeat(s):"
python3 "$here/summarize.py" "$out"
