#!/usr/bin/env python3
"""kubesim against the real kernel, case by case.

    compare.py KERNEL_OUT KUBESIM [--seeds N] [--work DIR] [--markdown] [--check]

KERNEL_OUT is what run-kernel.sh wrote (KERNEL_OUT/cases/<case>/case.json with the
arrivals files, KERNEL_OUT/summary.csv with the median of the kernel's repeats).
KUBESIM is the kubesim binary. Each case becomes a scenario (written under --work,
default KERNEL_OUT/kubesim): one node with the case's CPUs, each pod a one-replica
Deployment with the case's request, limit and workers (concurrency), the CPU per
request as a constant cpuPerRequest (the CPU the kernel run's requests took: the
burn plus receiving and answering, some 20-30 us), the same arrival times replayed
(requestTimes), and the case's CFS period as the pool's kubelet cpuCFSQuotaPeriod.
Where a pod's period grid fell in a kernel run matters (bursts that straddle a
period boundary get two quotas), and the kernel run records it (grid_phase_us,
KERNEL_OUT/runs.csv): each kernel repeat is paired with a kubesim run whose pod
has the same grid (its workload's cfsPeriodOffset), and the medians over the
repeats are compared (a repeat without a recorded grid runs with the seed's
random one):

  p50, p99     latency (ms), relative error
  throttled    nr_throttled / nr_periods, absolute difference
  share        for cases that saturate the CPU (stop_at_duration): each pod's
               share of the CPU used, absolute difference

The targets (issue 45): p50 and p99 within 15 %, throttled ratio and share
within 0.05; latencies under 1 ms are compared with 0.1 ms of slack (the
kernel's wake-up and reply take some 50-150 us that kubesim does not model).
--bound P,R widens them (CI uses a regression bound: a noisy VM must not fail a
build that only moved within the noise). --check exits 1 when a case misses
them, except the pods listed in --known FILE (lines "case/pod  why"; '#'
comments), whose misses are explained in the README; a listed pod that now
meets the targets is reported, so the list only shrinks.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys

SLACK_MS = 0.1


def scenario_text(case, seed, csv_names, offsets, cpu_us):
    cpus = case_cpus(case)
    period_us = case["pods"][0]["period_us"]
    duration_us = case["duration_us"] + (0 if case.get("stop_at_duration") else case["max_drain_us"])
    workloads, traffic, manifests = [], [], []
    for p in case["pods"]:
        name = p["name"]
        offset = f", cfsPeriodOffset: {offsets[name]}us" if name in offsets else ""
        workloads.append(
            f"    - {{deployment: {name}, startupTime: 0s, cpuPerRequest: {cpu_us[name]}us, "
            f"concurrency: {p['workers']}, queueLimit: 1000000, timeout: 1000h{offset}}}\n")
        traffic.append(f"    - {{service: {name}, arrivals: {{requestTimes: {{file: {csv_names[name]}}}}}}}\n")
        limit = f', limits: {{cpu: "{p["limit_millicores"]}m"}}' if p["limit_millicores"] else ""
        manifests.append(f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: app
          resources: {{requests: {{cpu: "{p['request_millicores']}m"}}{limit}}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec: {{selector: {{app: {name}}}}}
""")
    return f"""apiVersion: kubesim.io/v1alpha1
kind: Scenario
metadata: {{name: cfs-{case['name']}}}
spec:
  duration: {duration_us}us
  seed: {seed}
  startWarm: true
  cluster:
    nodePools:
      - name: node
        count: 1
        allocatable: {{cpu: "{cpus}", memory: 64Gi, pods: 110}}
        kubelet: {{cpuCFSQuotaPeriod: {period_us}us}}
  workloads:
{''.join(workloads)}  traffic:
{''.join(traffic)}{''.join(manifests)}"""


def case_cpus(case):
    """The CPUs the case's pods may use: its cpuset's size, else the machine's."""
    spec = case.get("cpus")
    if not spec:
        return os.cpu_count()
    n = 0
    for part in str(spec).split(","):
        lo, _, hi = part.partition("-")
        n += int(hi or lo) - int(lo) + 1
    return n


