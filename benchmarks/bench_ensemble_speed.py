"""Speed and memory of the hierarchical ensemble at growing mission length, extrapolated to Mission 1 (14.7 M rows).

Channels are independent jobs until layer 3, so the cost of 58 target channels is the cost of a few channels times
58 / (channels measured) at the same `n_jobs`; this script measures `--channels` target channels of a synthetic mission
(`make_mission(days, seed=11)`) for each length in `--days`, each size in a fresh subprocess (clean peak memory), and
reports fit and predict wall time, the per-stage split (mining, features, layer1, layer2 summed over jobs; layer3),
peak resident memory of the process tree (psutil, sampled every 0.2 s), and the model size on disk. A size whose
predicted time exceeds what is left of `--budget-s` is skipped and reported as such.

Extrapolation: fit and predict times are fitted as a + b * rows (least squares over the measured sizes), scaled by
58 / channels, and evaluated at 14,728,321 rows (the challenge train set, fit) and 521,280 rows (the challenge test
set, predict). Include `--days 5114` (Mission 1's length, 14.7 M rows) to measure the channels at full length, so that
the 58-channel figure only scales the channel count; `full_length` in the results then reports that run directly.

    python benchmarks/bench_ensemble_speed.py [--preset paper] [--days 30,120,480,5114] [--channels 2] [--n-jobs 2]
        [--budget-s 1800] [--hybrid] [--repeat 1]

`--hybrid` also fits and predicts the hybrid detector at each size, in its own subprocess right after the hierarchy
(same machine, same minutes): `HybridConfig(supervised_preset=<preset>, nominal_on_labelled=True)`, so that every
measured channel also gets its label-free model, the held-out choice of its alarm level and its calibration (the
most the hybrid can add to a channel), and reports the ratios hybrid / hierarchy of fit and predict time and of
peak memory.

`--repeat N` measures each size N times (hierarchy and hybrid alternating, each in a fresh subprocess): a size's
`fit_s` and `predict_s` are then the medians, `fit_s_runs` / `predict_s_runs` every run, and the ratios are medians
over the same-round pairs (the machines are shared: one run is noisy).

Writes benchmarks/results/ensemble_speed.json (one entry per preset) and prints a table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import read_result, stamp, write_result  # noqa: E402
OUT = ROOT / "benchmarks" / "results" / "ensemble_speed.json"
MISSION1_ROWS, CHALLENGE_TEST_ROWS, TARGETS = 14_728_321, 521_280, 58
CHANNELS = ["channel_41", "channel_47", "channel_12", "channel_57", "channel_61", "channel_70", "channel_17",
            "channel_64"]


def peak_tree_rss(stop: threading.Event, out: dict, pid: int):
    "Sample the resident memory of process `pid` and all its descendants until `stop` is set; keep the peak (MB)."
    import psutil
    p = psutil.Process(pid)
    while not stop.is_set():
        try:
            rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
            out["peak_mb"] = max(out.get("peak_mb", 0.0), rss / 2 ** 20)
        except psutil.Error: pass
        stop.wait(0.2)


def one(days: int, preset: str, n_channels: int, n_jobs: int, hybrid: bool = False) -> dict:
    "Fit and predict one size in this process (the hierarchy, or the hybrid with `hybrid`); returns the measurements."
    from esa_adb_hier.ensemble import HierarchicalConfig, HierarchicalDetector
    from esa_adb_hier.hybrid import HybridConfig, HybridDetector
    from esa_adb_hier.synthetic import make_mission
    t0 = time.perf_counter()
    from esa_adb_hier.core import mission1_targets
    m = make_mission(days=days, seed=11, channels=CHANNELS[:n_channels] if n_channels <= len(CHANNELS)
                     else mission1_targets()[:n_channels])
    t_gen = time.perf_counter() - t0
    cfg = HierarchicalConfig.preset(preset).replace(n_jobs=n_jobs)
    mem, stop = {}, threading.Event()
    th = threading.Thread(target=peak_tree_rss, args=(stop, mem, os.getpid()), daemon=True); th.start()
    base_mb = __import__("psutil").Process().memory_info().rss / 2 ** 20
    det = (HybridDetector(HybridConfig(supervised_preset=preset, nominal_on_labelled=True, n_jobs=n_jobs),
                          progress=False) if hybrid else HierarchicalDetector(cfg, progress=False))
    t0 = time.perf_counter(); det.fit(m); t_fit = time.perf_counter() - t0
    t0 = time.perf_counter(); det.predict(m); t_pred = time.perf_counter() - t0
    stop.set(); th.join()
    timings = det.supervised_model_.timings_ if hybrid else det.timings_
    with tempfile.TemporaryDirectory() as d:
        det.save(d); size = sum(p.stat().st_size for p in Path(d).rglob("*") if p.is_file())
    return {"days": days, "rows": len(m), "channels": n_channels, "generate_s": round(t_gen, 1), "fit_s": round(t_fit,
        2),
            "predict_s": round(t_pred, 2), "fit_stages_s": {k: round(v, 2) for k, v in timings["fit"].items()},
            "predict_stages_s": {k: round(v, 2) for k, v in timings["predict"].items()},
            "peak_tree_rss_mb": round(mem.get("peak_mb", 0.0), 1), "rss_before_fit_mb": round(base_mb, 1),
            "model_mb": round(size / 2 ** 20, 2),
            **({"label_free_fit_s": round(t_fit - timings["fit"]["wall"], 2),
                "label_free_predict_s": round(t_pred - timings["predict"]["wall"], 2),
                "alarm_level": det.margin_} if hybrid else {})}


def median_run(got: list) -> dict:
    "One size's runs as one: the run of median fit time, with the median fit and predict times and every run's."
    rep = dict(sorted(got, key=lambda r: r["fit_s"])[len(got) // 2])
    if len(got) > 1:
        rep.update({f"{k}_s_runs": [r[f"{k}_s"] for r in got] for k in ("fit", "predict")})
        rep.update({f"{k}_s": round(statistics.median(r[f"{k}_s"] for r in got), 2) for k in ("fit", "predict")})
    return rep


def linear_extrapolation(rows, secs, at: float) -> float:
    "Least-squares a + b*rows through the measurements, evaluated at `at` (b >= 0; one point: proportional)."
    rows, secs = np.asarray(rows, float), np.asarray(secs, float)
    if len(rows) == 1: return float(secs[0] * at / rows[0])
    b, a = np.polyfit(rows, secs, 1)
    if b <= 0: return float(secs[-1] * at / rows[-1])
    return float(a + b * at)


def extrapolate(runs: list, channels: int, n_jobs: int) -> dict:
    "Mission-1 figures from the measured sizes (see the module docstring)."
    rows = [r["rows"] for r in runs]; scale = TARGETS / channels
    stages = {k: linear_extrapolation(rows, [r["fit_stages_s"][k] for r in runs], MISSION1_ROWS) * scale / n_jobs
              for k in ("mining", "features", "layer1", "layer2")}
    stages["layer3"] = linear_extrapolation(rows, [r["fit_stages_s"]["layer3"] for r in runs], MISSION1_ROWS)
    full = [r for r in runs if r["rows"] >= 0.99 * MISSION1_ROWS]
    direct = {} if not full else {"full_length": {
        "fit_wall_h_58ch (measured wall x 58/channels)": round(full[-1]["fit_s"] * scale / 3600, 2),
        "fit_job_s_per_channel": {k: round(v / channels, 1) for k, v in full[-1]["fit_stages_s"].items()
                                  if k != "wall"},
        "peak_tree_rss_gb": round(full[-1]["peak_tree_rss_mb"] / 1024, 2),
                                                  "model_gb_58ch": round(full[-1]["model_mb"] * scale / 1024, 2)}}
    return {**direct, "fit_wall_h_58ch_14.7M_rows (sum of stages)": round(sum(stages.values()) / 3600, 2),
            "fit_wall_h_58ch_14.7M_rows (fit on wall times)": round(linear_extrapolation(rows, [r["fit_s"]
                for r in runs], MISSION1_ROWS) * scale / 3600, 2),
            "fit_stage_wall_h_58ch_14.7M_rows": {k: round(v / 3600, 3) for k, v in stages.items()},
            "predict_wall_min_58ch_challenge_test_521k_rows": round(linear_extrapolation(rows, [r["predict_s"]
                for r in runs], CHALLENGE_TEST_ROWS) * scale / 60, 1),
            "model_gb_58ch_14.7M_rows (linear, an upper estimate: trees stop growing at max_depth)":
                round(linear_extrapolation(rows, [r["model_mb"] for r in runs], MISSION1_ROWS) * scale / 1024, 2),
            "method": f"least squares a + b*rows over the measured sizes; channel jobs scaled by {TARGETS}/{channels} "
                      "and divided by "
                      f"n_jobs={n_jobs} (stage seconds are summed over jobs); layer3 (main process) not scaled"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="paper", choices=("paper", "fast"))
    ap.add_argument("--days", default="15,30,60,120")
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--budget-s", type=float, default=780.0)
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--report-only", action="store_true", help="recompute the extrapolation from the saved runs of "
                                                               "--preset")
    ap.add_argument("--hybrid", action="store_true", help="also measure the hybrid at each size (see above)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per size and detector; medians are reported")
    ap.add_argument("--tag", default=None, help="key of this run in the results file (default: the preset)")
    a = ap.parse_args()
    if a.report_only:
        all_res = read_result(OUT); r = all_res[a.tag or a.preset]
        r["extrapolation"] = extrapolate(r["runs"], len(r["channels_measured"]), r["n_jobs"])
        write_result(OUT, all_res, vars(a)); print(json.dumps(r["extrapolation"], indent=2)); return
    if a.one is not None:
        print("RESULT " + json.dumps(one(a.one, a.preset, a.channels, a.n_jobs, a.hybrid))); return
    t_start, runs, skipped, hybrid_runs, pair_ratios = time.perf_counter(), [], [], [], []
    for days in [int(d) for d in a.days.split(",")]:
        left = a.budget_s - (time.perf_counter() - t_start)
        if runs:
            guess = linear_extrapolation([r["rows"] for r in runs], [r["fit_s"] + r["predict_s"] + r["generate_s"]
                                                                     for r in runs], days * 2880) * a.repeat
            if guess > left: skipped.append({"days": days, "predicted_s": round(guess),
                                             "left_s": round(left)}); continue
        reps = {False: [], True: []}
        for _ in range(max(1, a.repeat)):
            for hybrid in (False, True) if a.hybrid else (False,):
                r = subprocess.run([sys.executable, __file__, "--one", str(days), "--preset", a.preset, "--channels",
                                    str(a.channels), "--n-jobs", str(a.n_jobs)] + (["--hybrid"] if hybrid else []),
                                   capture_output=True, text=True, timeout=max(60, int(left) + 120) * (1 + a.hybrid))
                line = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
                if r.returncode != 0 or not line: raise RuntimeError(f"size {days} days failed:\n{r.stderr[-3000:]}")
                got = json.loads(line[0][7:]); reps[hybrid].append(got)
                print(f"{days:>5} days{' (hybrid)' if hybrid else ''}: fit {got['fit_s']} s, predict {got['predict_s']} "
                      "s", flush=True)
        for hybrid, got in reps.items():
            if got: (hybrid_runs if hybrid else runs).append(median_run(got))
        if a.hybrid:
            pair_ratios.append({k: round(statistics.median(h[f"{k}_s"] / r[f"{k}_s"]
                                                           for h, r in zip(reps[True], reps[False])), 3)
                                for k in ("fit", "predict")})
    ext = extrapolate(runs, a.channels, a.n_jobs)
    from esa_adb_hier.core import mission1_targets
    res = {"preset": a.preset, "n_jobs": a.n_jobs, "channels_measured": CHANNELS[:a.channels]
           if a.channels <= len(CHANNELS) else mission1_targets()[:a.channels],
           "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
           "loadavg_at_end": os.getloadavg()}, "runs": runs, "skipped_for_budget": skipped, "extrapolation": ext}
    if a.hybrid:
        res["hybrid"] = {"config": "HybridConfig(supervised_preset=preset, nominal_on_labelled=True)",
                         "runs": hybrid_runs,
                         "ratio_hybrid_over_hierarchy": [
                             {"days": h["days"], "fit": round(h["fit_s"] / r["fit_s"], 3),
                              "predict": round(h["predict_s"] / r["predict_s"], 3),
                              "peak_rss": round(h["peak_tree_rss_mb"] / r["peak_tree_rss_mb"], 3),
                              "repeats": a.repeat, "median_of_pair_ratios": q}
                             for h, r, q in zip(hybrid_runs, runs, pair_ratios)]}
        for q in res["hybrid"]["ratio_hybrid_over_hierarchy"]:
            print(f"hybrid / hierarchy at {q['days']} days: fit x{q['fit']}, predict x{q['predict']}, peak memory "
                  f"x{q['peak_rss']}")
    all_res = read_result(OUT)
    all_res[a.tag or a.preset] = stamp(res, vars(a))
    write_result(OUT, all_res, vars(a))
    print(f"\npreset {a.preset}, {a.channels} channels, n_jobs {a.n_jobs}")
    print(f"{'days':>5} {'rows':>9} {'fit s':>8} {'pred s':>7} {'mining':>7} {'feat':>7} {'layer1':>7} {'layer2':>7} "
          f"{'layer3':>7} {'peak MB':>8} {'model MB':>9}")
    for r in runs:
        f = r["fit_stages_s"]
        print(f"{r['days']:>5} {r['rows']:>9} {r['fit_s']:>8} {r['predict_s']:>7} {f['mining']:>7} {f['features']:>7} "
              f"{f['layer1']:>7} {f['layer2']:>7} {f['layer3']:>7} {r['peak_tree_rss_mb']:>8} {r['model_mb']:>9}")
    for s in skipped: print(f"{s['days']:>5} days skipped: predicted {s['predicted_s']} s > {s['left_s']} s left in "
                            "the budget")
    print(json.dumps(ext, indent=2)); print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
