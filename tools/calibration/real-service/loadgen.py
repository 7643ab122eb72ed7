#!/usr/bin/env python3
"""Open-loop Poisson load on http://127.0.0.1:PORT/work: RATE requests per second for SECONDS,
each sent at its scheduled time whatever the earlier ones did (a pool of keep-alive
connections), its latency measured from that time to the answer. Prints one JSON line:
requests, failures, p50, p90, p99 (seconds).

Usage: loadgen.py PORT RATE SECONDS [SEED]
"""
import http.client
import json
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

local = threading.local()


def request(port, scheduled):
    try:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local.conn.request("GET", "/work")
        local.conn.getresponse().read()
        return time.monotonic() - scheduled
    except Exception:
        local.__dict__.pop("conn", None)
        return None


def main():
    port, rate, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 7)
    futures = []
    with ThreadPoolExecutor(max_workers=256) as pool:
        start = time.monotonic()
        t = 0.0
        while True:
            t += rng.expovariate(rate)
            if t >= seconds:
                break
            delay = start + t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(request, port, start + t))
    latencies = sorted(f.result() for f in futures if f.result() is not None)
    q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))]
    print(json.dumps({"requests": len(futures), "failures": len(futures) - len(latencies),
                      "p50": q(0.5), "p90": q(0.9), "p99": q(0.99)}))


if __name__ == "__main__":
    main()
