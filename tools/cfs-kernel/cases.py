#!/usr/bin/env python3
"""The cases cfsload runs against the real kernel, and their arrivals files.

    cases.py --list                      names and one-line descriptions
    cases.py --write DIR [CASE...]       DIR/<case>/case.json and DIR/<case>/<pod>.txt
    cases.py --cfsload-args DIR/<case>   cfsload's arguments for a written case,
                                         one per line (without --out)

Every case is deterministic: its arrivals are drawn from random.Random(seed)
(one generator per case, used for its pods in order), so the same seed gives
the same files on every machine.

case.json (all times in microseconds unless the key says otherwise):
  name, description, expect      what the case tests and what to expect
  seed                           random.Random seed of the arrivals
  duration_us                    arrivals lie in [0, duration_us)
  stop_at_duration               true: the run ends at duration_us even with
                                 requests queued (saturated cases; cfsload --end-ms)
  max_drain_us                   otherwise: wait at most this long after the last
                                 arrival for the replies
  cpus                           null, or the CPU list the pods are confined to
                                 (cfsload --cpus, a cpuset)
  pods: [{
    name, workers                server threads taking requests FIFO from one queue
    limit_millicores             CPU limit, null = none
    request_millicores           CPU request
    period_us                    CFS period
    quota_us                     limit * period / 1000 (kubelet), -1 = no limit
    shares                       request * 1024 / 1000, at least 2 (kubelet)
    cpu_per_request_us           CPU time each request burns
    arrival                      {"process": "fixed", "interval_us", "offset_us"}
                                 {"process": "bursts", "size", "every_us", "offset_us"}
                                 {"process": "poisson", "rate_per_s"}
    arrivals_file                "<pod>.txt" next to case.json: lines
                                 "ARRIVAL_US CPU_US"
    requests                     number of requests in it
    offered_millicores           cpu_per_request * requests / duration
  }]
"""
import argparse
import json
import os
import random
import sys

BASE_SEED = 20250601


def pod(name="a", workers=1, limit=None, request=None, period_us=100_000, cpu_us=5_000, arrival=None):
    return {
        "name": name,
        "workers": workers,
        "limit_millicores": limit,
        "request_millicores": request if request is not None else (limit if limit is not None else 1000),
        "period_us": period_us,
        "cpu_per_request_us": cpu_us,
        "arrival": arrival,
    }


def fixed(rate_per_s=None, offset_us=0, interval_us=None):
    if interval_us is None:
        interval_us = round(1_000_000 / rate_per_s)
    return {"process": "fixed", "interval_us": interval_us, "offset_us": offset_us}


def bursts(size, every_us, offset_us=0):
    return {"process": "bursts", "size": size, "every_us": every_us, "offset_us": offset_us}


def poisson(rate_per_s):
    return {"process": "poisson", "rate_per_s": rate_per_s}


S = 1_000_000

