#!/usr/bin/env python3
"""Every shipped scenario on the exact plane (`--exact-plane`) and on the node-major plane (`--threads 1`), compared.

For each scenario: whether the node-major plane ran it (else the reason kubesim gave), and for
each output file that differs, how: report.json's changed values with both numbers, and for the
line files (timeseries.csv, *.jsonl) how many lines differ. This is the list issue 51's
re-baseline asks for; the differences must come from events at one microsecond (whose order the
node-major plane defines by node) and be explained where they are not.

Usage: python3 benches/node_major_vs_exact.py [--bin target/release/kubesim] [SCENARIO_DIR...]
       (default: every scenarios/*/scenario.yaml)
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SKIP = {"run.json", "scenario.resolved.yaml"}


def run(binary, scenario, out, plane):
    command = [binary, "run", str(scenario), "--no-plots", "--no-trace", "--out", str(out)] + plane
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    return done.stderr


def leaves(value, path=""):
    """Every number and string in a JSON document, by its path."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{path}[{i}]")
    else:
        yield path, value


def compare_report(a, b):
    left = dict(leaves(json.loads(a.read_text())))
    right = dict(leaves(json.loads(b.read_text())))
    changes = []
    for key in sorted(set(left) | set(right)):
        x, y = left.get(key), right.get(key)
        if x != y:
            rel = ""
            if isinstance(x, (int, float)) and isinstance(y, (int, float)) and x:
                rel = f" ({(y - x) / abs(x) * 100:+.2g} %)"
            changes.append(f"    {key}: {x} -> {y}{rel}")
    return changes


def compare_lines(a, b):
    left, right = a.read_text().splitlines(), b.read_text().splitlines()
    differing = sum(1 for x, y in zip(left, right) if x != y) + abs(len(left) - len(right))
    return differing, max(len(left), len(right))


def compare(exact, lanes):
    lines = []
    names = sorted({p.name for p in exact.iterdir()} | {p.name for p in lanes.iterdir()})
    for name in names:
        if name in SKIP:
            continue
        a, b = exact / name, lanes / name
        if not a.exists() or not b.exists():
            lines.append(f"  {name}: only in {'exact' if a.exists() else 'node-major'}")
        elif a.is_dir() or a.read_bytes() == b.read_bytes():
            continue
        elif name == "report.json":
            changes = compare_report(a, b)
            lines.append(f"  report.json: {len(changes)} value(s)")
            lines.extend(changes)
        else:
            differing, total = compare_lines(a, b)
            lines.append(f"  {name}: {differing} of {total} lines")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*")
    parser.add_argument("--bin", default="target/release/kubesim")
    args = parser.parse_args()
    dirs = [Path(d) for d in args.scenarios] or sorted(
        p.parent for p in Path("scenarios").glob("*/scenario.yaml"))
    with tempfile.TemporaryDirectory(prefix="kubesim-planes-") as work:
        for d in dirs:
            scenario = d / "scenario.yaml"
            exact, lanes = Path(work) / f"{d.name}-exact", Path(work) / f"{d.name}-lanes"
            run(args.bin, scenario, exact, ["--exact-plane"])
            said = run(args.bin, scenario, lanes, ["--threads", "1"])
            if "--threads ignored" in said:
                reason = said.split("--threads ignored:", 1)[1].strip().splitlines()[0]
                print(f"{d.name}: exact plane ({reason})")
                continue
            differences = compare(exact, lanes)
            print(f"{d.name}: node-major, {'identical' if not differences else 'differs'}")
            for line in differences:
                print(line)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
