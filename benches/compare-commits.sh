#!/usr/bin/env bash
# Side-by-side speed of two builds of kubesim on the same scenario, measured in one run:
# instructions executed (valgrind --tool=callgrind: repeatable on a noisy shared machine) and
# wall time over alternating runs (min of N each), then the requests/s ratio.
#
# Usage: benches/compare-commits.sh BASE_COMMIT [SCENARIO] [RUNS] [-- --set ...]
#   BASE_COMMIT  built in a temporary worktree (target dir target/compare-base)
#   SCENARIO     default scenarios/simpy-peer/scenario.yaml
#   RUNS         wall-time runs per build, alternating (default 6)
# The scenario is cut to 5 simulated minutes under callgrind (--set duration=5m).
# Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: benches/compare-commits.sh BASE_COMMIT [SCENARIO] [RUNS]}
scenario=${2:-scenarios/simpy-peer/scenario.yaml}
runs=${3:-6}
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
extra=("$@")

worktree=target/compare-base-src
old=${KUBESIM_BASE_BIN:-target/compare-base/release/kubesim}
if [ -z "${KUBESIM_BASE_BIN:-}" ]; then   # set it to reuse a build of BASE_COMMIT
  rm -rf "$worktree"
  git worktree prune
  git worktree add -f --detach "$worktree" "$base" >/dev/null
  CARGO_TARGET_DIR=$PWD/target/compare-base cargo build --release -q --manifest-path "$worktree/Cargo.toml"
fi
cargo build --release -q
new=target/release/kubesim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; git worktree remove --force "$worktree" >/dev/null 2>&1 || true; git worktree prune' EXIT

instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$1" run "$scenario" \
    --set duration=5m "${extra[@]}" --out "$tmp/cg-run" 2>&1 >/dev/null |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
  rm -rf "$tmp/cg-run"
}

i_old=$(instructions "$old")
i_new=$(instructions "$new")
# Wall time: the two builds alternate, best of RUNS each (perf_counter around the whole run).
read -r best_old best_new < <(python3 - "$old" "$new" "$runs" "$scenario" "$tmp" "${extra[@]}" <<'PY'
import subprocess, sys, time
old, new, runs, scenario, tmp, extra = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6:]
best = {old: 1e9, new: 1e9}
for _ in range(runs):
    for binary in (old, new):
        start = time.perf_counter()
        subprocess.run([binary, "run", scenario, *extra, "--out", f"{tmp}/run"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best[binary] = min(best[binary], time.perf_counter() - start)
        subprocess.run(["rm", "-rf", f"{tmp}/run"], check=True)
print(best[old], best[new])
PY
)
python3 - "$i_old" "$i_new" "$best_old" "$best_new" "$base" "$scenario" <<'PY'
import sys
i_old, i_new, w_old, w_new = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print(f"scenario {sys.argv[6]}")
print(f"instructions (5 simulated min): base {sys.argv[5][:10]} {i_old/1e6:10.1f} M   this tree {i_new/1e6:10.1f} M   {100*(i_new-i_old)/i_old:+.2f} %")
print(f"wall time (best of runs):       base {w_old:8.4f} s    this tree {w_new:8.4f} s    requests/s ratio {w_old/w_new:.3f}")
PY