def write_case(case_dir, work_dir):
    with open(os.path.join(case_dir, "case.json")) as f:
        case = json.load(f)
    os.makedirs(work_dir, exist_ok=True)
    names = {}
    for p in case["pods"]:
        rows = []
        with open(os.path.join(case_dir, p["arrivals_file"])) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    rows.append(f"{int(line.split()[0]) / 1e6:.6f}\n")
        names[p["name"]] = f"{p['name']}.csv"
        with open(os.path.join(work_dir, names[p["name"]]), "w") as f:
            f.write("t_seconds\n" + "".join(rows))
    return case, names


def run_kubesim(kubesim, case, names, work_dir, repeat, rows):
    text = scenario_text(case, repeat, names, offsets_of(case, rows), cpu_per_request(case, rows))
    path = os.path.join(work_dir, f"scenario-r{repeat}.yaml")
    with open(path, "w") as f:
        f.write(text)
    out = os.path.join(work_dir, f"run-r{repeat}")
    subprocess.run([kubesim, "run", path, "--out", out, "--no-plots", "--no-trace", "-q"],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    pods = {}
    total_cpu = sum(s["served"] * p["cpu_per_request_us"]
                    for s in report["services"] for p in case["pods"] if p["name"] == s["name"])
    for s in report["services"]:
        p = next(p for p in case["pods"] if p["name"] == s["name"])
        d = next(d for d in report["deployments"] if d["name"] == s["name"])
        lat = s["latency_ms"]
        pods[s["name"]] = {
            "p50_ms": lat["p50"], "p99_ms": lat["p99"],
            "throttled_ratio": d["cpu_throttled_ratio"] or 0.0,
            "share": s["served"] * p["cpu_per_request_us"] / total_cpu if total_cpu else None,
        }
    return pods


def kernel_runs(kernel_out):
    """Per case, the kernel's repeats: {repeat: {pod: row of runs.csv}}."""
    runs = {}
    with open(os.path.join(kernel_out, "runs.csv")) as f:
        for r in csv.DictReader(f):
            runs.setdefault(r["case"], {}).setdefault(r["repeat"], {})[r["pod"]] = r
    return runs


def cpu_per_request(case, repeat_rows):
    """The CPU each pod's requests took in a kernel repeat (its cgroup's CPU over the requests
    done: the burn plus receiving and answering), in whole µs; the case's burn where the repeat
    is not listed or did not finish its requests (saturated cases)."""
    cpu = {}
    for p in case["pods"]:
        row = repeat_rows.get(p["name"], {})
        used, done = number(row.get("cpu_used_ms")), number(row.get("done"))
        finished = done and done == number(row.get("sent"))
        cpu[p["name"]] = round(used * 1000 / done) if used and finished else p["cpu_per_request_us"]
    return cpu


def offsets_of(case, repeat_rows):
    """Each limited pod's first period end after t = 0 in a kernel repeat: the run's t = 0
    fell grid_phase_us into a period."""
    offsets = {}
    for p in case["pods"]:
        phase = number(repeat_rows.get(p["name"], {}).get("grid_phase_us"))
        if p["limit_millicores"] and phase is not None and phase >= 0:
            offsets[p["name"]] = (p["period_us"] - int(phase)) % p["period_us"]
    return offsets


def kernel_medians(kernel_out):
    rows = {}
    with open(os.path.join(kernel_out, "summary.csv")) as f:
        for r in csv.DictReader(f):
            rows[(r["case"], r["pod"])] = r
    return rows


def number(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def relative(sim, real):
    if sim is None or real is None:
        return None
    if real < 1.0 and abs(sim - real) <= SLACK_MS:
        return 0.0
    return (sim - real) / real if real else None


def known_misses(path):
    """The pods whose misses are explained: {"case/pod": why}."""
    if not path:
        return {}
    known = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                pod, _, why = line.partition(" ")
                known[pod] = why.strip()
    return known


def compare(args):
    p_tolerance, ratio_tolerance = args.bound
    kernel = kernel_medians(args.kernel_out)
    repeats = kernel_runs(args.kernel_out)
    cases_dir = os.path.join(args.kernel_out, "cases")
    work = args.work or os.path.join(args.kernel_out, "kubesim")
    rows, failed = [], []
    for name in sorted(os.listdir(cases_dir)):
        case_dir = os.path.join(cases_dir, name)
        if not os.path.isfile(os.path.join(case_dir, "case.json")):
            continue
        case, names = write_case(case_dir, os.path.join(work, name))
        plan = sorted(repeats.get(name, {}).items()) or [(str(k), {}) for k in range(1, args.seeds + 1)]
        try:
            runs = [run_kubesim(args.kubesim, case, names, os.path.join(work, name), int(r or 1), rows)
                    for r, rows in plan]
        except subprocess.CalledProcessError:
            print(f"{name}: kubesim refused or failed the case (see above)", file=sys.stderr)
            failed.append(name)
            continue
        kernel_cores = {p["name"]: number(kernel.get((name, p["name"]), {}).get("cores")) for p in case["pods"]}
        kernel_total = sum(c for c in kernel_cores.values() if c) or None
        for p in case["pods"]:
            real = kernel.get((name, p["name"]))
            if real is None:
                continue
            sim = {k: statistics.median(r[p["name"]][k] for r in runs)
                   for k in ("p50_ms", "p99_ms", "throttled_ratio")}
            row = {
                "case": name, "pod": p["name"],
                "kernel_p50": number(real["p50_ms"]), "sim_p50": sim["p50_ms"],
                "kernel_p99": number(real["p99_ms"]), "sim_p99": sim["p99_ms"],
                "kernel_thr": number(real["throttled_ratio"]) or 0.0, "sim_thr": sim["throttled_ratio"],
            }
            row["err_p50"] = relative(row["sim_p50"], row["kernel_p50"])
            row["err_p99"] = relative(row["sim_p99"], row["kernel_p99"])
            row["diff_thr"] = row["sim_thr"] - row["kernel_thr"]
            saturated = case.get("stop_at_duration")
            if saturated and kernel_total:
                row["kernel_share"] = kernel_cores[p["name"]] / kernel_total
                row["sim_share"] = statistics.median(r[p["name"]]["share"] for r in runs)
                row["diff_share"] = row["sim_share"] - row["kernel_share"]
                misses = abs(row["diff_share"]) > ratio_tolerance
            else:
                misses = any(e is None or abs(e) > p_tolerance for e in (row["err_p50"], row["err_p99"]))
            misses = misses or abs(row["diff_thr"]) > ratio_tolerance
            row["within"] = not misses
            if misses:
                failed.append(f"{name}/{p['name']}")
            rows.append(row)
    print_table(rows, args.markdown)
    return failed


def print_table(rows, markdown):
    def pct(e):
        return "—" if e is None else f"{e * 100:+.0f} %"

    header = ["case", "pod", "p50 kernel", "p50 kubesim", "error", "p99 kernel", "p99 kubesim", "error",
              "throttled kernel", "throttled kubesim", "CPU share kernel / kubesim", "within"]
    lines = []
    for r in rows:
        share = (f"{r['kernel_share']:.2f} / {r['sim_share']:.2f}" if "kernel_share" in r else "")
        lines.append([r["case"], r["pod"], f"{r['kernel_p50']:.1f}", f"{r['sim_p50']:.1f}", pct(r["err_p50"]),
                      f"{r['kernel_p99']:.1f}", f"{r['sim_p99']:.1f}", pct(r["err_p99"]),
                      f"{r['kernel_thr']:.2f}", f"{r['sim_thr']:.2f}", share, "yes" if r["within"] else "NO"])
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
        return
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)] if lines else []
    for line in [header] + lines:
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kernel_out")
    parser.add_argument("kubesim")
    parser.add_argument("--seeds", type=int, default=5,
                        help="kubesim runs per case when the kernel's repeats are not listed")
    parser.add_argument("--work")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--bound", default="0.15,0.05", type=lambda v: tuple(float(x) for x in v.split(",")),
                        help="relative error of p50/p99, absolute difference of ratios (default 0.15,0.05)")
    parser.add_argument("--known", help="a file of case/pod whose misses are explained")
    args = parser.parse_args()
    known = known_misses(args.known)
    failed = compare(args)
    unexpected = [f for f in failed if f not in known]
    for pod in sorted(set(known) - set(failed)):
        print(f"{pod}: listed as a known miss, now within the bound: take it off the list", file=sys.stderr)
    if failed:
        print(f"outside the bound: {', '.join(failed)} ({len(failed) - len(unexpected)} explained)", file=sys.stderr)
    if unexpected and args.check:
        print(f"unexplained: {', '.join(unexpected)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
