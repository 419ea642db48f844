"""Benchmark: load + zero-order-hold resampling of an ESA-ADB raw mission directory.

Writes a 76-channel raw mission (Mission 1 channel table, irregular sampling 30-90 s with transmission gaps,
labels, 11 priority-3 telecommands) for 1 and 2 years as zip-compressed pandas pickles, then times
`load_raw_mission` in a fresh process per run (median of several runs) and records each run's peak resident memory.
Reference measured in the same run: reading the same pickles with `pd.read_pickle` and nothing else (the I/O floor).
Extrapolates to Mission 1 (~775 M raw points, 14 years, 14.7 M grid rows).

    python benchmarks/bench_load.py                 # 1 and 2 years, 3 runs each
    python benchmarks/bench_load.py --years 1 --runs 1

Results: benchmarks/results/load.json and a table on stdout. Wall-clock and CPU seconds are both recorded (with the
1-minute load average): when other processes compete for the CPU, the CPU time is the better estimate of the
uncontended cost.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from esa_adb_hier.core import mission1_channels

HERE = Path(__file__).resolve().parent
START = pd.Timestamp("2000-01-01")
P3 = ["telecommand_36", "telecommand_38", "telecommand_39", "telecommand_40", "telecommand_244", "telecommand_350",
      "telecommand_351", "telecommand_352", "telecommand_353", "telecommand_354", "telecommand_376"]
MISSION1_POINTS = 775_000_000
MISSION1_YEARS = 14
MISSION1_ROWS = 14_728_321


def write_mission(root: Path, years: float, seed: int = 0) -> int:
    "Write a raw mission of `years` years; returns the number of raw points."
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    (root / "channels").mkdir(); (root / "telecommands").mkdir()
    table = mission1_channels()
    table.assign(Target=np.where(table["Target"], "YES", "NO")).to_csv(root / "channels.csv", index=False)
    span = int(years * 365.25 * 86400)
    points = 0
    for i, c in enumerate(table["Channel"]):
        r = np.random.default_rng([seed, i])
        n = int(span / 60 * 1.02)
        steps = r.uniform(30, 90, n)
        gaps = r.random(n) < 1 / 5000                                         # ~ one 1-12 h gap every 3.5 days
        steps[gaps] += r.uniform(3600, 12 * 3600, int(gaps.sum()))
        t = np.cumsum(steps) + r.uniform(0, 60)
        t = t[t < span]
        ns = START.value + (t * 1e9).astype(np.int64) // 1_000_000 * 1_000_000   # millisecond times, as ESA-ADB
        v = np.round(np.cumsum(r.normal(size=len(t))) * 0.05, 3)             # quantised random walk
        pd.DataFrame({c: v}, index=pd.DatetimeIndex(ns.view("M8[ns]"),
                                                    name="datetime")).to_pickle(root / "channels" / f"{c}.zip",
                                                                                compression="zip")
        points += len(t)
    pd.DataFrame({"Telecommand": P3, "Priority": 3}).to_csv(root / "telecommands.csv", index=False)
    for c in P3:
        te = np.sort(rng.uniform(0, span, int(years * 300)))
        pd.DataFrame({c: np.ones(len(te))},
                     index=pd.DatetimeIndex((START.value + (te * 1e9).astype(np.int64)).view("M8[ns]"),
                                            name="datetime")).to_pickle(root / "telecommands" / f"{c}.zip",
                                                                        compression="zip")
    rows = []
    for k in range(int(20 * years)):  # events of 1 min .. 2 days on 1-12 channels
        s = START + pd.Timedelta(seconds=float(rng.uniform(0, span - 3 * 86400)))
        for c in rng.choice(table["Channel"][11:].to_numpy(), int(rng.integers(1, 13)), replace=False):
            rows.append((f"id_{k + 1}", c, s, s + pd.Timedelta(seconds=float(rng.uniform(60, 2 * 86400)))))
    lab = pd.DataFrame(rows, columns=["ID", "Channel", "StartTime", "EndTime"])
    for col in ("StartTime", "EndTime"): lab[col] = lab[col].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
    lab.to_csv(root / "labels.csv", index=False)
    return points


CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import pandas as pd
mode, root = sys.argv[1], Path(sys.argv[2])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cpu = lambda: (lambda r: r.ru_utime + r.ru_stime)(resource.getrusage(resource.RUSAGE_SELF))
c0 = cpu()
if mode == "load":
    from esa_adb_hier.data import load_raw_mission
    t = time.perf_counter(); m = load_raw_mission(root, progress=False); dt = time.perf_counter() - t
    rows, cols = m.values.shape
else:
    t = time.perf_counter()
    for p in sorted((root / "channels").glob("*.zip")): x = pd.read_pickle(p, compression="zip"); del x
    dt = time.perf_counter() - t; rows = cols = 0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": dt, "cpu_seconds": cpu() - c0, "peak_rss_mb": peak / 1024, "start_rss_mb": base / 1024,
                  "rows": rows, "channels": cols}))
"""


