#!/usr/bin/env python3
"""A small CPU-bound HTTP service for calibrate's validation (c).

GET /work burns CPU for a log-normal amount of the thread's own CPU time (mean MEAN_MS, cv CV;
seeded), then answers 200. GET /metrics answers Prometheus' text format: the request counter
and latency histogram of /work (seconds). Threads serve requests at once; Python's GIL makes
them share one core, as processor sharing would. Run it inside a cgroup with a CPU limit.

Usage: server.py PORT [MEAN_MS] [CV] [SEED]
"""
import math
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075,
           0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.count = 0
        self.sum = 0.0
        self.buckets = [0] * len(BUCKETS)

    def observe(self, seconds):
        with self.lock:
            self.count += 1
            self.sum += seconds
            for i, le in enumerate(BUCKETS):
                if seconds <= le:
                    self.buckets[i] += 1

    def text(self):
        with self.lock:
            lines = ["# TYPE http_requests_total counter",
                     f"http_requests_total {self.count}",
                     "# TYPE http_request_duration_seconds histogram"]
            for le, n in zip(BUCKETS, self.buckets):
                lines.append(f'http_request_duration_seconds_bucket{{le="{le}"}} {n}')
            lines.append(f'http_request_duration_seconds_bucket{{le="+Inf"}} {self.count}')
            lines.append(f"http_request_duration_seconds_sum {self.sum}")
            lines.append(f"http_request_duration_seconds_count {self.count}")
        return "\n".join(lines) + "\n"


def main():
    port = int(sys.argv[1])
    mean_ms = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
    cv = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    rng_lock = threading.Lock()
    sigma = math.sqrt(math.log(1 + cv * cv))
    mu = math.log(mean_ms / 1000.0) - sigma * sigma / 2
    stats = Stats()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == "/metrics":
                body = stats.text().encode()
            elif self.path == "/work":
                started = time.monotonic()
                with rng_lock:
                    work = rng.lognormvariate(mu, sigma)
                until = time.thread_time() + work
                x = 0
                while time.thread_time() < until:
                    x += 1
                body = b"ok\n"
                stats.observe(time.monotonic() - started)
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
