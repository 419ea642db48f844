"""Speed of the ESA-ADB metrics at the challenge's scale: 15 M samples on a 30 s grid, a few hundred events.

Times are medians of several runs; the reference is one vectorised pass over the same prediction
(`np.flatnonzero(np.diff(y))`, what finding the change points costs), so the ratios say how many
such passes each metric costs. Peak memory: tracemalloc peak of one extra run of each metric.
Results: benchmarks/results/metrics.json.

    python benchmarks/bench_metrics.py [--samples 15000000] [--events 300] [--repeat 5]
"""
import argparse
import json
import platform
import resource
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from esa_adb_hier.evaluation import adtqc, challenge_fscore, channel_aware_fscore, esa_scores, evaluate, window_report


def make_case(n: int, n_events: int, n_pred: int, n_channels: int, seed: int = 0):
    """A 30 s grid of n samples, n_events labelled events (about 10 rows each over the channels), predictions with
    ~n_pred events."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2000-01-01", periods=n, freq="30s", unit="ns", name="timestamp")
    channels = [f"channel_{k}" for k in range(12, 12 + n_channels)]
    starts = np.sort(rng.choice(n - 6000, n_events, replace=False))
    rows = []
    for i, s in enumerate(starts):
        cat = rng.choice(["Anomaly", "Rare Event", "Communication Gap"], p=[0.6, 0.38, 0.02])
        for c in rng.choice(channels, size=min(len(channels), rng.integers(1, 11)), replace=False):
            a = s + int(rng.integers(0, 200)); b = a + int(rng.integers(0, 5000))
            rows.append((f"id_{i}", c, index[a], index[b], cat))
    labels = pd.DataFrame(rows, columns=["ID", "Channel", "StartTime", "EndTime", "Category"])
    y = np.zeros(n, np.uint8)
    for a in rng.integers(0, n - 6000, n_pred): y[a:a + rng.integers(5, 3000)] = 1
    per_channel = pd.DataFrame({c: np.roll(y, int(rng.integers(-300, 300))) for c in channels}, index=index)
    truth = np.zeros(n, np.uint8)
    sel = labels[labels["Category"] != "Communication Gap"]
    lo = index.searchsorted(sel["StartTime"]); hi = index.searchsorted(sel["EndTime"], side="right")
    d = np.zeros(n + 1, np.int64); np.add.at(d, lo, 1); np.add.at(d, hi, -1)
    truth[np.cumsum(d[:-1]) > 0] = 1
    return index, labels, pd.Series(y, index=index, name="is_anomaly"), per_channel, truth


def timed(fn, repeat):
    "Median and all wall-clock times (s) of `repeat` calls, and the result of the last call."
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter(); out = fn(); times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def peak_mb(fn) -> float:
    tracemalloc.start(); tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=15_000_000)
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--pred-events", type=int, default=400)
    ap.add_argument("--channels", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "metrics.json"))
    args = ap.parse_args()

    index, labels, y, per_channel, truth = make_case(args.samples, args.events, args.pred_events, args.channels)
    yv = y.to_numpy()
    preds = per_channel.assign(is_anomaly=yv)
    subsystems = {c: f"subsystem_{k % 3}" for k, c in enumerate(per_channel.columns)}
    runs = {
        "reference: one pass (np.diff + flatnonzero)": lambda: np.flatnonzero(np.diff(yv)),
        "challenge_fscore (0/1 arrays)": lambda: challenge_fscore(truth, yv),
        "esa_scores (event-wise + alarming + affiliation)": lambda: esa_scores(labels, y),
        "adtqc (global)": lambda: adtqc(labels, y),
        f"channel_aware_fscore ({args.channels} channels, + subsystems)": lambda: channel_aware_fscore(labels,
            per_channel, subsystems=subsystems),
        f"evaluate (is_anomaly + {args.channels} channels)": lambda: evaluate(labels, preds, subsystems=subsystems),
        "window_report (1000-sample windows)": lambda: window_report(yv),
    }
    results = []
    ref = None
    for name, fn in runs.items():
        fn()                                            # warm-up
        med, times, _ = timed(fn, args.repeat)
        ref = med if ref is None else ref
        results.append({"metric": name, "median_s": med, "runs_s": times, "ratio_to_reference": med / ref,
                        "peak_mb": peak_mb(fn)})
    ew = esa_scores(labels, y)
    info = {"samples": args.samples, "label_rows": len(labels), "events": int(labels["ID"].nunique()),
            "predicted_events": int(((yv[1:] == 1) & (yv[:-1] == 0)).sum() + yv[0]), "channels": args.channels,
            "repeat": args.repeat, "python": platform.python_version(), "numpy": np.__version__,
            "pandas": pd.__version__,
            "machine": platform.machine(), "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "EW_F_0.50_of_the_case": ew["EW_F_0.50"]}
    from _common import write_result
    write_result(args.out, {"case": info, "results": results}, vars(args))
    print(f"{args.samples:,} samples, {info['events']} events ({info['label_rows']} label rows), "
          f"{info['predicted_events']} predicted events, median of {args.repeat}")
    print(f"{'metric':58s} {'median s':>9s} {'x ref':>7s} {'peak MB':>8s}")
    for r in results: print(f"{r['metric']:58s} {r['median_s']:9.3f} {r['ratio_to_reference']:7.1f} "
                            f"{r['peak_mb']:8.0f}")
    print(f"max RSS {info['max_rss_mb']:.0f} MB -> {args.out}")


if __name__ == "__main__":
    main()
