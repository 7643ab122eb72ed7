#!/usr/bin/env python3
"""CPU a pod got in each CFS period, rebuilt from a cfsload result with --gaps.

    periods.py RESULT.json [POD]

A request ran from start_us to done_us except in its recorded off-CPU gaps
(> 200 us; at most 16 per request are recorded, so requests with 16 gaps are
left out as possibly incomplete, and gaps under 200 us count as running).
With the pod's grid_phase_us (from cfsload's calibration) the time line is cut
at the period boundaries, and for each period the CPU used is summed.
Printed: the quota, how many periods were busy, the CPU used in them
(max, and how many used more than the quota), split into the first period
of a busy spell (the one after an idle period: the pool is full when it
starts) and the others; and the throttled waits (gaps > 2 ms): how many
end within 1 ms of a boundary.
"""
import json
import statistics
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        d = json.load(f)
    pods = [p for p in d["pods"] if len(sys.argv) < 3 or p["name"] == sys.argv[2]]
    for p in pods:
        per, q, gp = p["period_us"], p["quota_us"], p.get("grid_phase_us")
        if "gaps" not in p:
            print(f"{p['name']}: no gaps in the result (run cfsload with --gaps)")
            continue
        if gp is None:
            print(f"{p['name']}: period grid unknown (no calibration)")
            continue
        gaps = {}
        for i, a, b in p["gaps"]:
            gaps.setdefault(i, []).append((a, b))
        segs = []
        skipped = 0
        for i, (a, s, e, dn) in enumerate(p["requests"]):
            if s < 0 or dn < 0:
                continue
            g = gaps.get(i, [])
            if len(g) >= 16:
                skipped += 1
                continue
            cur = s
            for x, y in g:
                segs.append((cur, x))
                cur = y
            segs.append((cur, dn))
        # period k covers [k*per - gp, (k+1)*per - gp) in run time
        use = {}
        for x, y in segs:
            t = x
            while t < y:
                k = (t + gp) // per
                end = min(y, (k + 1) * per - gp)
                use[k] = use.get(k, 0) + (end - t)
                t = end
        ks = sorted(use)
        first = [use[k] for k in ks if (k - 1) not in use]
        rest = [use[k] for k in ks if (k - 1) in use]
        thr = [(a, b) for lst in gaps.values() for a, b in lst if b - a > 2000]
        at_boundary = sum(1 for a, b in thr if min((b + gp) % per, per - (b + gp) % per) < 1000)
        print(f"{p['name']}: quota {q} us / period {per} us, grid phase {gp} us, "
              f"{len(ks)} busy periods ({skipped} requests with 16 gaps left out)")
        for name, xs in (("first of a spell", first), ("others", rest)):
            if not xs:
                continue
            over = sum(1 for x in xs if q > 0 and x > q + 200)
            print(f"  {name:<16}: {len(xs):4d} periods, CPU used mean {statistics.fmean(xs) / 1000:.1f} ms, "
                  f"max {max(xs) / 1000:.1f} ms, above quota (+0.2 ms) in {over}")
        print(f"  throttled waits (> 2 ms): {len(thr)}, ending within 1 ms of a boundary: {at_boundary}")


if __name__ == "__main__":
    main()
