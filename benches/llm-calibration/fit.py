#!/usr/bin/env python3
"""Fit the roofline's coefficients for a GPU on the measured runs of the allowed model families.

    python3 benches/llm-calibration/fit.py target/release/kubesim

What the public runs can identify, and what they cannot:
- computeEfficiency stays at its prior (0.6 of the dense peak): the runs' prompts come from the
  prefix cache, so their steps hold too few prompt tokens to measure it.
- memoryEfficiency (0.8 of the datasheet bandwidth) and stepOverheadUs (1 ms) stay at their
  priors too: the one model the fit may use (Llama-2-70B) runs at a single tensor-parallel
  degree (4), where a lower bandwidth, a larger fixed step cost and a dearer all-reduce look
  alike. Fitted together on it, bandwidth drops to 0.74 (or the overhead doubles) and every TP 1
  and TP 2 prediction gets 10–20 % slower than measured.
- allReduceUs is fitted: it is what TP 4 adds to a step (160 all-reduces for Llama-2-70B), and
  the only coefficient these runs tell apart.

The fit minimises, over the Llama-2-70B stages the real server carried, the sum of squared
relative errors of the mean ITL and E2E latency and a quarter of that of the mean TTFT, by a
golden-section search over allReduceUs in [0, 100] µs. Prints the coefficients as
assets/llm/roofline.yaml holds them.
"""

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import replay  # noqa: E402

PRIORS = {"computeEfficiency": 0.6, "memoryEfficiency": 0.8, "stepOverheadUs": 1000.0}


def loss(kubesim, runs, all_reduce_us):
    roofline = dict(PRIORS, allReduceUs=round(all_reduce_us, 2))
    total = 0.0
    for _, real, sim in replay.replay(kubesim, runs, roofline, fitted_only=True):
        if real["failed"] > 0:
            continue
        rel = lambda m: (sim[m] - real[m]) / real[m]  # noqa: E731
        total += rel("itl") ** 2 + rel("e2e") ** 2 + 0.25 * rel("ttft") ** 2
    return total


def golden_section(f, low, high, tolerance):
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low, high
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tolerance:
        print(f"  [{a:.2f}, {b:.2f}] loss {min(fc, fd):.5f}", file=sys.stderr)
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return (a + b) / 2


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("kubesim")
    p.add_argument("--runs", default=os.path.join(replay.HERE, "data", "runs.csv"))
    args = p.parse_args()
    best = golden_section(lambda x: loss(args.kubesim, args.runs, x), 0.0, 100.0, 0.5)
    print(f"# loss {loss(args.kubesim, args.runs, best):.5f}")
    for key, value in PRIORS.items():
        print(f"{key}: {value}")
    print(f"allReduceUs: {best:.1f}")


if __name__ == "__main__":
    main()
