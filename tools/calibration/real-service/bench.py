#!/usr/bin/env python3
"""Calibrate's validation (c): a real service on this machine.

Runs server.py in a fresh cgroup with a CPU limit (cgroup v2 `cpu.max`, or v1
`cpu.cfs_quota_us`), loads it with loadgen.py at a low and a high rate, scraping its /metrics and
the cgroup's CPU counter every STEP seconds into Prometheus text with timestamps (the cgroup's
counter as cAdvisor names it, container_cpu_usage_seconds_total). Then `kubesim calibrate` on
the low level's scrapes, `kubesim run` of the fitted scenario at the high rate, and the high
level's measured p50 and p99 against kubesim's. Needs root (cgroups).

Usage: bench.py [--kubesim PATH] [--low 40] [--high 95] [--seconds 180] [--limit 0.5]
       [--out DIR]
Exit status: 0 (the table printed), 77 (no writable cpu cgroup), 1 (an error).
"""
import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
PORT = 18093
STEP = 5


class Cgroup:
    """A fresh cpu cgroup with a CFS quota, v2 or v1; its CPU counter in seconds."""

    def __init__(self, limit_cores):
        name = f"kubesim-real-{os.getpid()}"
        period = 100_000
        quota = int(limit_cores * period)
        v2 = pathlib.Path("/sys/fs/cgroup/cgroup.controllers")
        if v2.exists():
            root = pathlib.Path("/sys/fs/cgroup")
            if "cpu" not in (root / "cgroup.subtree_control").read_text().split():
                (root / "cgroup.subtree_control").write_text("+cpu")
            self.dirs = [root / name]
            self.dirs[0].mkdir()
            (self.dirs[0] / "cpu.max").write_text(f"{quota} {period}")
            self.usage = lambda: _v2_usage(self.dirs[0])
        else:
            cpu, acct = pathlib.Path("/sys/fs/cgroup/cpu") / name, pathlib.Path("/sys/fs/cgroup/cpuacct") / name
            self.dirs = [cpu] + ([acct] if acct.parent.exists() and acct.parent.resolve() != cpu.parent.resolve() else [])
            for d in self.dirs:
                d.mkdir()
            (cpu / "cpu.cfs_period_us").write_text(str(period))
            (cpu / "cpu.cfs_quota_us").write_text(str(quota))
            usage_file = self.dirs[-1] / "cpuacct.usage"
            self.usage = lambda: int(usage_file.read_text()) / 1e9

    def add(self, pid):
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(pid))

    def remove(self):
        for d in self.dirs:
            try:
                d.rmdir()
            except OSError:
                pass


def _v2_usage(d):
    for line in (d / "cpu.stat").read_text().splitlines():
        key, value = line.split()
        if key == "usage_usec":
            return int(value) / 1e6
    raise RuntimeError("no usage_usec in cpu.stat")


def scrape(cgroup, out, stop):
    """Every STEP s: /metrics and the cgroup's CPU, with millisecond timestamps."""
    with open(out, "w") as f:
        next_at = time.time()
        while not stop.is_set():
            now_ms = int(time.time() * 1000)
            body = urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=5).read().decode()
            for line in body.splitlines():
                if line and not line.startswith("#"):
                    f.write(f"{line} {now_ms}\n")
            f.write(f'container_cpu_usage_seconds_total{{pod="real-0-0",container="server"}} {cgroup.usage()} {now_ms}\n')
            f.flush()
            next_at += STEP
            stop.wait(max(0.0, next_at - time.time()))


def phase(cgroup, rate, seconds, scrapes):
    stop = threading.Event()
    scraper = threading.Thread(target=scrape, args=(cgroup, scrapes, stop))
    scraper.start()
    time.sleep(STEP)  # one scrape before the load
    load = subprocess.run([sys.executable, str(HERE / "loadgen.py"), str(PORT), str(rate), str(seconds)],
                          capture_output=True, text=True, check=True)
    time.sleep(STEP)
    stop.set()
    scraper.join()
    return json.loads(load.stdout)


