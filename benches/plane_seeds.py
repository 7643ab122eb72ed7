#!/usr/bin/env python3
"""The node-major plane against the exact plane over many seeds (issue 51's re-baseline check).

Runs one scenario with `--seed 1..N` on the exact plane (`--exact-plane`) and on the default
(node-major) plane, and prints per seed the day's replica-hours, cost, and the request-weighted
mean of its Services' p50 and p99 on both planes with the relative difference; then the exact
plane's spread over the seeds (min to max, relative to the mean) beside the largest difference
between the planes. The re-baseline's rule: each difference within ±0.5 %, or inside the
seeds' spread.

Usage: python3 benches/plane_seeds.py SCENARIO [--seeds 10] [--bin target/release/kubesim]
       (e.g. the 1 000-node day: python3 benches/cluster_day.py /tmp/day --nodes 1000 first)
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def run(binary, scenario, seed, out, plane):
    command = [binary, "run", scenario, "--seed", str(seed), "--no-plots", "--no-trace",
               "-q", "--out", str(out)] + plane
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    return json.loads((out / "report.json").read_text())


def measures(report):
    """What the re-baseline compares: replica-hours, cost, request-weighted p50 and p99 (ms)."""
    services = [s for s in report["services"] if s.get("requests")]
    weight = sum(s["requests"] for s in services) or 1
    mean = lambda q: sum(s["latency_ms"][q] * s["requests"] for s in services) / weight
    return {
        "replica_hours": sum(d["replica_hours"] for d in report["deployments"]),
        "cost_usd": report["totals"]["cost_usd"],
        "p50_ms": mean("p50"),
        "p99_ms": mean("p99"),
    }


def relative(a, b):
    return (b - a) / abs(a) * 100 if a else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--bin", default="target/release/kubesim")
    args = parser.parse_args()
    exact_runs, largest = [], {}
    with tempfile.TemporaryDirectory(prefix="kubesim-seeds-") as work:
        for seed in range(1, args.seeds + 1):
            exact = measures(run(args.bin, args.scenario, seed, Path(work) / f"e{seed}",
                                 ["--exact-plane"]))
            lanes = measures(run(args.bin, args.scenario, seed, Path(work) / f"n{seed}", []))
            exact_runs.append(exact)
            cells = []
            for key in exact:
                d = relative(exact[key], lanes[key])
                largest[key] = max(largest.get(key, 0.0), abs(d))
                cells.append(f"{key} {exact[key]:.3f} -> {lanes[key]:.3f} ({d:+.3f} %)")
            print(f"seed {seed}: " + "; ".join(cells), flush=True)
    print("\nexact plane's spread over the seeds against the largest plane difference:")
    for key in exact_runs[0]:
        values = [r[key] for r in exact_runs]
        mean = sum(values) / len(values)
        spread = (max(values) - min(values)) / mean * 100
        print(f"  {key}: mean {mean:.3f}, seeds' spread {spread:.3f} % of it; "
              f"largest |node-major - exact| {largest[key]:.3f} %")


if __name__ == "__main__":
    main()
