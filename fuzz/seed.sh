#!/usr/bin/env bash
# Seeds each fuzz target's corpus (fuzz/corpus/<target>/) from the repository's own inputs: the
# shipped and bench scenarios, their manifests, the bad-input cases, and the traces' first lines.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")"
root=..
mkdir -p corpus/scenario corpus/manifests corpus/quantity corpus/traces \
  corpus/baseline corpus/history corpus/sweeps corpus/shards
n=0
for f in "$root"/scenarios/*/scenario.yaml "$root"/benches/scenarios/*/scenario.yaml \
         "$root"/tests/bad-input/*/scenario.yaml; do
  n=$((n + 1)); cp "$f" "corpus/scenario/seed-$n.yaml"
done
n=0
for f in "$root"/scenarios/*/*.yaml "$root"/tests/bad-input/*/*.yaml; do
  [ "$(basename "$f")" = scenario.yaml ] && continue
  n=$((n + 1)); cp "$f" "corpus/manifests/seed-$n.yaml"
done
n=0
for q in 100m 1 1.5 2Gi 512Mi 1e3 1E-3 0.001 -1 10000000000000000000 1Ki 3.5k "" +.5 1m 1n 100u; do
  n=$((n + 1)); printf '%s' "$q" > "corpus/quantity/seed-$n"
done
# The traces target reads its first byte as the reader: 0 rate series, 1 and 2 per-minute
# counts, 3 the LLM formats (byte values 0x30–0x33 are the digits 0–3).
n=0
seed_trace() { n=$((n + 1)); { printf '%s' "$1"; head -c 4000 "$2"; } > "corpus/traces/seed-$n"; }
for f in "$root"/scenarios/*/*.csv "$root"/benches/scenarios/*/*.csv; do
  seed_trace 0 "$f"; seed_trace 1 "$f"; seed_trace 2 "$f"
done
for f in "$root"/scenarios/llm-inference/*.csv "$root"/benches/scenarios/llm-mooncake/*.jsonl; do
  seed_trace 3 "$f"
done
# What kubesim writes and reads back: a short run's report.json (baseline) and history.jsonl,
# the shipped sweep file, and the two shard.json files of a 2-variant sweep of the quickstart
# started from the repository's root (where the shards target runs), joined by a NUL.
(cd "$root" && cargo build --release -q)
kubesim=$(cd "$root" && pwd)/target/release/kubesim
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$kubesim" run "$root/scenarios/quickstart/scenario.yaml" --set duration=10m --out "$work/run" -q --no-plots
cp "$work/run/report.json" corpus/baseline/seed-1.json
cp "$work/run/history.jsonl" corpus/history/seed-1.jsonl
"$kubesim" run "$root/scenarios/node-failure/scenario.yaml" --out "$work/run2" -q --no-plots
cp "$work/run2/report.json" corpus/baseline/seed-2.json
cp "$work/run2/history.jsonl" corpus/history/seed-2.jsonl
cp "$root/scenarios/sizing-sweep/sweep.yaml" corpus/sweeps/seed-1.yaml
for i in 0 1; do
  (cd "$root" && "$kubesim" sweep scenarios/quickstart/scenario.yaml --set duration=5m \
    --axis 'hpa/web:spec.minReplicas=[2, 3]' --no-plots --shard "$i/2" --out "$work/shard-$i" -q)
done
{ cat "$work/shard-0/shard.json"; printf '\0'; cat "$work/shard-1/shard.json"; } > corpus/shards/seed-1
cp "$work/shard-0/shard.json" corpus/shards/seed-2
echo "seeded: $(ls corpus/scenario | wc -l) scenarios, $(ls corpus/manifests | wc -l) manifests," \
     "$(ls corpus/quantity | wc -l) quantities, $(ls corpus/traces | wc -l) traces," \
     "$(ls corpus/baseline | wc -l) reports, $(ls corpus/history | wc -l) histories," \
     "$(ls corpus/sweeps | wc -l) sweep files, $(ls corpus/shards | wc -l) shard sets"