def server_quantiles(scrapes):
    """The server's own p50 and p99 over a phase: its histogram's increase from the first scrape
    to the last, interpolated within the bucket as histogram_quantile does."""
    first, last = {}, {}
    for line in open(scrapes):
        if line.startswith("http_request_duration_seconds_bucket"):
            le = line.split('le="')[1].split('"')[0]
            value = float(line.split()[-2])
            first.setdefault(le, value)
            last[le] = value
    bounds = sorted((float("inf") if le == "+Inf" else float(le), last[le] - first[le]) for le in last)
    total = bounds[-1][1]

    def q(p):
        below, below_count = 0.0, 0.0
        for le, count in bounds:
            if count >= p * total:
                if le == float("inf"):
                    return below
                return below + (le - below) * (p * total - below_count) / max(count - below_count, 1e-12)
            below, below_count = le, count
        return below

    return {"p50": q(0.5), "p99": q(0.99)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubesim", default=str(HERE.parents[2] / "target/release/kubesim"))
    ap.add_argument("--low", type=float, default=40.0)
    ap.add_argument("--high", type=float, default=95.0)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--limit", type=float, default=0.5)
    ap.add_argument("--out", default="/tmp/kubesim-real-service")
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    try:
        cgroup = Cgroup(a.limit)
    except OSError as e:
        print(f"bench.py: skipped, no writable cpu cgroup ({e})", file=sys.stderr)
        return 77
    server = subprocess.Popen([sys.executable, str(HERE / "server.py"), str(PORT)])
    try:
        cgroup.add(server.pid)
        time.sleep(1.0)
        low = phase(cgroup, a.low, a.seconds, out / "low.prom")
        high = phase(cgroup, a.high, a.seconds, out / "high.prom")
    finally:
        server.kill()
        server.wait()
        cgroup.remove()
    (out / "calibration.yaml").write_text(f"""apiVersion: kubesim.io/v1alpha1
kind: Calibration
metadata: {{name: real-service}}
spec:
  scenario: {HERE / 'scenario.yaml'}
  services:
    - service: real
      requests: {{file: low.prom, select: http_requests_total}}
      cpu: {{file: low.prom, select: container_cpu_usage_seconds_total}}
      latency: {{file: low.prom, select: http_request_duration_seconds_bucket}}
""")
    subprocess.run([a.kubesim, "calibrate", str(out / "calibration.yaml"), "--out", str(out / "fitted"), "-q"], check=True)
    fit = json.loads((out / "fitted" / "fit.json").read_text())
    per_request = fit["services"][0]["parameters"]["cpu_per_request_seconds"]
    run = out / "predicted"
    subprocess.run([a.kubesim, "run", str(out / "fitted" / "scenario.yaml"), "--out", str(run), "-q",
                    "--no-plots", "--no-trace", "--set", f"duration={int(a.seconds)}s",
                    "--set", f"traffic[0].arrivals={{constant: {{rate: {a.high}}}}}"], check=True)
    latency = json.loads((run / "report.json").read_text())["services"][0]["latency_ms"]
    print(f"fitted on {a.low} req/s: CPU per request {per_request * 1e3:.2f} ms "
          f"(identified: {fit['services'][0]['parameters']['identified']})")
    print(f"low  {a.low} req/s measured: p50 {low['p50'] * 1e3:.1f} ms, p99 {low['p99'] * 1e3:.1f} ms")
    server = server_quantiles(out / "high.prom")
    print("| at the high rate | measured by the server (histogram) | by the client | kubesim | error vs server | vs client |")
    print("|---|---|---|---|---|---|")
    for q in ("p50", "p99"):
        at_server, at_client, predicted = server[q] * 1e3, high[q] * 1e3, latency[q]
        print(f"| {q} at {a.high} req/s | {at_server:.1f} ms | {at_client:.1f} ms | {predicted:.1f} ms | "
              f"{(predicted - at_server) / at_server * 100:+.0f} % | {(predicted - at_client) / at_client * 100:+.0f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
