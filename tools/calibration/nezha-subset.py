#!/usr/bin/env python3
"""Cut the subset of the Nezha OnlineBoutique metrics that scenarios/calibrate-boutique uses.

Source: github.com/IntelligentDDS/Nezha, commit d8140101fdb4e7dfb60d3ef9f64706f382b68470,
rca_data/2022-08-22/metric/<pod>_metric.csv (MIT, (c) 2023 IntelligentDDS; Yu et al., ESEC/FSE
2023). Kept: the rows of 08:00-12:00 UTC (fault-free: the last injected fault, at 07:53:33, ends
at 07:56:33) and the columns calibrate reads (the pod name is the file's). Values are copied as written.

Usage: nezha-subset.py NEZHA_DIR OUT_DIR (NEZHA_DIR holds online-boutique-2022-08-22/).
"""
import csv
import pathlib
import sys

COLUMNS = ["Time", "CpuUsage(m)", "MemoryUsage(Mi)", "PodServerLatencyP90(s)",
           "PodServerLatencyP99(s)", "PodWorkload(Ops)"]
FROM, TO = "2022-08-22 08:00", "2022-08-22 12:00"


def main(src, out):
    metric = pathlib.Path(src) / "online-boutique-2022-08-22" / "metric"
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(metric.glob("*_metric.csv")):
        service = path.name.split("-")[0]
        with open(path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if FROM <= r["Time"][:16] < TO]
        with open(out / f"{service}.csv", "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(COLUMNS)
            for r in rows:
                w.writerow([r[c] for c in COLUMNS])
        print(f"{service}: {len(rows)} rows")


if __name__ == "__main__":
    main(*sys.argv[1:3])
