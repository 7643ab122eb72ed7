#!/usr/bin/env bash
# The long trace (issue 18, P2): the SimPy peer's model (scenarios/simpy-peer) over 24 h of a
# diurnal rate, 100 → 1 000 → 100 req/s (a cosine in 5-minute steps, about 47.5 M requests),
# run by the release binary with wall time and peak RSS (GNU time).
#
# Usage: benches/long-trace.sh
#   RUNS=3            runs of each binary, alternating (the best wall time is printed)
#   BASE_BIN=path     also run this kubesim binary (e.g. a build of the previous commit) and
#                     print the ratio and whether the reports are identical
#   PEER=1            also run the SimPy model on the same rates (about 7 minutes; needs python3
#                     with venv + pip, as benches/compare-simpy.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
work=target/long-trace
mkdir -p "$work"
cargo build --release -q
new=target/release/kubesim

python3 - "$work/rates.csv" <<'PY'
import math, sys
rows = ["t_seconds,rate"]
for step in range(24 * 12 + 1):
    t = step * 300
    rows.append(f"{t},{550 - 450 * math.cos(2 * math.pi * t / 86400):.3f}")
open(sys.argv[1], "w").write("\n".join(rows) + "\n")
PY
cp scenarios/simpy-peer/app.yaml "$work/app.yaml"
sed -e 's/^  duration: 1h$/  duration: 24h/' \
  -e 's/^        constant: {rate: 1000}$/        rateSeries: {file: rates.csv}/' \
  -e 's/^  name: simpy-peer$/  name: simpy-peer-24h/' \
  scenarios/simpy-peer/scenario.yaml >"$work/scenario.yaml"
grep -q 'rateSeries' "$work/scenario.yaml" || {
  echo "long-trace: could not derive the scenario from scenarios/simpy-peer" >&2
  exit 1
}

# run BINARY OUT → "wall_seconds peak_kb"
run() {
  rm -rf "$2"
  /usr/bin/time -f "%e %M" -o "$2.time" "$1" run "$work/scenario.yaml" --out "$2" -q \
    --no-plots --no-trace >/dev/null 2>"$2.log" || {
    cat "$2.log" >&2
    exit 1
  }
  cat "$2.time"
}

best() { sort -n | head -1; }
new_walls=() base_walls=() kb=0
for _ in $(seq "$runs"); do
  read -r wall kb < <(run "$new" "$work/out")
  new_walls+=("$wall")
  if [ -n "${BASE_BIN:-}" ]; then
    read -r wall _ < <(run "$BASE_BIN" "$work/base-out")
    base_walls+=("$wall")
  fi
done
new_best=$(printf '%s\n' "${new_walls[@]}" | best)
requests=$(python3 -c "import json; print(json.load(open('$work/out/report.json'))['totals']['requests'])")
echo "kubesim: best of ${runs}: ${new_best} s (runs: ${new_walls[*]}), peak $((kb / 1024)) MB, ${requests} requests"
if [ -n "${BASE_BIN:-}" ]; then
  base_best=$(printf '%s\n' "${base_walls[@]}" | best)
  same=$(cmp -s "$work/out/report.json" "$work/base-out/report.json" && echo identical || echo DIFFERENT)
  python3 -c "print(f'BASE_BIN: best of ${runs}: ${base_best} s (runs: ${base_walls[*]}); new is {${base_best} / ${new_best}:.2f}x faster; report.json $same')"
fi
if [ -n "${PEER:-}" ]; then
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv && .venv/bin/pip install -q simpy numpy
  fi
  .venv/bin/python benches/peer/simpy_hpa.py --trace "$work/rates.csv" --duration 86400 --seed 1 |
    tee "$work/simpy.txt" | grep -E 'wall_s|requests_completed|p99'
fi
