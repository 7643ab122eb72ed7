#!/usr/bin/env python3
"""Backfill kubesim's OpenMetrics export into a real Prometheus TSDB and read it back.

For each scenario: `kubesim run SCENARIO --openmetrics FILE`, then Prometheus' own
`promtool tsdb create-blocks-from openmetrics FILE DB` and `promtool tsdb dump DB`; the values
read back must equal the run's own files:

- every sample line of FILE comes back (nothing dropped as out of order or duplicate);
- kube_deployment_spec_replicas and kube_deployment_status_replicas_ready equal
  timeseries.csv's deployment.<d>.replicas and deployment.<d>.ready at every instant;
- istio_requests_total{reporter="source"} summed over response codes equals the sum of
  service.<s>.served + service.<s>.failed over the rows so far, its response_code="200"
  series and istio_request_duration_milliseconds_count the served ones;
- vllm:num_requests_waiting and vllm:num_requests_running summed over a Deployment's pods equal
  deployment.<d>.llm_waiting and llm_running;
- kubesim_node_pool_nodes, kubesim_cost_usd_total and kubesim_cluster_pending_pods equal their
  columns;
- kube_horizontalpodautoscaler_status_desired_replicas equals the desired replicas of the HPA's
  last decision in hpa_decisions.jsonl before the instant, or of its decision at the instant
  (a sync at the sample's instant is seen when its event came first).

Usage: promtool-check.py PROMTOOL KUBESIM WORKDIR SCENARIO... (exit 1 on any difference).
"""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict

