"""Benchmark of the autoencoder detector (esa_adb_hier.autoencoder).

1. Throughput of the published configuration (76 channels + 11 telecommands, window 10, hidden 64,
   latent 32) on this CPU: training and inference windows per second with 1 and with 2 torch threads
   (the ratio is measured in the same run), median of several runs, peak memory (ru_maxrss).
2. Quality on a synthetic mission (a seed not used elsewhere, channels 41-46 = the ESA-ADB
   "lightweight" subset): fit on the first 70 %, score the last 30 %.
3. Quality on NASA SMAP (../shared/data/smap), per channel: fit on the train file plus the first half
   of the test file, score the second half.

Both quality parts report event-wise F0.5 (timestamp version; SMAP uses sample indices as times),
precision, recall and alarming precision from `esa_adb_hier.evaluation.esa_scores`, next to the
GlobalSTD5 and GlobalSTD3 baselines computed the same way (`baselines.global_std_flags`).

Run:  python benchmarks/bench_autoencoder.py [--parts throughput,synthetic,smap] [--smap-channels N]
Writes benchmarks/results/autoencoder.json (parts not run are kept from the previous file) and prints tables.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from esa_adb_hier.autoencoder import (AEConfig, AEDetector, AEModel, AttentionGRUAutoencoder, deterministic,
                                      fit_robust_scaling,
                                      input_columns, train_autoencoder, window_starts)
from esa_adb_hier.core import Mission, validate_channels, validate_labels
from _common import SMAP, read_result, stamp, write_result
from esa_adb_hier.baselines import global_std_flags
from esa_adb_hier.evaluation import esa_scores
from esa_adb_hier.synthetic import make_mission

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "autoencoder.json"
METRICS = ["EW_F_0.50", "EW_precision", "EW_recall", "alarming_precision"]


def peak_rss_mb() -> float:
    "Peak resident memory of this process so far (MB)."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def quality(labels: pd.DataFrame, index: pd.DatetimeIndex, flags: np.ndarray) -> dict:
    "Event-wise scores of a 0/1 prediction on `index` against `labels`, over the scored range."
    r = esa_scores(labels, pd.Series(np.asarray(flags, np.uint8), index=index), full_range=(index[0], index[-1]))
    return {k: float(r[k]) for k in METRICS}


# ---------------------------------------------------------------------------------------------- 1. throughput
def bench_throughput(repeats: int = 3, n_train: int = 4096) -> dict:
    m = make_mission(days=2, seed=7)                                  # 76 channels, 11 telecommands
    cfg = AEConfig(stride=1, max_train_windows=n_train)
    chans, tcs = input_columns(m, cfg)
    center, scale = fit_robust_scaling(m, chans, np.arange(len(m)))
    out = {"inputs": len(chans) + len(tcs), "window": cfg.window, "hidden": cfg.hidden, "latent": cfg.latent,
           "batch_size": cfg.batch_size, "score_batch": cfg.score_batch, "repeats": repeats}
    rss0 = peak_rss_mb()
    for threads in (1, 2):
        c = AEConfig(**{**cfg.to_dict(), "torch_threads": threads, "epochs": 1})
        with deterministic(0, torch.device("cpu"), threads):
            net = AttentionGRUAutoencoder(len(chans) + len(tcs), c.window, c.hidden, c.latent)
        model = AEModel(net, c, chans, tcs, center, scale, threshold=1.0,
                        channel_thresholds=np.ones(len(chans) + len(tcs), np.float32))
        starts = window_starts(len(m), c.window, 1)
        x = np.concatenate([w for _, w in model.windows(m, starts[:n_train])])
        xv = x[:256]
        t_train, t_inf = [], []
        for _ in range(repeats):
            with deterministic(0, torch.device("cpu"), threads):
                t0 = time.perf_counter(); train_autoencoder(net, x, xv, c, torch.device("cpu"))
                t_train.append(time.perf_counter() - t0)
            t0 = time.perf_counter(); k = sum(len(b["error"]) for b in model.iter_scores(m, stride=1))
            t_inf.append(time.perf_counter() - t0)
        out[f"threads_{threads}"] = {
            "train_windows_per_s": (n_train + len(xv)) / float(np.median(t_train)),   # one epoch + one validation pass
            "train_s_runs": t_train,
            "inference_windows_per_s": k / float(np.median(t_inf)), "inference_windows": k, "inference_s_runs": t_inf}
    out["peak_rss_mb"] = peak_rss_mb()
    out["peak_rss_mb_before"] = rss0
    t1, t2 = out["threads_1"], out["threads_2"]
    out["ratio_train_2_vs_1_threads"] = t2["train_windows_per_s"] / t1["train_windows_per_s"]
    out["ratio_inference_2_vs_1_threads"] = t2["inference_windows_per_s"] / t1["inference_windows_per_s"]
    best = max(t1["inference_windows_per_s"], t2["inference_windows_per_s"])
    out["mission1_scoring_hours_stride5"] = 14_728_321 / 5 / best / 3600
    out["mission1_scoring_hours_stride1"] = 14_728_321 / best / 3600
    return out


def bench_stream_memory(days: float = 30) -> dict:
    "Peak memory while predicting a longer all-channel mission (streaming: one batch of windows at a time)."
    m = make_mission(days=days, seed=8)
    before = peak_rss_mb()
    cfg = AEConfig(epochs=1, max_train_windows=512, max_val_windows=256, max_classifier_windows=512, n_trees=5)
    det = AEDetector(cfg).fit(m.iloc(0, 2880 * 3))
    t0 = time.perf_counter(); pred = det.predict(m); dt = time.perf_counter() - t0
    frame_mb = pred.memory_usage(deep=True).sum() / 2**20
    values_mb = m.values.memory_usage(deep=True).sum() / 2**20
    return {"rows": len(m), "predict_s": dt, "rows_per_s": len(m) / dt, "peak_rss_mb_before_predict": before,
            "peak_rss_mb_after_predict": peak_rss_mb(), "predictions_frame_mb": frame_mb,
            "mission_values_mb": values_mb}


# ---------------------------------------------------------------------------------------------- 2. synthetic
def bench_synthetic(days: float = 120, seed: int = 1, cfg_over: dict | None = None) -> dict:
    chans = [f"channel_{i}" for i in range(41, 47)]
    m = make_mission(days=days, seed=seed, channels=chans)
    cut = int(0.7 * len(m))
    fit, test = m.iloc(0, cut), m.iloc(cut, len(m))
    cfg = AEConfig(**{"max_train_windows": 10_000, "epochs": 30, **(cfg_over or {})})
    t0 = time.perf_counter(); det = AEDetector(cfg).fit(fit); t_fit = time.perf_counter() - t0
    t0 = time.perf_counter(); pred = det.predict(test); t_pred = time.perf_counter() - t0
    labels = test.labels
    res = {"mission": repr(m), "fit_rows": len(fit), "test_rows": len(test), "config": cfg.to_dict(),
           "epochs_run": int(len(det.model.history)), "fit_s": t_fit, "predict_s": t_pred,
           "threshold": det.model.threshold,
           "classifier": det.info, "events_in_test": int(test.select_labels().ID.nunique())}
    res["autoencoder"] = quality(labels, test.index, pred["is_anomaly"].to_numpy())
    tgt = fit.target_channels
    for k in (5, 3):
        flags = global_std_flags(fit.values[tgt].to_numpy(), fit.nominal_mask(), test.values[tgt].to_numpy(),
                                 k).any(axis=1)
        res[f"GlobalSTD{k}"] = quality(labels, test.index, flags)
    res["history"] = det.model.history.round(5).to_dict(orient="list")
    return json.loads(json.dumps(res, default=str))


# ---------------------------------------------------------------------------------------------- 3. SMAP
def smap_mission(chan: str, intervals: list) -> tuple[Mission, int, int]:
    """One SMAP channel as a Mission on a 1 s grid (time = sample index): train file then test file; labels in test
    positions."""
    tr, te = np.load(SMAP / "train" / f"{chan}.npy"), np.load(SMAP / "test" / f"{chan}.npy")
    x = np.concatenate([tr, te]).astype(np.float32)
    idx = pd.date_range("2000-01-01", periods=len(x), freq="1s", name="timestamp")
    values = pd.DataFrame({"channel_1": x[:, 0]}, index=idx)
    tcs = pd.DataFrame({f"telecommand_{j}": x[:, j].round().astype(np.uint8) for j in range(1, x.shape[1])}, index=idx)
    rows = [(f"{chan}_{i}", "channel_1", idx[len(tr) + s], idx[min(len(tr) + e, len(x) - 1)], "Anomaly") for i, (s,
        e) in enumerate(intervals)]
    labels = validate_labels(pd.DataFrame(rows, columns=["ID", "Channel", "StartTime", "EndTime", "Category"]))
    table = validate_channels(pd.DataFrame({"Channel": ["channel_1"], "Subsystem": ["smap"], "Group": ["1"],
                                            "Target": [True]}))
    return Mission(values, tcs, labels, table, period="1s", name=f"SMAP {chan}"), len(tr), len(te)


def bench_smap(max_channels: int | None = None, cfg_over: dict | None = None, log=print) -> dict:
    meta = pd.read_csv(SMAP / "labeled_anomalies.csv")
    meta = meta[meta.spacecraft == "SMAP"]
    seqs = {}
    for chan, s in zip(meta.chan_id, meta.anomaly_sequences): seqs.setdefault(chan, []).extend(json.loads(s))
    chans = sorted(seqs)[:max_channels] if max_channels else sorted(seqs)
    rows, laid, t_start = [], [], time.perf_counter()
    for chan in chans:
        m, n_tr, n_te = smap_mission(chan, seqs[chan])
        split = n_tr + n_te // 2
        fit, test = m.iloc(0, split), m.iloc(split, len(m))
        over = {"stride": 1, "epochs": 20, "patience": 5, **(cfg_over or {})}
        # AE training = first 80 % of the train file, validation = its last 20 %, classifier = first half of the test
        # file
        cfg = AEConfig(**{**over, "train_fraction": 0.8 * n_tr / split, "val_fraction": 0.2 * n_tr / split})
        t0 = time.perf_counter()
        det = AEDetector(cfg).fit(fit)
        pred = det.predict(test)
        dt = time.perf_counter() - t0
        r = {"channel": chan, "test_rows": len(test), "events": int(test.labels.ID.nunique()), "fit_predict_s": dt,
             "epochs_run": int(len(det.model.history)), "forest": det.forest is not None}
        flags = {"autoencoder": pred["is_anomaly"].to_numpy(),
                 **{f"GlobalSTD{k}": global_std_flags(fit.values.to_numpy(), fit.nominal_mask(),
                                                      test.values.to_numpy(), k).any(axis=1)
                    for k in (5, 3)}}
        laid.append((chan, test, flags))  # every channel, with or without events, for the end-to-end score
        if r["events"] == 0:
            r["skipped"] = "no labelled event in the scored half"; rows.append(r); log(f"{chan}: no event in the "
                                                                                       "scored half"); continue
        for name, f in flags.items():
            for key, v in quality(test.labels, test.index, f).items(): r[f"{name}.{key}"] = v
        rows.append(r)
        log(f"{chan}: {dt:6.1f}s  AE F0.5 {r['autoencoder.EW_F_0.50']:.3f}  STD5 {r['GlobalSTD5.EW_F_0.50']:.3f}  "
            f"STD3 {r['GlobalSTD3.EW_F_0.50']:.3f}")
    df = pd.DataFrame(rows)
    scored = df[df.get("skipped", pd.Series(index=df.index, dtype=object)).isna()]
    summary = {name: {k: float(scored[f"{name}.{k}"].mean()) for k in METRICS} for name in ("autoencoder",
        "GlobalSTD5", "GlobalSTD3")}
    return {"channels": len(chans), "scored_channels": int(len(scored)), "total_s": time.perf_counter() - t_start,
            "config_overrides": {"stride": 1, "epochs": 20, "patience": 5, **(cfg_over or {})},
            "end_to_end": end_to_end(laid), "mean_over_channels": summary,
            "per_channel": json.loads(df.to_json(orient="records"))}


def end_to_end(laid: list) -> dict:
    """Scores with the scored halves of all channels laid end to end as one series (1 s apart), as the ensemble
    benchmark does."""
    labels, offset = [], 0
    for chan, test, _ in laid:
        n = len(test)
        s = np.clip(test.index.searchsorted(test.labels["StartTime"], side="left"), 0, n - 1)
        e = np.clip(test.index.searchsorted(test.labels["EndTime"], side="right") - 1, 0, n - 1)
        labels += [(i, offset + a, offset + b) for i, a, b in zip(test.labels["ID"], s, e) if b >= a]
        offset += len(test)
    idx = pd.date_range("2000-01-01", periods=offset, freq="1s", name="timestamp")
    lab = pd.DataFrame({"ID": [i for i, _, _ in labels], "Channel": "channel_1", "StartTime": idx[[s for _, s,
        _ in labels]],
                        "EndTime": idx[[e for _, _, e in labels]], "Category": "Anomaly"})
    names = list(laid[0][2]) if laid else []
    return {n: quality(lab, idx, np.concatenate([f[n] for _, _, f in laid])) for n in names}


# ---------------------------------------------------------------------------------------------- main
def table(parts: dict) -> str:
    lines = []
    if "throughput" in parts:
        t = parts["throughput"]
        lines.append(f"Throughput ({t['inputs']} inputs, window {t['window']}, hidden {t['hidden']}, latent "
                     f"{t['latent']}):")
        for th in (1, 2):
            d = t[f"threads_{th}"]
            lines.append(f"  torch threads {th}: train {d['train_windows_per_s']:8.0f} windows/s   inference "
                         f"{d['inference_windows_per_s']:8.0f} windows/s")
        lines.append(f"  ratio 2 vs 1 threads: train {t['ratio_train_2_vs_1_threads']:.2f}  inference "
                     f"{t['ratio_inference_2_vs_1_threads']:.2f}")
        lines.append(f"  Mission 1 (14.7 M rows) scoring: {t['mission1_scoring_hours_stride5']:.2f} h at stride 5, "
                     f"{t['mission1_scoring_hours_stride1']:.2f} h at stride 1;"
                     f" peak RSS {t['peak_rss_mb']:.0f} MB")
    if "stream_memory" in parts:
        s = parts["stream_memory"]
        lines.append(f"Streaming predict of {s['rows']:,} rows x 76 channels: {s['predict_s']:.1f}s, peak RSS "
                     f"{s['peak_rss_mb_before_predict']:.0f} ->"
                     f" {s['peak_rss_mb_after_predict']:.0f} MB (mission values {s['mission_values_mb']:.0f} MB, "
                     f"predictions {s['predictions_frame_mb']:.0f} MB)")
    for part, key in (("synthetic", None), ("smap", "end_to_end"), ("smap", "mean_over_channels")):
        if part not in parts or (key is not None and key not in parts[part]): continue
        d = parts[part] if key is None else parts[part][key]
        caption = ("" if key is None else
                   f"(all {parts[part]['channels']} channels laid end to end: the ranking)" if key == "end_to_end" else
                   f"(mean over the {parts[part]['scored_channels']} channels with events)")
        lines.append(f"{part}: {caption}")
        lines.append(f"  {'detector':<12}" + "".join(f"{k:>20}" for k in METRICS))
        for name in ("autoencoder", "GlobalSTD5", "GlobalSTD3"):
            lines.append(f"  {name:<12}" + "".join(f"{d[name][k]:>20.3f}" for k in METRICS))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="throughput,stream_memory,synthetic,smap")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--smap-channels", type=int, default=None, help="first N SMAP channels only (default: all)")
    ap.add_argument("--synthetic-days", type=float, default=120)
    ap.add_argument("--smap-epochs", type=int, default=20)
    args = ap.parse_args(argv)
    res = read_result(RESULTS)
    res["machine"] = {"cpu_count": __import__("os").cpu_count(), "torch": torch.__version__,
                      "python": platform.python_version(),
                      "cuda": torch.cuda.is_available()}
    for part in args.parts.split(","):
        t0 = time.perf_counter()
        if part == "throughput": res[part] = bench_throughput(args.repeats)
        elif part == "stream_memory": res[part] = bench_stream_memory()
        elif part == "synthetic": res[part] = bench_synthetic(args.synthetic_days)
        elif part == "smap": res[part] = bench_smap(args.smap_channels, {"epochs": args.smap_epochs})
        else: raise SystemExit(f"unknown part {part!r}")
        # other processes may compete for the CPU: read timings with this in mind
        res[part]["load_average_after"] = __import__("os").getloadavg()
        stamp(res[part], vars(args))  # parts not run keep the run block of their own run
        print(f"[{part} done in {time.perf_counter() - t0:.0f}s]", flush=True)
        write_result(RESULTS, res, vars(args))
    print(table(res))


if __name__ == "__main__":
    main()
