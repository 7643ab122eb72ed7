#!/usr/bin/env python3
"""Summarise cfsload results.

    summarize.py --line RESULT.json       one line per pod of one run
    summarize.py OUTDIR [--markdown]      OUTDIR/results/<case>.r<N>.json ->
                                          OUTDIR/runs.csv (a row per run and pod) and
                                          OUTDIR/summary.csv (median of the repeats per
                                          case and pod, with min and max), printed as a table

Latency = end - arrival (the reply read by the generator minus the scheduled
arrival), over the requests that completed; percentiles are nearest-rank.
"throttled" = nr_throttled / nr_periods (cpu.stat differences over the run).
"cores" = CPU used by the pod's cgroup / wall time of the run.  "other" = CPU
used on the host by anything but the pods and the generator, in cores: a busy
neighbour shows up there.
"""
import csv
import glob
import json
import math
import os
import re
import statistics
import sys

FIELDS = ["case", "repeat", "pod", "sent", "done", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms",
          "wait_mean_ms", "nr_periods", "nr_throttled", "throttled_ratio", "throttled_ms", "cpu_used_ms",
          "cores", "late_max_us", "late_p99_us", "other_cores", "end_reason", "grid_phase_us"]


def pct(xs, q):
    if not xs:
        return None
    k = max(1, math.ceil(q * len(xs)))
    return xs[k - 1]


def pod_rows(path, case=None, repeat=None):
    with open(path) as f:
        d = json.load(f)
    wall = max(1, d["wall_us"])
    host = d.get("host", {})
    rows = []
    for p in d["pods"]:
        lat, wait = [], []
        for r in p["requests"]:
            a, s, e = r[0], r[1], r[2]
            if e >= 0:
                lat.append((e - a) / 1000)
            if s >= 0:
                wait.append((s - a) / 1000)
        lat.sort()
        per, thr = p.get("nr_periods"), p.get("nr_throttled")
        rows.append({
            "case": case or d.get("case", os.path.basename(path)),
            "repeat": repeat or "",
            "pod": p["name"],
            "sent": p["requests_sent"],
            "done": p["requests_done"],
            "p50_ms": pct(lat, 0.50),
            "p90_ms": pct(lat, 0.90),
            "p99_ms": pct(lat, 0.99),
            "mean_ms": statistics.fmean(lat) if lat else None,
            "max_ms": lat[-1] if lat else None,
            "wait_mean_ms": statistics.fmean(wait) if wait else None,
            "nr_periods": per,
            "nr_throttled": thr,
            "throttled_ratio": (thr / per) if per else 0.0,
            "throttled_ms": (p["throttled_time_us"] / 1000) if p.get("throttled_time_us") is not None else None,
            "cpu_used_ms": p["cpu_used_us"] / 1000 if p.get("cpu_used_us", -1) >= 0 else None,
            "cores": p["cpu_used_us"] / wall if p.get("cpu_used_us", -1) >= 0 else None,
            "late_max_us": p["send_late_max_us"],
            "late_p99_us": p["send_late_p99_us"],
            "other_cores": host.get("other_busy_us", 0) / wall,
            "end_reason": d["end_reason"],
            "grid_phase_us": p.get("grid_phase_us"),
        })
    return rows


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def line(r):
    return (f"{r['case']:<27} r{r['repeat'] or '-':<2} {r['pod']:<2} done {r['done']}/{r['sent']}"
            f"  p50 {fmt(r['p50_ms'])}  p90 {fmt(r['p90_ms'])}  p99 {fmt(r['p99_ms'])}  mean {fmt(r['mean_ms'])} ms"
            f"  periods {r['nr_periods']} throttled {r['nr_throttled']} ({fmt(100 * r['throttled_ratio'], 0)} %)"
            f"  cpu {fmt(r['cpu_used_ms'], 0)} ms ({fmt(r['cores'], 3)} cores)"
            f"  late max {r['late_max_us']} us  other {fmt(r['other_cores'], 2)} cores")