CASES = [
    dict(name="01-light-fixed", duration_us=30 * S,
         description="200m limit, 1 worker, 5 ms requests at a fixed 2 req/s: 10 ms of CPU per second against a 20 ms quota per 100 ms period.",
         expect="no throttling; latency = 5 ms of CPU",
         pods=[pod(limit=200, workers=1, cpu_us=5_000, arrival=fixed(2))]),
    dict(name="02-bursts-4w", duration_us=30 * S,
         description="200m limit, 4 workers, bursts of 8 x 5 ms every 1 s: each burst needs 40 ms of CPU, two quotas.",
         expect="every burst throttled at least once; the last request waits for a later period",
         pods=[pod(limit=200, workers=4, cpu_us=5_000, arrival=bursts(8, 1 * S))]),
    dict(name="03-bursts-1w", duration_us=30 * S,
         description="200m limit, 1 worker, bursts of 6 x 5 ms every 0.5 s: 30 ms of CPU per burst against a 20 ms quota.",
         expect="throttled on most bursts; which requests wait depends on where the burst falls in the period",
         pods=[pod(limit=200, workers=1, cpu_us=5_000, arrival=bursts(6, S // 2))]),
    dict(name="04-poisson-20pct", duration_us=30 * S,
         description="500m limit, 2 workers, 5 ms requests, Poisson 20 req/s (20 % of the limit).",
         expect="rare throttling",
         pods=[pod(limit=500, workers=2, cpu_us=5_000, arrival=poisson(20))]),
    dict(name="05-poisson-50pct", duration_us=30 * S,
         description="500m limit, 2 workers, 5 ms requests, Poisson 50 req/s (50 % of the limit).",
         expect="some throttling when both workers are busy for 25 ms of one period",
         pods=[pod(limit=500, workers=2, cpu_us=5_000, arrival=poisson(50))]),
    dict(name="06-poisson-90pct", duration_us=30 * S,
         description="500m limit, 2 workers, 5 ms requests, Poisson 90 req/s (90 % of the limit).",
         expect="frequent throttling and a long latency tail",
         pods=[pod(limit=500, workers=2, cpu_us=5_000, arrival=poisson(90))]),
    dict(name="07-long-requests", duration_us=40 * S,
         description="200m limit, 1 worker, 50 ms requests (longer than the 20 ms quota), Poisson 2 req/s (50 % of the limit).",
         expect="each request needs 3 quotas, so spans 3 periods: latency about 130-230 ms depending on the phase",
         pods=[pod(limit=200, workers=1, cpu_us=50_000, arrival=poisson(2))]),
    dict(name="08-limit-100m", duration_us=30 * S,
         description="100m limit (10 ms quota), 1 worker, 2 ms requests, Poisson 20 req/s (40 % of the limit).",
         expect="throttling when 5 or more requests land in one period",
         pods=[pod(limit=100, workers=1, cpu_us=2_000, arrival=poisson(20))]),
    dict(name="09-two-core-bursts", duration_us=30 * S,
         description="2000m limit, 2 workers, 20 ms requests, bursts of 3 every 250 ms: 60 ms of CPU per burst against a 200 ms quota.",
         expect="no throttling (2 threads cannot use 200 ms in a period); two of each burst's requests take 20 ms and the third 40 ms, so p50 20 ms and p99 40 ms",
         pods=[pod(limit=2000, workers=2, cpu_us=20_000, arrival=bursts(3, S // 4))]),
    dict(name="10-threads-over-limit", duration_us=30 * S,
         description="1000m limit, 4 workers (more threads than the limit, on 2 CPUs), 10 ms requests, Poisson 60 req/s (60 % of the limit).",
         expect="throttling when 2 CPUs burn the 100 ms quota in 50 ms",
         pods=[pod(limit=1000, workers=4, cpu_us=10_000, arrival=poisson(60))]),
    dict(name="11-no-limit", duration_us=30 * S,
         description="No limit, 1 worker, 5 ms requests, Poisson 50 req/s (control: CFS bandwidth off).",
         expect="nr_periods = 0, no throttling; M/D/1 at rho 0.25",
         pods=[pod(limit=None, request=500, workers=1, cpu_us=5_000, arrival=poisson(50))]),
    dict(name="12-shares-split", duration_us=20 * S, stop_at_duration=True, cpus="1",
         description="Two pods on one CPU, no limits, both saturating (4 workers, 10 ms, Poisson 150 req/s each): a requests 250m (shares 256), b 750m (shares 768).",
         expect="CPU split about 1:3 (0.25 / 0.75 cores); latencies grow without bound",
         pods=[pod("a", limit=None, request=250, workers=4, cpu_us=10_000, arrival=poisson(150)),
               pod("b", limit=None, request=750, workers=4, cpu_us=10_000, arrival=poisson(150))]),
    dict(name="13-shares-split-b-limited", duration_us=20 * S, stop_at_duration=True, cpus="1",
         description="As 12, but b requests and is limited to 500m (a limit cannot be below the request): by shares (256:512) b would get 2/3 of the CPU; its quota caps it at 0.5 cores and a takes the rest.",
         expect="CPU split about 1:1 (0.5 / 0.5 cores); b throttled in nearly every period",
         pods=[pod("a", limit=None, request=250, workers=4, cpu_us=10_000, arrival=poisson(150)),
               pod("b", limit=500, request=500, workers=4, cpu_us=10_000, arrival=poisson(150))]),
    dict(name="14-1core-1w-high", duration_us=30 * S,
         description="1000m limit, 1 worker, 10 ms requests, Poisson 80 req/s: one thread cannot exceed one core, so the limit never binds.",
         expect="no throttling (at most a little from slice accounting); M/D/1 at rho 0.8",
         pods=[pod(limit=1000, workers=1, cpu_us=10_000, arrival=poisson(80))]),
    dict(name="15-bursts-1w-period50", duration_us=30 * S,
         description="As 03 (200m, 1 worker, 6 x 5 ms every 0.5 s) with a 50 ms period (10 ms quota).",
         expect="shorter throttled waits than 03, more periods",
         pods=[pod(limit=200, workers=1, period_us=50_000, cpu_us=5_000, arrival=bursts(6, S // 2))]),
    dict(name="16-isolated-phase-sweep", duration_us=30 * S,
         description="200m limit, 1 worker, one 30 ms request every 1.01 s: each arrives after the period timer went idle, 10 ms later in the period than the one before, so 10 arrivals sweep the whole period.",
         expect="latency 30 ms when the request can run 20 ms before the next boundary, else it waits for it: up to about 110 ms; shows where periods start and what an isolated burst gets",
         pods=[pod(limit=200, workers=1, cpu_us=30_000, arrival=fixed(interval_us=1_010_000))]),
    dict(name="17-two-workers-no-limit", duration_us=30 * S,
         description="As 05 (2 workers, 5 ms requests, Poisson 50 req/s) without a limit: a control for what two requests in service at once cost on this machine, CFS bandwidth aside.",
         expect="no periods; any tail beyond 5 ms comes from two threads sharing a CPU, not from a quota",
         pods=[pod(limit=None, request=500, workers=2, cpu_us=5_000, arrival=poisson(50))]),
    dict(name="18-light-fixed-no-limit", duration_us=30 * S,
         description="As 01 (1 worker, 5 ms requests at a fixed 2 req/s) without a limit: a control for the tail of a lone 5 ms request on this machine.",
         expect="no periods; any tail beyond 5 ms is the machine's (timer wake-ups, a busy neighbour), not a quota's",
         pods=[pod(limit=None, request=200, workers=1, cpu_us=5_000, arrival=fixed(2))]),
]


def quota_us(p):
    if p["limit_millicores"] is None:
        return -1
    return max(1000, p["limit_millicores"] * p["period_us"] // 1000)


def shares(p):
    m = p["request_millicores"] or 0
    return max(2, m * 1024 // 1000)


def arrivals(p, duration_us, rng):
    a = p["arrival"]
    out = []
    if a["process"] == "fixed":
        t = a.get("offset_us", 0)
        while t < duration_us:
            out.append(t)
            t += a["interval_us"]
    elif a["process"] == "bursts":
        t = a.get("offset_us", 0)
        while t < duration_us:
            out.extend([t] * a["size"])
            t += a["every_us"]
    elif a["process"] == "poisson":
        t = 0.0
        while True:
            t += rng.expovariate(a["rate_per_s"]) * 1e6
            if t >= duration_us:
                break
            out.append(int(t))
    else:
        raise ValueError(f"unknown arrival process {a['process']}")
    return out


def full_case(i, c):
    case = {
        "name": c["name"],
        "description": c["description"],
        "expect": c.get("expect", ""),
        "seed": BASE_SEED + i,
        "duration_us": c["duration_us"],
        "stop_at_duration": c.get("stop_at_duration", False),
        "max_drain_us": c.get("max_drain_us", 30 * S),
        "cpus": c.get("cpus"),
        "pods": [],
    }
    rng = random.Random(case["seed"])
    files = {}
    for p in c["pods"]:
        q = dict(p)
        q["quota_us"] = quota_us(p)
        q["shares"] = shares(p)
        times = arrivals(p, case["duration_us"], rng)
        q["arrivals_file"] = f"{p['name']}.txt"
        q["requests"] = len(times)
        q["offered_millicores"] = round(len(times) * p["cpu_per_request_us"] * 1000 / case["duration_us"], 1)
        case["pods"].append(q)
        files[q["arrivals_file"]] = "".join(f"{t} {p['cpu_per_request_us']}\n" for t in times)
    return case, files


def write(dirname, only):
    os.makedirs(dirname, exist_ok=True)
    names = []
    for i, c in enumerate(CASES, 1):
        if only and c["name"] not in only:
            continue
        case, files = full_case(i, c)
        d = os.path.join(dirname, case["name"])
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "case.json"), "w") as f:
            json.dump(case, f, indent=1)
            f.write("\n")
        for fn, text in files.items():
            with open(os.path.join(d, fn), "w") as f:
                f.write(f"# {case['name']}: ARRIVAL_US CPU_US\n")
                f.write(text)
        names.append(case["name"])
    return names


def cfsload_args(casedir):
    with open(os.path.join(casedir, "case.json")) as f:
        case = json.load(f)
    args = []
    if case.get("cpus"):
        args += ["--cpus", case["cpus"]]
    if case.get("stop_at_duration"):
        args += ["--end-ms", str(case["duration_us"] // 1000)]
    else:
        args += ["--max-drain-ms", str(case.get("max_drain_us", 30 * S) // 1000)]
    for p in case["pods"]:
        spec = (f"name={p['name']},workers={p['workers']},quota_us={p['quota_us']},"
                f"period_us={p['period_us']},shares={p['shares']},"
                f"arrivals={os.path.join(casedir, p['arrivals_file'])}")
        args += ["--pod", spec]
    return args


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--list", action="store_true")
    g.add_argument("--write", metavar="DIR")
    g.add_argument("--cfsload-args", metavar="CASEDIR")
    ap.add_argument("cases", nargs="*", help="only these cases (with --write)")
    a = ap.parse_args()
    if a.list:
        for c in CASES:
            print(f"{c['name']}: {c['description']}")
    elif a.write:
        known = {c["name"] for c in CASES}
        bad = [n for n in a.cases if n not in known]
        if bad:
            sys.exit(f"cases.py: unknown case(s): {', '.join(bad)}")
        for n in write(a.write, set(a.cases)):
            print(n)
    else:
        print("\n".join(cfsload_args(a.cfsload_args)))


if __name__ == "__main__":
    main()