DUMP_LINE = re.compile(r'^\{(.*)\} (\S+) (-?\d+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr}")
    return result.stdout


def dump(promtool, om_file, db):
    """Backfills om_file into db and returns {(name, labels...): {ms: value}}."""
    shutil.rmtree(db, ignore_errors=True)
    run([promtool, "tsdb", "create-blocks-from", "openmetrics", om_file, db])
    # promtool 2.42's dump replays a WAL that create-blocks-from does not make.
    os.makedirs(os.path.join(db, "wal"), exist_ok=True)
    series = defaultdict(dict)
    samples = 0
    for line in run([promtool, "tsdb", "dump", db]).splitlines():
        m = DUMP_LINE.match(line)
        if not m:
            sys.exit(f"unexpected dump line: {line}")
        labels = dict(LABEL.findall(m.group(1)))
        name = labels.pop("__name__")
        key = (name, tuple(sorted(labels.items())))
        series[key][int(m.group(3))] = float(m.group(2))
        samples += 1
    return series, samples


def sample_lines(om_file):
    with open(om_file) as f:
        return sum(1 for line in f if not line.startswith("#"))


def select(series, name, **want):
    """The series of `name` whose labels include `want`, as {labels: {ms: value}}."""
    return {
        labels: points
        for (n, labels), points in series.items()
        if n == name and all(dict(labels).get(k) == v for k, v in want.items())
    }


class Checker:
    def __init__(self, scenario):
        self.scenario = scenario
        self.checked = 0
        self.failures = []

    def equal(self, what, got, want):
        self.checked += 1
        if abs(got - want) > 1e-9 * max(1.0, abs(want)):
            self.failures.append(f"{self.scenario}: {what}: promtool read {got}, the run has {want}")


def check_scenario(promtool, kubesim, workdir, scenario):
    name = os.path.basename(os.path.dirname(os.path.abspath(scenario)))
    out = os.path.join(workdir, name)
    om_file = os.path.join(workdir, f"{name}.om")
    db = os.path.join(workdir, f"{name}.tsdb")
    shutil.rmtree(out, ignore_errors=True)
    run([kubesim, "run", scenario, "--out", out, "--no-plots", "--no-trace",
         "--openmetrics", om_file])
    series, samples = dump(promtool, om_file, db)
    c = Checker(name)
    c.equal("samples read back", samples, sample_lines(om_file))
    start_ms = min(min(points) for points in series.values())
    with open(os.path.join(out, "timeseries.csv")) as f:
        rows = list(csv.DictReader(f))
    at = {start_ms + round(float(r["t_seconds"]) * 1000): r for r in rows}
    check_columns(c, series, rows, at)
    check_requests(c, series, rows, start_ms)
    check_hpas(c, series, os.path.join(out, "hpa_decisions.jsonl"), start_ms)
    return c


def check_columns(c, series, rows, at):
    columns = rows[0].keys()
    for col in columns:
        parts = col.split(".")
        if parts[0] == "deployment" and parts[-1] in ("replicas", "ready"):
            d = ".".join(parts[1:-1])
            metric = {"replicas": "kube_deployment_spec_replicas",
                      "ready": "kube_deployment_status_replicas_ready"}[parts[-1]]
            for points in select(series, metric, deployment=d).values():
                for ms, v in points.items():
                    c.equal(f"{metric}{{deployment={d}}} at {ms}", v, float(at[ms][col]))
        if parts[0] == "deployment" and parts[-1] in ("llm_waiting", "llm_running"):
            d = ".".join(parts[1:-1])
            metric = {"llm_waiting": "vllm:num_requests_waiting",
                      "llm_running": "vllm:num_requests_running"}[parts[-1]]
            pods = select(series, metric)
            sums = defaultdict(float)
            for labels, points in pods.items():
                if dict(labels)["pod"].startswith(d + "-"):
                    for ms, v in points.items():
                        sums[ms] += v
            for ms, row in at.items():
                c.equal(f"sum({metric}) of {d} at {ms}", sums.get(ms, 0.0), float(row[col]))
    own = [("kubesim_cost_usd_total", {}, "cluster.cost_usd"),
           ("kubesim_cluster_pending_pods", {}, "cluster.pending_pods")]
    own += [("kubesim_node_pool_nodes", {"pool": col[5:-6]}, col)
            for col in columns if col.startswith("pool.") and col.endswith(".nodes")]
    for metric, labels, col in own:
        found = select(series, metric, **labels)
        c.equal(f"{metric}{labels} series", len(found), 1)
        for points in found.values():
            for ms, v in points.items():
                c.equal(f"{metric}{labels} at {ms}", v, float(at[ms][col]))


def check_requests(c, series, rows, start_ms):
    services = sorted({col.split(".")[1] for col in rows[0] if col.startswith("service.")})
    for s in services:
        served = failed = 0.0
        want = {}
        for r in rows:
            served += float(r[f"service.{s}.served"])
            failed += float(r[f"service.{s}.failed"])
            want[start_ms + round(float(r["t_seconds"]) * 1000)] = (served, failed)
        source = select(series, "istio_requests_total", reporter="source",
                        destination_service_name=s)
        ok = select(series, "istio_requests_total", reporter="source",
                    destination_service_name=s, response_code="200")
        count = select(series, "istio_request_duration_milliseconds_count",
                       destination_service_name=s)
        for ms, (sv, fv) in want.items():
            total = sum(points.get(ms, 0.0) for points in source.values())
            c.equal(f"sum(istio_requests_total{{source,{s}}}) at {ms}", total, sv + fv)
            c.equal(f"istio_requests_total{{source,{s},200}} at {ms}",
                    sum(p.get(ms, 0.0) for p in ok.values()), sv)
            c.equal(f"istio_request_duration_milliseconds_count{{{s}}} at {ms}",
                    sum(p.get(ms, 0.0) for p in count.values()), sv)


def check_hpas(c, series, decisions_file, start_ms):
    decisions = defaultdict(list)
    with open(decisions_file) as f:
        for line in f:
            d = json.loads(line)
            ms = start_ms + round(d["time_seconds"] * 1000)
            decisions[d["hpa"]].append((ms, d["desired_replicas"]))
    for labels, points in select(series, "kube_horizontalpodautoscaler_status_desired_replicas").items():
        hpa = dict(labels)["horizontalpodautoscaler"]
        for ms, v in points.items():
            # A sync at the very instant of the sample is seen or not, as the two events fell
            # in the run's queue: either value is right, no other.
            before = [desired for t, desired in decisions[hpa] if t < ms]
            at = [desired for t, desired in decisions[hpa] if t == ms]
            want = float(before[-1] if before else 0)
            if at and v == at[-1]:
                want = float(at[-1])
            c.equal(f"hpa {hpa} desired at {ms}", v, want)


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    promtool, kubesim, workdir = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    failures = []
    for scenario in sys.argv[4:]:
        c = check_scenario(promtool, kubesim, workdir, scenario)
        status = "ok" if not c.failures else f"{len(c.failures)} DIFFERENCES"
        print(f"{c.scenario}: {c.checked} values read back by promtool compared with the run's files: {status}")
        failures += c.failures
    for f in failures[:20]:
        print(f, file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