def summarize(outdir, markdown):
    files = glob.glob(os.path.join(outdir, "results", "*.r*.json"))
    runs = []
    for fn in files:
        m = re.match(r"(.+)\.r(\d+)\.json$", os.path.basename(fn))
        if not m:
            continue
        runs += pod_rows(fn, m.group(1), int(m.group(2)))
    runs.sort(key=lambda r: (r["case"], r["pod"], r["repeat"]))
    with open(os.path.join(outdir, "runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        for r in runs:
            w.writerow({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()})
    groups = {}
    for r in runs:
        groups.setdefault((r["case"], r["pod"]), []).append(r)
    summary = []
    for (case, podname), rs in sorted(groups.items()):
        def med(k):
            xs = [r[k] for r in rs if r[k] is not None]
            return statistics.median(xs) if xs else None

        def lo(k):
            xs = [r[k] for r in rs if r[k] is not None]
            return min(xs) if xs else None

        def hi(k):
            xs = [r[k] for r in rs if r[k] is not None]
            return max(xs) if xs else None
        s = {"case": case, "pod": podname, "repeats": len(rs)}
        for k in ["p50_ms", "p90_ms", "p99_ms", "mean_ms", "throttled_ratio", "nr_periods", "nr_throttled",
                  "cores", "late_max_us", "other_cores"]:
            s[k] = med(k)
        for k in ["p50_ms", "p99_ms", "mean_ms", "throttled_ratio"]:
            s[k + "_min"], s[k + "_max"] = lo(k), hi(k)
        # a case "varies" when its p99 or mean spreads by more than 25 % (and 2 ms) over the repeats
        var = []
        for k in ["p99_ms", "mean_ms"]:
            a, b, m = s[k + "_min"], s[k + "_max"], s[k]
            if a is not None and m and (b - a) > max(2.0, 0.25 * m):
                var.append(k.split("_")[0])
        s["varies"] = ",".join(var)
        summary.append(s)
    keys = list(summary[0].keys()) if summary else []
    with open(os.path.join(outdir, "summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        for s in summary:
            w.writerow({k: (round(v, 3) if isinstance(v, float) else v) for k, v in s.items()})
    if markdown:
        print("| case | pod | p50 ms | p90 ms | p99 ms | mean ms | throttled | periods | cores | p99 range | mean range | late max µs | other cores |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|")
        for s in summary:
            print(f"| {s['case']} | {s['pod']} | {fmt(s['p50_ms'])} | {fmt(s['p90_ms'])} | {fmt(s['p99_ms'])} | "
                  f"{fmt(s['mean_ms'])} | {fmt(100 * s['throttled_ratio'], 0)} % | {fmt(s['nr_periods'], 0)} | "
                  f"{fmt(s['cores'], 3)} | {fmt(s['p99_ms_min'])}–{fmt(s['p99_ms_max'])} | "
                  f"{fmt(s['mean_ms_min'])}–{fmt(s['mean_ms_max'])} | {fmt(s['late_max_us'], 0)} | "
                  f"{fmt(s['other_cores'], 2)} |")
    else:
        print(f"{'case':<27} {'pod':<3} {'n':>2} {'p50':>7} {'p90':>7} {'p99':>7} {'mean':>7} {'thr%':>5} "
              f"{'cores':>6}  p99 range        mean range     varies")
        for s in summary:
            print(f"{s['case']:<27} {s['pod']:<3} {s['repeats']:>2} {fmt(s['p50_ms']):>7} {fmt(s['p90_ms']):>7} "
                  f"{fmt(s['p99_ms']):>7} {fmt(s['mean_ms']):>7} {fmt(100 * s['throttled_ratio'], 0):>5} "
                  f"{fmt(s['cores'], 3):>6}  {fmt(s['p99_ms_min']):>6}-{fmt(s['p99_ms_max']):<7} "
                  f"{fmt(s['mean_ms_min']):>6}-{fmt(s['mean_ms_max']):<7} {s['varies']}")


def main():
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "--line":
        fn = args[1]
        m = re.match(r"(.+)\.r(\d+)\.json$", os.path.basename(fn))
        for r in pod_rows(fn, m.group(1) if m else None, int(m.group(2)) if m else None):
            print(line(r))
    elif args and not args[0].startswith("-"):
        summarize(args[0], "--markdown" in args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
