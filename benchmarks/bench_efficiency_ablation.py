"""Do the paper preset's cost savings change what it finds? The paper preset fitted three times on one group of
channels of a synthetic mission: as it is (the authors' selection of pooled columns; nominal-row thinning, early
stopping on x_n and 32-bin histograms), with every pooled column, and with every pooled column and the three training
settings off (the base models then train on every column and row, 1000 trees, 256 bins).

`make_mission(days, seed=7)` restricted to `--channels` (default: the six channels of group 8, which carry most
events), fit on the first 70 %, score the last 30 %. Reports event-wise F0.5 (ESA-ADB, timestamp version), precision,
recall, alarming precision, fit and predict seconds and the number of trees, median over `--repeats` fits of the wall
times.

python benchmarks/bench_efficiency_ablation.py [--days 60] [--channels channel_41,...] [--n-jobs 2] [--repeats 1]

Writes benchmarks/results/efficiency_ablation.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from esa_adb_hier.ensemble import HierarchicalConfig, HierarchicalDetector
from _common import write_result
from esa_adb_hier.evaluation import esa_scores

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "efficiency_ablation.json"
GROUP8 = "channel_41,channel_42,channel_43,channel_44,channel_45,channel_46"
KEYS = ("EW_F_0.50", "EW_precision", "EW_recall", "alarming_precision")


def variants() -> dict:
    paper = HierarchicalConfig.preset("paper")
    every = paper.replace(feature_set="all")
    return {"paper preset (authors' columns; thinning, early stopping, 32 bins)": paper,
            "paper, every pooled column": every,
            "paper, every pooled column, efficiency settings off": every.replace(thin_nominal=False, xgb={**paper.xgb,
                "early_stopping_rounds": 0, "max_bin": 256})}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--channels", default=GROUP8)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    a = ap.parse_args()
    import pandas as pd
    from esa_adb_hier.synthetic import make_mission
    chans = a.channels.split(",")
    m = make_mission(days=a.days, seed=7, channels=chans)
    cut = int(len(m) * 0.7); train, test = m.iloc(0, cut), m.iloc(cut, len(m))
    lab = test.labels[test.labels["Channel"].isin(chans)].copy()
    lab["StartTime"] = lab["StartTime"].clip(lower=test.start); lab["EndTime"] = lab["EndTime"].clip(upper=test.end)
    res = {}
    for name, cfg in variants().items():
        fits, preds = [], []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            det = HierarchicalDetector(cfg.replace(n_jobs=a.n_jobs), progress=False).fit(train)
            fits.append(time.perf_counter() - t0)
            t0 = time.perf_counter(); pred = det.predict(test); preds.append(time.perf_counter() - t0)
        es = esa_scores(lab, pred["is_anomaly"], full_range=(test.index[0], test.index[-1]))
        trees = [c["model"].get("trees", 0) for ch in det.models_.values() for sc in ch.values()
                 for c in sc["configs"]]
        res[name] = {**{k: float(es[k]) for k in KEYS}, "alarm_share": float(pred["is_anomaly"].mean()),
                     "fit_s_median": round(float(np.median(fits)), 1),
                     "predict_s_median": round(float(np.median(preds)), 1),
                     "mean_trees_per_base_model": round(float(np.mean(trees)), 1),
                     "layer1_s": round(det.timings_["fit"]["layer1"], 1)}
        print(name, json.dumps(res[name]), flush=True)
    out = {"data": f"make_mission(days={a.days}, seed=7), channels {chans}, fit first 70 % / score last 30 %",
           "events_scored": int(lab["ID"].nunique()), "n_jobs": a.n_jobs, "repeats": a.repeats, "results": res}
    write_result(OUT, out, vars(a)); print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
