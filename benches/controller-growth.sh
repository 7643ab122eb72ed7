#!/usr/bin/env bash
# How a run's cost grows with what the controllers have done (issue 53): a CronJob every minute
# (benches/scenarios/cron-every-minute) over longer and longer runs. Each Job it ran stays in
# its history, and a sync must cost what is alive, not every Job ever started: the time per
# simulated day should stay flat as the runs double (it grew with the run's length before:
# 168 h 1.8 s, 336 h 7.6 s, 720 h 36 s).
#
# Usage: benches/controller-growth.sh
#   DURATIONS="24h 72h 168h 336h 720h"   the runs' lengths
#   RUNS=3            runs of each (the best wall time is printed)
#   BASE_BIN=path     also run this kubesim binary (a build of an earlier commit), side by side
# Prints a Markdown table: per length, Jobs started, wall seconds, seconds per simulated day.
set -euo pipefail
cd "$(dirname "$0")/.."
durations=${DURATIONS:-24h 72h 168h 336h 720h}
runs=${RUNS:-3}
work=target/controller-growth
mkdir -p "$work"
cargo build --release -q
scenario=benches/scenarios/cron-every-minute/scenario.yaml

source benches/best-wall.sh

# run BINARY DURATION → the best wall time of a run that long
run() {
  best_wall "$1" run "$scenario" --out "$work/out" -q --no-plots --no-trace --set "duration=$2"
}

hours() { python3 -c "s='$1'; print(float(s[:-1]) * {'h': 1, 'm': 1 / 60}[s[-1]])"; }

header="| run | Jobs started | wall (s) | s per simulated day |"
rule="|---|---|---|---|"
[ -n "${BASE_BIN:-}" ] && header="$header base wall (s) | base s per day |" && rule="$rule---|---|"
echo "$header"
echo "$rule"
for d in $durations; do
  wall=$(run target/release/kubesim "$d")
  jobs=$(python3 -c "import json; print(len(json.load(open('$work/out/report.json'))['deployments'][0]['jobs']))")
  days=$(python3 -c "print($(hours "$d") / 24)")
  row="| $d | $jobs | $wall | $(python3 -c "print(f'{$wall / $days:.3f}')") |"
  if [ -n "${BASE_BIN:-}" ]; then
    base=$(run "$BASE_BIN" "$d")
    row="$row $base | $(python3 -c "print(f'{$base / $days:.3f}')") |"
  fi
  echo "$row"
done
