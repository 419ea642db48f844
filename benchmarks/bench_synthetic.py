"""Benchmark of the synthetic mission generator: time and peak memory of `make_mission` (30 / 120 / 365 days x 76
channels) and of `generate_raw_mission` (1 year, all channels, and 5114 days of one channel), extrapolated to
ESA-ADB Mission 1 (5114 days, 76 channels, ~775 M raw points).

Every measurement runs in a fresh process (so peak memory is its own, from `resource.getrusage`), several times; the
median is reported. A reference (a float64 random walk with as many values as the mission has grid values, made in
the same process) gives a machine-independent ratio.

    python benchmarks/bench_synthetic.py            # full run, a few minutes
    python benchmarks/bench_synthetic.py --quick    # smaller sizes, one repeat
"""
import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

N_CHANNELS, FULL_DAYS, GRID_PER_DAY = 76, 5114, 2880
RESULTS = Path(__file__).resolve().parent / "results" / "synthetic.json"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024          # Linux: kB


def _reference_s(n_values: int) -> float:
    "A float64 random walk of `n_values` values, in chunks of 10 M (the unit of the ratios)."
    import numpy as np
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    left = n_values
    while left > 0:
        k = min(left, 10_000_000)
        np.cumsum(rng.standard_normal(k)).astype(np.float32)
        left -= k
    return time.perf_counter() - t0


def _job(task: str, days: float, channels, q):
    import numpy as np  # noqa: F401  (imports are part of the baseline, not of the measurement)
    from esa_adb_hier.synthetic import make_mission
    from esa_adb_hier.synthetic_raw import generate_raw_mission
    base = _peak_mb()
    out = {}
    t0 = time.perf_counter(); c0 = time.process_time()
    if task == "make":
        m = make_mission(days=days, seed=0, channels=channels)
        out.update(rows=len(m), channels=len(m.channel_names), events=int(m.labels["ID"].nunique()))
    else:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
            info = generate_raw_mission(Path(d) / "mission", days=days, seed=0, channels=channels)
            size = sum(p.stat().st_size for p in Path(d).rglob("*") if p.is_file())
            out.update(rows=info["grid_points"], channels=info["channels"], raw_points=info["raw_points"],
                       disk_mb=size / 2**20)
    out.update(seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0,
               peak_mb=_peak_mb(), baseline_mb=base)
    out["reference_s"] = _reference_s(out["rows"] * out["channels"])
    q.put(out)


def measure(task: str, days: float, channels=None, repeats: int = 3) -> dict:
    "Median over `repeats` fresh processes of one task."
    ctx = mp.get_context("spawn")
    runs = []
    for _ in range(repeats):
        q = ctx.Queue()
        p = ctx.Process(target=_job, args=(task, days, channels, q))
        p.start(); r = q.get(); p.join()
        if p.exitcode: raise RuntimeError(f"{task} {days} days failed with exit code {p.exitcode}")
        runs.append(r)
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    for k in ("rows", "channels", "events", "raw_points"):
        if k in med: med[k] = int(round(med[k]))
    med.update(task=task, days=days, repeats=repeats, seconds_all=[round(r["seconds"], 2) for r in runs],
               ratio_to_reference=med["seconds"] / max(med["reference_s"], 1e-9))
    med["grid_values_per_s"] = med["rows"] * med["channels"] / med["seconds"]
    if "raw_points" in med: med["raw_points_per_s"] = med["raw_points"] / med["seconds"]
    return med


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and one repeat (a smoke test)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    reps = 1 if a.quick else a.repeats
    make_days = (10, 30) if a.quick else (30, 120, 365)
    gen_days = 30 if a.quick else 365
    full_days = 365 if a.quick else FULL_DAYS
    rows = [measure("make", d, repeats=reps) for d in make_days]
    gen = measure("generate", gen_days, repeats=max(1, min(reps, 2)))
    one = measure("generate", full_days, channels=["channel_41"], repeats=1)
    rows += [gen, one]

    # extrapolation to Mission 1: time scales with days (linear in samples); memory is one channel plus the plan
    full = {"days": FULL_DAYS, "channels": N_CHANNELS,
            "seconds_from_1_year": gen["seconds"] * FULL_DAYS / gen_days,
            "seconds_from_one_full_channel": one["seconds"] * N_CHANNELS,
            "cpu_seconds_from_1_year": gen["cpu_seconds"] * FULL_DAYS / gen_days,
            "cpu_seconds_from_one_full_channel": one["cpu_seconds"] * N_CHANNELS,
            "raw_points_from_1_year": gen["raw_points"] * FULL_DAYS / gen_days,
            "peak_mb_one_full_channel": one["peak_mb"],
            "make_mission_grid_gb_float32": FULL_DAYS * GRID_PER_DAY * N_CHANNELS * 4 / 2**30}
    res = {"machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
                       "load_average_at_start": os.getloadavg()},
           "quick": a.quick, "runs": rows, "mission1_extrapolation": full,
           "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    from _common import write_result
    write_result(a.out, res, vars(a))

    print(f"{'task':9} {'days':>5} {'chan':>4} {'grid rows':>11} {'raw points':>12} {'s (median)':>10} {'cpu s':>7} "
          f"{'x ref':>6} {'peak MB':>8} {'raw pts/s':>11}")
    for r in rows:
        raw = f"{r['raw_points']:>12,}" if "raw_points" in r else f"{'-':>12}"
        rate = f"{r['raw_points_per_s']:>11,.0f}" if "raw_points" in r else f"{'-':>11}"
        print(f"{r['task']:9} {r['days']:>5} {r['channels']:>4} {r['rows']:>11,} {raw} "
              f"{r['seconds']:>10.1f} {r['cpu_seconds']:>7.1f} {r['ratio_to_reference']:>6.1f} {r['peak_mb']:>8.0f} "
              f"{rate}")
    print(f"Mission 1 ({FULL_DAYS} days x {N_CHANNELS} channels): ~{full['raw_points_from_1_year'] / 1e6:,.0f} M raw "
          "points; "
          f"generate_raw_mission ~{full['seconds_from_1_year'] / 60:.0f} min wall / "
          f"{full['cpu_seconds_from_1_year'] / 60:.0f} min CPU "
          f"(from 1 year), ~{full['seconds_from_one_full_channel'] / 60:.0f} min wall / "
          f"{full['cpu_seconds_from_one_full_channel'] / 60:.0f} min CPU (from one full channel x 76); "
          f"peak memory ~{full['peak_mb_one_full_channel']:,.0f} MB (one full channel); "
          f"make_mission would need {full['make_mission_grid_gb_float32']:.1f} GB for the grid alone")
    print(f"written {a.out}")


if __name__ == "__main__":
    main()
