#!/usr/bin/env python3
"""Print a calibration's fit.json as a Markdown table: per Service, the fitted CPU per request and,
observed against replayed (means over the intervals, and the error of the means), CPU per pod,
p90 and p99. Usage: fit-table.py DIR/fit.json"""
import json
import sys

fit = json.load(open(sys.argv[1]))
print("| Service | CPU per request | CPU per pod obs → replayed | p90 obs → replayed | p99 obs → replayed |")
print("|---|---|---|---|---|")
for s in fit["services"]:
    p = s["parameters"]
    comp = {c["name"]: c for c in s["comparison"]}

    def cell(name, unit, scale):
        c = comp.get(name)
        if not c or c["observed_mean"] is None or c["replayed_mean"] is None:
            return "–"
        err = c["error_of_means"]
        err = "–" if err is None else f"{err * 100:+.0f} %"
        return f"{c['observed_mean'] * scale:.3g} → {c['replayed_mean'] * scale:.3g} {unit} ({err})"

    bound = "≤ " if p["identified"] == "ratio_only" else ""
    cpu = f"{bound}{p['cpu_per_request_seconds'] * 1e3:.3g} ms" if p["cpu_per_request_seconds"] else "–"
    print(f"| {s['service']} | {cpu} | {cell('CPU per pod (cores)', 'm', 1e3)} | "
          f"{cell('latency p90 (s)', 'ms', 1e3)} | {cell('latency p99 (s)', 'ms', 1e3)} |")
