#!/usr/bin/env bash
# Sweep speed (issue 16): a 64-variant sweep of the quickstart scenario (4 HPA floors × 4 CPU
# targets × 4 concurrency limits, one replication each) on one worker thread and on all cores,
# the two alternating for ROUNDS rounds; prints each round's variants/s and the ratio of the
# medians. Also checks that sweep.json and sweep.csv are byte-identical between the two.
#
# Usage: benches/sweep-speed.sh          ROUNDS=3 by default
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
cargo build --release -q
work=target/sweep-speed
mkdir -p "$work"
axes=(--axis 'hpa/web:spec.minReplicas=[2, 3, 4, 5]'
      --axis 'hpa/web:spec.metrics[0].resource.target.averageUtilization=50..80:10'
      --axis 'workloads[0].concurrency=[8, 12, 16, 24]')

# sweep THREADS OUT → variants per second, the whole command timed (checking every variant,
# running them, writing the files)
sweep() {
  local start end
  start=$(date +%s.%N)
  target/release/kubesim sweep scenarios/quickstart/scenario.yaml "${axes[@]}" \
    --threads "$1" --out "$2" >/dev/null 2>"$2.log" || { cat "$2.log" >&2; exit 1; }
  end=$(date +%s.%N)
  python3 -c "import sys; print(64 / (float(sys.argv[2]) - float(sys.argv[1])))" "$start" "$end"
}

cores=$(nproc)
one=() all=()
for round in $(seq "$rounds"); do
  one+=("$(sweep 1 "$work/one")")
  all+=("$(sweep "$cores" "$work/all")")
  printf 'round %s: 1 thread %6.1f variants/s, %s threads %6.1f variants/s\n' "$round" "${one[-1]}" "$cores" "${all[-1]}"
done
for f in sweep.json sweep.csv; do
  cmp -s "$work/one/$f" "$work/all/$f" && echo "$f: byte-identical on 1 and $cores threads" || { echo "$f DIFFERS"; exit 1; }
done
python3 - "${one[*]}" "${all[*]}" "$cores" <<'PY'
import statistics, sys
one = [float(x) for x in sys.argv[1].split()]
every = [float(x) for x in sys.argv[2].split()]
print(f"median: 1 thread {statistics.median(one):.1f} variants/s, {sys.argv[3]} threads "
      f"{statistics.median(every):.1f} variants/s: {statistics.median(every) / statistics.median(one):.2f}x")
PY
