"""What the Bayesian model selection (`esa_adb_hier.search`) buys over the `fast` preset as it is, and at what cost.

A synthetic mission (`make_mission(days, seed=7)`) restricted to the six channels of group 8 (channel_41..46): fit on
the first 70 %, score the last 30 % (never seen by the search) with the ESA-ADB corrected event-wise F0.5, its
precision and recall (`evaluation.esa_scores`). Two detectors: the `fast` preset as it is, and the `fast` preset after
`search(HierarchicalDetector, train, "fast", trials=N, seed=S)`, which runs one study per layer (base XGBoost, stacker,
logistic aggregator) with 3 time-series folds inside the 70 %. Both final fits use the whole 70 %.

    python benchmarks/bench_search.py [--trials 6] [--seconds S] [--days 60] [--seed 7] [--search-seed 0]

Writes benchmarks/results/search.json (the search record as a model manifest stores it, the held-out figures of
both detectors, the search's wall seconds) and prints a table.
"""
from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

from _common import write_result
from esa_adb_hier.ensemble import HierarchicalConfig, HierarchicalDetector
from esa_adb_hier.evaluation import esa_scores
from esa_adb_hier.search import search
from esa_adb_hier.synthetic import make_mission

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "search.json"
CHANNELS = [f"channel_{i}" for i in range(41, 47)]
KEYS = ("EW_F_0.50", "EW_precision", "EW_recall")


def held_out(config, train, test) -> dict:
    "Fit `config` on `train`, score `test`: the event-wise figures, alarm share and the fit + predict seconds."
    t0 = time.perf_counter()
    det = HierarchicalDetector(config, progress=False).fit(train)
    pred = det.predict(test, progress=False)
    s = esa_scores(test.labels, pred["is_anomaly"], full_range=(test.start, test.end))
    return {**{k: round(float(s[k]), 4) for k in KEYS}, "alarm_share": round(float(pred["is_anomaly"].mean()), 4),
            "seconds": round(time.perf_counter() - t0, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=6, help="trials per layer")
    ap.add_argument("--seconds", type=float, default=None, help="seconds for the whole search")
    ap.add_argument("--days", type=float, default=60)
    ap.add_argument("--seed", type=int, default=7, help="seed of the synthetic mission")
    ap.add_argument("--search-seed", type=int, default=0)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message=".*penalty")              # scikit-learn 1.8 on l1 logistic models
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("esa_adb_hier.ensemble").setLevel(logging.WARNING)

    mission = make_mission(args.days, seed=args.seed).select_channels(CHANNELS)
    cut = int(len(mission) * 0.7)
    train, test = mission.iloc(0, cut), mission.iloc(cut, len(mission))
    fast = HierarchicalConfig.preset("fast")

    before = held_out(fast, train, test)
    print(f"fast preset as it is: {before}", flush=True)
    t0 = time.perf_counter()
    res = search(HierarchicalDetector, train, fast, trials=args.trials, seconds=args.seconds, seed=args.search_seed)
    search_wall = time.perf_counter() - t0
    print(res, flush=True)
    after = held_out(res.config, train, test)
    print(f"fast preset after the search: {after}", flush=True)

    r = lambda d: (lambda x: None if x is None or x != x else round(float(x), d))
    trials = res.trials.assign(score=res.trials["score"].map(r(4)), seconds=res.trials["seconds"].map(r(1)))
    payload = {
        "data": {"mission": f"make_mission({args.days:g}, seed={args.seed})", "channels": CHANNELS,
                 "train": [str(train.start), str(train.end)], "test": [str(test.start), str(test.end)],
                 "test_events": int(test.select_labels()["ID"].nunique())},
        "held_out": {"fast": before, "fast_searched": after,
                     "gain_EW_F_0.50": round(after["EW_F_0.50"] - before["EW_F_0.50"], 4)},
        "search_seconds": round(search_wall, 1),
        "search": res.to_dict(),
        "trials": trials[["layer", "number", "params", "score", "state", "fold_scores", "seconds"]].to_dict("records"),
        "config": {"fast": fast.to_dict(), "fast_searched": res.config.to_dict()},
    }
    path = write_result(OUT, payload, config={"trials": args.trials, "seconds": args.seconds, "days": args.days,
                                              "seed": args.seed, "search_seed": args.search_seed})
    print(f"{'':22s} {'EW-F0.5':>8s} {'precision':>9s} {'recall':>7s}")
    for name, r in (("fast", before), ("fast + search", after)):
        print(f"{name:22s} {r['EW_F_0.50']:8.3f} {r['EW_precision']:9.3f} {r['EW_recall']:7.3f}")
    print(f"search: {search_wall:.0f} s wall, CV EW-F0.5 {res.baseline_score:.3f} -> {res.best_score:.3f}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
