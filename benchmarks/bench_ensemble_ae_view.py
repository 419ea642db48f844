"""Does the autoencoder's reconstruction-error view help the hierarchical ensemble?

Fits the `fast` preset with and without `use_autoencoder_view` on a synthetic mission with a seed that was
not used for tuning, predicts the held-out last part and scores both with the same metrics.

Run:  python benchmarks/bench_ensemble_ae_view.py [--days 60] [--seed 7] [--train-fraction 0.7]
Writes benchmarks/results/ensemble_ae_view.json and prints a table.
"""
import argparse
import json
import resource
import time
from pathlib import Path

import pandas as pd

from esa_adb_hier.ensemble import HierarchicalConfig, HierarchicalDetector
from _common import write_result
from esa_adb_hier.evaluation import esa_scores
from esa_adb_hier.synthetic import make_mission

RESULTS = Path(__file__).parent / "results" / "ensemble_ae_view.json"
AE_SETTINGS = {"epochs": 8, "patience": 3, "max_train_windows": 5000, "max_val_windows": 2000}


def run(mission, train_fraction: float, ae_view: bool) -> dict:
    cut = int(len(mission) * train_fraction)
    train, test = mission.iloc(0, cut), mission.iloc(cut, len(mission))
    cfg = HierarchicalConfig.preset("fast").replace(use_autoencoder_view=ae_view, autoencoder=AE_SETTINGS if ae_view
                                                    else {})
    t0 = time.perf_counter()
    det = HierarchicalDetector(cfg, progress=False).fit(train)
    t1 = time.perf_counter()
    pred = det.predict(test)
    t2 = time.perf_counter()
    s = esa_scores(test.labels, pred["is_anomaly"])
    keep = ("EW_precision", "EW_recall", "EW_F_0.50", "alarming_precision", "AFF_F_0.50")
    return {**{k: float(s[k]) for k in keep}, "fit_s": round(t1 - t0, 1), "predict_s": round(t2 - t1, 1),
            "events_scored": int(test.select_labels()["ID"].nunique())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--train-fraction", type=float, default=0.7)
    a = ap.parse_args()
    mission = make_mission(days=a.days, seed=a.seed)
    res = {"data": f"make_mission(days={a.days}, seed={a.seed}), fit on the first {a.train_fraction:.0%}, score the "
                   "rest",
           "preset": "fast", "autoencoder_settings": AE_SETTINGS,
           "without_view": run(mission, a.train_fraction, False), "with_view": run(mission, a.train_fraction, True),
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    write_result(RESULTS, res, {**vars(a), "autoencoder_settings": AE_SETTINGS})
    print(pd.DataFrame({k: res[k] for k in ("without_view", "with_view")}).round(3).to_string())


if __name__ == "__main__":
    main()
