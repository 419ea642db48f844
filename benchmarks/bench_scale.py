"""The same fit of the hierarchical ensemble three ways: joblib with n_jobs=1, joblib with n_jobs=2, and a Dask
`LocalCluster` of 2 worker processes (one thread each) with the arrays sent, plus the same cluster with the workers
reading their channel from a raw mission directory (`data_path`). Reports wall times (median of `--runs` runs; the fit
only; one untimed warm-up fit first with each pool of worker processes, which start and import the package once) and
whether each way's predictions equal the n_jobs=1 ones bit for bit.

The mission is `make_mission(30, seed=11)` on 4 target channels, written in the raw ESA-ADB layout and read back (so the
data-path workers read the very data being fitted); the fit is on the first 70 %, predictions on the rest.

    python benchmarks/bench_scale.py [--preset paper] [--runs 2]

Writes benchmarks/results/scale.json and prints a table. The machine's load average is recorded with the figures:
on a shared machine the speed-up of two workers is bounded by the cores that are actually free.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, write_result  # noqa: E402

CHANNELS = ["channel_41", "channel_47", "channel_12", "channel_57"]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--days", type=float, default=30)
    a = ap.parse_args(argv)
    import pandas as pd
    from dask.distributed import Client, LocalCluster
    from esa_adb_hier.data import load_mission
    from esa_adb_hier.ensemble import HierarchicalConfig, HierarchicalDetector
    from esa_adb_hier.synthetic import make_mission
    from esa_adb_hier.synthetic_raw import write_raw_mission

    tmp = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    write_raw_mission(make_mission(a.days, seed=11, channels=CHANNELS), tmp / "raw")
    m = load_mission(tmp / "raw", progress=False)
    cut = int(len(m) * 0.7)
    train, test = m.iloc(0, cut), m.iloc(cut, len(m))
    cfg = HierarchicalConfig.preset(a.preset)
    print(f"mission: {len(m)} rows, targets {m.target_channels}; fit on {len(train)} rows, preset {a.preset}", flush=True)

    def fit(n_jobs: int, **kw):
        t0 = time.perf_counter()
        det = HierarchicalDetector(cfg.replace(n_jobs=n_jobs), progress=False).fit(train, **kw)
        return time.perf_counter() - t0, det.predict(test)

    ways = {"joblib n_jobs=1": lambda: fit(1), "joblib n_jobs=2": lambda: fit(2)}
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    ways["dask 2 workers (arrays sent)"] = lambda: fit(1, client=client)
    ways["dask 2 workers (data_path)"] = lambda: fit(1, client=client, data_path=tmp / "raw")
    rows, ref = {}, None
    try:
        for name in ("joblib n_jobs=2", "dask 2 workers (arrays sent)"):     # warm-up, untimed: pools start, import
            print(f"warm-up: {name} {ways[name]()[0]:.1f} s", flush=True)
        for r in range(a.runs):
            for name, run in ways.items():
                wall, pred = run()
                if ref is None: ref = pred
                same = bool(pred.equals(ref) and (pred.dtypes == ref.dtypes).all())
                e = rows.setdefault(name, {"wall_s": [], "identical_predictions": True})
                e["wall_s"].append(round(wall, 2)); e["identical_predictions"] &= same
                print(f"run {r + 1}: {name:30s} {wall:7.1f} s  identical={same}", flush=True)
    finally:
        client.close(); cluster.close()
    base = statistics.median(rows["joblib n_jobs=1"]["wall_s"])
    for e in rows.values():
        e["median_wall_s"] = round(statistics.median(e["wall_s"]), 2)
        e["speedup_vs_n_jobs_1"] = round(base / e["median_wall_s"], 2)
    out = {"mission": {"days": a.days, "seed": 11, "channels": CHANNELS, "rows": len(m), "fit_rows": len(train),
                       "predict_rows": len(test)},
           "preset": a.preset, "runs": a.runs, "cpu_count": os.cpu_count(), "load_average_at_end": list(os.getloadavg()),
           "fit": rows}
    print(pd.DataFrame({k: {"median wall (s)": v["median_wall_s"], "speed-up": v["speedup_vs_n_jobs_1"],
                            "identical": v["identical_predictions"]} for k, v in rows.items()}).T.to_string())
    write_result(RESULTS / "scale.json", out, config={"preset": a.preset, "runs": a.runs, "days": a.days})
    return out


if __name__ == "__main__":
    main()
