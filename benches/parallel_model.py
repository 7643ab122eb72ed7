#!/usr/bin/env python3
"""The node-major plane's parallel model (issue 51): measured on this machine, predicted for more.

Runs a scenario with `kubesim run --threads 1` and `--threads 2`, alternating, and reads what
each run's run.json says about its all-lanes advances (the `lanes` object: the wall time the
control thread spent in them, each shard's busy time, how many there were). From those:

  C     the serial part: everything but the all-lanes advances (the control plane, routing,
        the touches' lane work), measured at two threads: wall - sync_seconds.
  W     the lanes' work at the all-lanes advances on one thread: shard_busy_seconds[0] at 1.
  k     the cross-core factor: the shards' summed busy time at two threads over W (their inputs
        are written on the control thread's core, so a second core reads them from afar).
  o     the overhead per all-lanes advance at two threads: (sync_seconds - the busiest shard's
        busy time) / syncs — imbalance, waking the lanes' threads, and here sharing two cores
        with the drawing thread.

The prediction for N cores, each thread on its own core:

  T(N) = C + k * W / N + syncs * o'

with o' between 0 (no overhead) and the o measured here (a bound: on a machine with cores to
spare the drawing thread no longer competes with the lanes'). k is assumed to stay what two
cores measured; a machine whose cores share less (two sockets) would make it larger.

Usage: python3 benches/parallel_model.py SCENARIO [--bin target/release/kubesim] [--repeats 2]
       (benches/cluster-day.sh's generated day: python3 benches/cluster_day.py DIR first)
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def run(binary, scenario, threads, out):
    """One run; its run.json."""
    command = [binary, "run", scenario, "--no-plots", "--no-trace", "--threads", str(threads),
               "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    info = json.loads((out / "run.json").read_text())
    if "lanes" not in info:
        sys.exit(f"{scenario} ran on the exact plane: {done.stderr.strip()}")
    return info


def fit(one, two):
    """The model's terms from a one-thread and a two-thread run."""
    lanes1, lanes2 = one["lanes"], two["lanes"]
    work = lanes1["shard_busy_seconds"][0]
    busy2 = lanes2["shard_busy_seconds"]
    syncs = lanes2["syncs"]
    return {
        "serial": two["wall_seconds"] - lanes2["sync_seconds"],
        "serial_one_thread": one["wall_seconds"] - lanes1["sync_seconds"],
        "work": work,
        "cross_core": sum(busy2) / work,
        "syncs": syncs,
        "overhead": (lanes2["sync_seconds"] - max(busy2)) / syncs,
        "wall1": one["wall_seconds"],
        "wall2": two["wall_seconds"],
        "sync1": lanes1["sync_seconds"],
        "sync2": lanes2["sync_seconds"],
        "busy2": busy2,
    }


def predict(m, cores, overhead):
    return m["serial"] + m["cross_core"] * m["work"] / cores + m["syncs"] * overhead


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario")
    parser.add_argument("--bin", default="target/release/kubesim")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    fits = []
    with tempfile.TemporaryDirectory(prefix="kubesim-parallel-model-") as work:
        for r in range(args.repeats):
            one = run(args.bin, args.scenario, 1, Path(work) / f"t1-{r}")
            two = run(args.bin, args.scenario, 2, Path(work) / f"t2-{r}")
            fits.append(fit(one, two))
    print(f"{'run':<4} {'wall 1t':>8} {'sync 1t':>8} {'wall 2t':>8} {'sync 2t':>8} "
          f"{'busy 2t (per shard)':>20}")
    for i, m in enumerate(fits):
        busy = " / ".join(f"{b:.2f}" for b in m["busy2"])
        print(f"{i:<4} {m['wall1']:>8.2f} {m['sync1']:>8.2f} {m['wall2']:>8.2f} "
              f"{m['sync2']:>8.2f} {busy:>20}")
    mean = {k: sum(f[k] for f in fits) / len(fits) for k in fits[0] if k != "busy2"}
    print()
    print(f"serial part C           {mean['serial']:.2f} s at two threads "
          f"({mean['serial_one_thread']:.2f} s at one)")
    print(f"lanes' work W           {mean['work']:.2f} s on one thread, "
          f"at {mean['syncs']:.0f} all-lanes advances")
    print(f"cross-core factor k     {mean['cross_core']:.2f}")
    print(f"overhead per advance o  {mean['overhead'] * 1e6:.0f} us at two threads")
    print()
    print(f"{'cores':>5} {'predicted wall (s)':>24}")
    for cores in (1, 2, 4, 16, 64):
        if cores == 1:
            print(f"{cores:>5} {mean['wall1']:>24.1f}   (measured)")
            continue
        low = predict(mean, cores, 0.0)
        high = predict(mean, cores, mean["overhead"])
        note = "   (measured: %.1f)" % mean["wall2"] if cores == 2 else ""
        print(f"{cores:>5} {low:>11.1f} to {high:<10.1f}{note}")
    print(f"\nno core count goes below C = {mean['serial']:.1f} s: the control thread's part")


if __name__ == "__main__":
    main()
