#!/usr/bin/env bash
# Side-by-side speed and fidelity comparison with the SimPy peer model
# (benches/peer/simpy_hpa.py --rate 1000 --duration 3600) on this machine.
# Prints both wall times, the ratio, events per request and both p99 latencies.
# Usage: benches/compare-simpy.sh [path/to/simpy_hpa.py]     (needs python3 with venv + pip)
set -euo pipefail
cd "$(dirname "$0")/.."
peer=${1:-benches/peer/simpy_hpa.py}
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv && .venv/bin/pip install -q simpy numpy
fi
cargo build --release -q
out=target/compare-simpy
./target/release/kubesim run scenarios/simpy-peer/scenario.yaml --out "$out" >/dev/null
.venv/bin/python "$peer" --rate 1000 --duration 3600 --seed 1 > target/compare-simpy.simpy.txt
.venv/bin/python - "$out" target/compare-simpy.simpy.txt <<'PY'
import json, re, sys
run = json.load(open(f"{sys.argv[1]}/run.json"))
report = json.load(open(f"{sys.argv[1]}/report.json"))
simpy = open(sys.argv[2]).read()
simpy_wall = float(re.search(r"wall_s=([0-9.]+)", simpy).group(1))
simpy_events = int(re.search(r"events_processed=(\d+)", simpy).group(1))
simpy_requests = int(re.search(r"requests_completed=(\d+)", simpy).group(1))
simpy_p99 = float(re.search(r"p99=([0-9.]+)", simpy).group(1))
ks_p99 = report["services"][0]["latency_ms"]["p99"]
ks_requests = report["totals"]["requests"]
print(f"SimPy   wall {simpy_wall:8.3f} s  {simpy_events/simpy_requests:5.2f} events/request  p99 {simpy_p99:7.2f} ms  ({simpy_requests} requests)")
print(f"kubesim wall {run['wall_seconds']:8.3f} s  {run['events']/ks_requests:5.2f} events/request  p99 {ks_p99:7.2f} ms  ({ks_requests} requests)")
print(f"speed ratio {simpy_wall/run['wall_seconds']:.1f}x   p99 difference {100*(ks_p99-simpy_p99)/simpy_p99:+.2f} %")
PY
