#!/usr/bin/env bash
# The cluster day (issue 18, P4): a generated production-sized cluster (benches/cluster_day.py)
# run by the release binary at several sizes, with wall time and peak RSS (GNU time), and — with
# a second binary — the ratio against it, the two runs alternating.
#
# Usage: benches/cluster-day.sh [NODES...]          default: 100 1000 5000
#   HOURS=24          simulated hours (default 24)
#   KARPENTER=1       the Karpenter variant (a NodePool instead of node groups and the autoscaler)
#   BASE_BIN=path     also run this kubesim binary (e.g. a build of the previous commit) and
#                     print the speed ratio and whether the outputs are byte-identical
#   THREADS=N         run the new binary with `run --threads N` (the node-major plane's threads;
#                     BASE_BIN runs without it)
#   BASE_ARGS=...     extra arguments for BASE_BIN's runs (BASE_BIN=target/release/kubesim
#                     BASE_ARGS=--exact-plane sets the exact plane beside the node-major one)
# Needs python3 and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(100 1000 5000)
hours=${HOURS:-24}
cargo build --release -q
new=target/release/kubesim
work=target/cluster-day
mkdir -p "$work"

# run BINARY SCENARIO OUT [FLAGS...] → "wall_seconds peak_kb"
run() {
  rm -rf "$3"
  /usr/bin/time -f "%e %M" -o "$3.time" "$1" run "$2" --out "$3" "${@:4}" >/dev/null 2>"$3.log" || {
    cat "$3.log" >&2
    exit 1
  }
  cat "$3.time"
}

field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

printf '%-6s %-5s %-10s %-9s %-11s %-11s %-12s %s\n' nodes hours wall_s peak_MB requests events "x realtime" "vs BASE_BIN"
for n in "${sizes[@]}"; do
  variant=()
  [ -n "${KARPENTER:-}" ] && variant=(--karpenter)
  dir="$work/$n-nodes-${hours}h${KARPENTER:+-karpenter}"
  python3 benches/cluster_day.py "$dir" --nodes "$n" --hours "$hours" "${variant[@]}"
  threads=()
  [ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")
  read -r wall kb < <(run "$new" "$dir/scenario.yaml" "$dir/out" "${threads[@]}")
  versus="-"
  if [ -n "${BASE_BIN:-}" ]; then
    read -r base_wall _ < <(run "$BASE_BIN" "$dir/scenario.yaml" "$dir/base-out" ${BASE_ARGS:-})
    same=$(diff -rq -x run.json -x scenario.resolved.yaml "$dir/out" "$dir/base-out" >/dev/null && echo identical || echo DIFFERENT)
    versus=$(python3 -c "print(f'{$base_wall / $wall:.2f}x faster ({$base_wall} s), outputs $same')")
  fi
  requests=$(field "$dir/out/run.json" requests)
  events=$(field "$dir/out/run.json" events)
  printf '%-6s %-5s %-10s %-9s %-11s %-11s %-12s %s\n' "$n" "$hours" "$wall" "$((kb / 1024))" \
    "$requests" "$events" "$(python3 -c "print(round($hours * 3600 / $wall))")" "$versus"
done
