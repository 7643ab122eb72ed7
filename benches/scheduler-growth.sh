#!/usr/bin/env bash
# How a run's cost grows with the pods waiting for the scheduler (issue 53): an Indexed Job of
# N completions, all created at once, on 3 nodes that run 9 at a time
# (benches/scenarios/indexed-job). Every pod end frees room, and kube-scheduler moves every
# pod its resources rejected out of the unschedulable pool (NodeResourcesFit's queueing hint
# for an assigned pod deleted) and, idle, tries each at once (SchedulerPopFromBackoffQ). So the
# failed attempts grow as N × the pod ends (N): the work is N² by nature, and what this bench
# watches is the cost per attempt, which falls as N grows since 2026-11-28: pods that fail
# together move through the queue as one group and fail at once (it grew with N before
# 2026-11-27: the queue was walked whole at every pass and every attempt ran the filters and
# formatted its message).
#
# Usage: benches/scheduler-growth.sh
#   COMPLETIONS="1000 3000 10000 30000"   the Job sizes
#   RUNS=3            runs of each (the best wall time is printed)
#   BASE_BIN=path     also run this kubesim binary (a build of an earlier commit), side by side
# Prints a Markdown table: per size, the run's simulated length, failed scheduling attempts,
# wall seconds, and microseconds per attempt (and the base binary's, from its own run).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${COMPLETIONS:-1000 3000 10000 30000}
runs=${RUNS:-3}
work=target/scheduler-growth
mkdir -p "$work"
cargo build --release -q
scenario=benches/scenarios/indexed-job/scenario.yaml

source benches/best-wall.sh

# run BINARY N → the best wall time of a Job of N completions
run() {
  best_wall "$1" run "$scenario" --out "$work/out" -q --no-plots --no-trace \
    --set "Job/render:spec.completions=$2" --set "Job/render:spec.parallelism=$2" \
    --set "duration=$(hours "$2")h"
}

# hours N → a run long enough for N pods of ~22 s, 9 at a time, with room to spare
hours() { python3 -c "import math; print(max(1, math.ceil($1 * 22 / 9 / 3600 * 1.3)))"; }

attempts() {
  python3 -c "import json; print(json.load(open('$work/out/report.json'))['deployments'][0]['unschedulable_attempts'])"
}

header="| completions | run | failed attempts | wall (s) | µs per attempt |"
rule="|---|---|---|---|---|"
[ -n "${BASE_BIN:-}" ] && header="$header base attempts | base wall (s) | base µs per attempt |" \
  && rule="$rule---|---|---|"
echo "$header"
echo "$rule"
for n in $sizes; do
  wall=$(run target/release/kubesim "$n")
  tries=$(attempts)
  per=$(python3 -c "print(f'{$wall / max($tries, 1) * 1e6:.2f}')")
  status=$(python3 -c "import json; print(json.load(open('$work/out/report.json'))['deployments'][0]['jobs'][0]['status'])")
  [ "$status" = Complete ] || echo "warning: the Job of $n did not complete ($status)" >&2
  row="| $n | $(hours "$n") h | $tries | $wall | $per |"
  if [ -n "${BASE_BIN:-}" ]; then
    base=$(run "$BASE_BIN" "$n")
    base_tries=$(attempts)
    row="$row $base_tries | $base | $(python3 -c "print(f'{$base / max($base_tries, 1) * 1e6:.2f}')") |"
  fi
  echo "$row"
done