def run_child(mode: str, root: Path) -> dict:
    load_before = os.getloadavg()[0]
    r = subprocess.run([sys.executable, "-c", CHILD, mode, str(root)], capture_output=True, text=True)
    if r.returncode != 0: raise RuntimeError(r.stderr[-3000:])
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["load_average_1min"] = (load_before + os.getloadavg()[0]) / 2
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--years", type=float, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", default=None, help="where to write the raw missions (default: a temporary directory)")
    ap.add_argument("--out", default=str(HERE / "results" / "load.json"))
    a = ap.parse_args()
    work = Path(a.workdir or tempfile.mkdtemp(prefix="bench_load_"))
    cases = []
    try:
        for years in a.years:
            root = work / f"mission_{years:g}y"
            if root.exists(): shutil.rmtree(root)
            t = time.perf_counter(); points = write_mission(root, years); t_write = time.perf_counter() - t
            size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
            loads, reads = [], []
            for _ in range(a.runs):
                reads.append(run_child("read", root))
                loads.append(run_child("load", root))
            med = lambda rs, k: statistics.median(r[k] for r in rs)
            case = {"years": years, "channels": 76, "raw_points": points, "files_mb": size / 2**20,
                    "write_seconds": t_write,
                    "grid_rows": loads[0]["rows"], "runs": a.runs,
                    "load_seconds_median": med(loads, "seconds"), "load_seconds_all": [r["seconds"] for r in loads],
                    "load_cpu_seconds_median": med(loads, "cpu_seconds"),
                    "read_only_seconds_median": med(reads, "seconds"), "read_only_cpu_seconds_median": med(reads,
                        "cpu_seconds"),
                    "load_average_1min_median": med(loads, "load_average_1min"),
                    "load_peak_rss_mb_median": med(loads, "peak_rss_mb"), "read_only_peak_rss_mb_median": med(reads,
                        "peak_rss_mb"),
                    "interpreter_rss_mb": med(loads, "start_rss_mb")}
            case["raw_points_per_second"] = points / case["load_seconds_median"]
            case["raw_points_per_cpu_second"] = points / case["load_cpu_seconds_median"]
            case["load_over_read_only"] = case["load_seconds_median"] / case["read_only_seconds_median"]
            cases.append(case)
            shutil.rmtree(root)
    finally:
        if a.workdir is None: shutil.rmtree(work, ignore_errors=True)

    best = max(cases, key=lambda c: c["raw_points"])
    extra = {"points_per_second_basis": best["raw_points_per_second"],
             "mission1_seconds_from_points": MISSION1_POINTS / best["raw_points_per_second"],
             "mission1_cpu_seconds_from_points": MISSION1_POINTS / best["raw_points_per_cpu_second"]}
    if len(cases) >= 2:
        c1, c2 = sorted(cases, key=lambda c: c["years"])[:2]
        slope_t = (c2["load_seconds_median"] - c1["load_seconds_median"]) / (c2["years"] - c1["years"])
        slope_m = (c2["load_peak_rss_mb_median"] - c1["load_peak_rss_mb_median"]) / (c2["years"] - c1["years"])
        extra.update({"seconds_per_year": slope_t,
                      "time_ratio_2x_data": c2["load_seconds_median"] / c1["load_seconds_median"],
                      "mission1_seconds_linear_in_years":
                          c1["load_seconds_median"] + slope_t * (MISSION1_YEARS - c1["years"]),
                      "peak_mb_per_year": slope_m,
                      "mission1_peak_rss_mb_linear_in_years":
                          c1["load_peak_rss_mb_median"] + slope_m * (MISSION1_YEARS - c1["years"])})
    extra["mission1_values_block_mb"] = MISSION1_ROWS * 76 * 4 / 2**20
    result = {"benchmark": "load_raw_mission (read zip pickles + ZOH to 30 s + assemble float32 block)",
              "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                          "pandas": pd.__version__, "numpy": np.__version__},
              "cases": cases, "extrapolation_mission1": extra,
              "goal": {"seconds": 600, "peak_rss_mb": 8192}}
    from _common import write_result
    write_result(a.out, result, vars(a))

    print(f"{'years':>5} {'raw points':>12} {'grid rows':>10} {'load s':>7} {'cpu s':>6} {'read-only s':>11} "
          f"{'ratio':>6} {'Mpts/s':>7} {'Mpts/cpu s':>10} {'peak MB':>8} {'loadavg':>7}")
    for c in cases:
        print(f"{c['years']:>5g} {c['raw_points']:>12,} {c['grid_rows']:>10,} {c['load_seconds_median']:>7.1f} "
              f"{c['load_cpu_seconds_median']:>6.1f} "
              f"{c['read_only_seconds_median']:>11.1f} {c['load_over_read_only']:>6.2f} "
              f"{c['raw_points_per_second'] / 1e6:>7.2f} "
              f"{c['raw_points_per_cpu_second'] / 1e6:>10.2f} {c['load_peak_rss_mb_median']:>8.0f} "
              f"{c['load_average_1min_median']:>7.1f}")
    print("Mission 1 extrapolation:", {k: round(v, 1) for k, v in extra.items()})
    print("written", a.out)


if __name__ == "__main__":
    main()
