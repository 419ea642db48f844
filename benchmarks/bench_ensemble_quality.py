"""Quality of the hierarchical ensemble and the hybrid against the GlobalSTD5 / GlobalSTD3 baselines and a label-free
peer, computed the same way.

1. A synthetic mission with a seed never used for tuning (`make_mission(days, seed=7)`, all 58 target channels):
   fit on the first 70 %, score the held-out 30 %.
2. NASA SMAP (../shared/data/smap, 54 channels, per-channel layers only): for each channel, fit on the train file plus
   the first half of the test file, score the second half. The channels are not time-aligned, so the scored parts are
   laid end to end (sample indices as times, one second per sample) and scored as one series.

The peer (optional, `pip install telemetry-anomdet==0.2.0`, part of the `bench` extra) is run on SMAP exactly as in
`bench_nominal.py` (its PCA on 50-sample windows of all columns, nominal fit windows only, its dynamic threshold with
pruning, the package's default n_components); it is left out with a note when it is not importable.

Metrics: ESA-ADB event-wise F0.5 (timestamp version), its precision and recall, alarming precision
(`evaluation.esa_scores`), and the challenge's sample-based F0.5 (`events.challenge_fscore`).

    python benchmarks/bench_ensemble_quality.py [--part synthetic|smap|all] [--days 60] [--preset fast|paper]
        [--spread mean|min] [--n-jobs 2] [--ablation]

`--ablation` (synthetic part) also fits the hybrid without the nominal view (`HybridConfig(nominal_view=False)`: the
label-free scores reach no layer of the hierarchy) and with the view in the stackers only (`nominal_view_aggregator`
false), so that each step of the fusion is measured on the same mission, fit and scoring range.

`--spread` chooses how row scores map to samples for the main result: the authors' mean or the minimum over covering
rows (see the ensemble notebook); the same fitted model is also scored with the other mapping.

Writes benchmarks/results/ensemble_quality.json and prints a table.
"""
from __future__ import annotations

import argparse
import platform
import resource
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from esa_adb_hier.core import DataError, Mission
from esa_adb_hier.ensemble import HierarchicalConfig, HierarchicalDetector
from esa_adb_hier.hybrid import HybridConfig, HybridDetector
from _common import SMAP, read_result, stamp, write_result
from bench_nominal import peer, peer_available
from esa_adb_hier.baselines import global_std_flags
from esa_adb_hier.evaluation import esa_scores
from esa_adb_hier.events import challenge_fscore
from esa_adb_hier.telemanom import load_telemanom, read_telemanom_labels

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "ensemble_quality.json"
PEER = "peer: telemetry-anomdet"
KEYS = ("EW_F_0.50", "EW_precision", "EW_recall", "alarming_precision")


# --- metrics -------------------------------------------------------------------------------------
def scores(labels: pd.DataFrame, index: pd.DatetimeIndex, y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    es = esa_scores(labels, pd.Series(np.asarray(y_pred, dtype=np.uint8), index=index), full_range=(index[0],
        index[-1]))
    ch = challenge_fscore(y_true, y_pred)
    out = {k: float(es[k]) for k in KEYS}
    out["challenge_F0.5"] = float(ch["EW_F_0.50"]); out["alarm_share"] = float(np.mean(y_pred))
    return out


def clip_labels(labels: pd.DataFrame, t0, t1) -> pd.DataFrame:
    lab = labels[(labels["EndTime"] >= t0) & (labels["StartTime"] <= t1)].copy()
    lab["StartTime"] = lab["StartTime"].clip(lower=t0); lab["EndTime"] = lab["EndTime"].clip(upper=t1)
    return lab.reset_index(drop=True)


# --- 1. synthetic ------------------------------------------------------------------------------------
ABLATION = {"hybrid, no nominal view": dict(nominal_view=False),
            "hybrid, nominal view in the stackers only": dict(supervised={"nominal_view_aggregator": False})}


def synthetic(days: int, preset: str, n_jobs: int, seed: int = 7, spread: str = "mean", ablation: bool = False) -> dict:
    from esa_adb_hier.synthetic import make_mission
    m = make_mission(days=days, seed=seed)
    targets = m.target_channels
    cut = int(len(m) * 0.7)
    train, test = m.iloc(0, cut), m.iloc(cut, len(m))
    cfg = HierarchicalConfig.preset(preset).replace(n_jobs=n_jobs, spread=spread)
    t0 = time.perf_counter(); det = HierarchicalDetector(cfg,
                                                         progress=False).fit(train); t_fit = time.perf_counter() - t0
    t0 = time.perf_counter(); pred = det.predict(test); t_pred = time.perf_counter() - t0
    other = "min" if spread == "mean" else "mean"  # the other mapping of row scores, same fitted model
    det.config = det.config.replace(spread=other); pred_other = det.predict(test)
    det.config = det.config.replace(spread=spread)
    # events on target channels
    lab = clip_labels(test.labels[test.labels["Channel"].isin(targets)], test.start, test.end)
    y_true = test.is_anomaly(channels=targets).to_numpy()
    v_tr, v_te = train.values[targets].to_numpy(np.float64), test.values[targets].to_numpy(np.float64)
    nominal = ~train.is_anomaly(categories=("Anomaly", "Rare Event", "Communication Gap"),
                                channels=targets).to_numpy().astype(bool)
    t0 = time.perf_counter()
    hybrid = HybridDetector(HybridConfig(supervised_preset=preset, supervised={"spread": spread}, n_jobs=n_jobs),
                            progress=False).fit(train)
    pred_hybrid = hybrid.predict(test); t_hybrid = time.perf_counter() - t0
    res = {"ensemble": scores(lab, test.index, y_true, pred["is_anomaly"].to_numpy()),
           "hybrid": scores(lab, test.index, y_true, pred_hybrid["is_anomaly"].to_numpy()),
           f"ensemble, spread {other}": scores(lab, test.index, y_true, pred_other["is_anomaly"].to_numpy()),
           "GlobalSTD5": scores(lab, test.index, y_true, global_std_flags(v_tr, nominal, v_te, 5).any(axis=1)),
           "GlobalSTD3": scores(lab, test.index, y_true, global_std_flags(v_tr, nominal, v_te, 3).any(axis=1))}
    for name, keys in (ABLATION.items() if ablation else ()):
        keys = {**keys, "supervised": {"spread": spread, **keys.get("supervised", {})}}
        variant = HybridDetector(HybridConfig(supervised_preset=preset, n_jobs=n_jobs, **keys), progress=False)
        res[name] = scores(lab, test.index, y_true, variant.fit(train).predict(test)["is_anomaly"].to_numpy())
    return {"data": f"make_mission(days={days}, seed={seed}), {len(targets)} target channels, fit first 70 % / score "
                    "last 30 %",
            "rows_fit": len(train), "rows_scored": len(test), "events_scored": int(lab["ID"].nunique()),
            "preset": preset, "spread": spread,
            "fit_s": round(t_fit, 1), "predict_s": round(t_pred, 1), "timings": det.timings_,
            "hybrid_fit_predict_s": round(t_hybrid, 1), "hybrid_label_free_channels": hybrid.label_free_,
            "fallbacks": len(det.notes_),
            "results": res}


# --- 2. SMAP ---------------------------------------------------------------------------------------
SMAP_CONFIG = dict(scales=[{"length": 30, "step": 5, "pool_window": 10, "pool_stride": 2, "shapelets": True}],
                   shapelet_lengths=[10, 20], n_shapelets=4, n_outer=3, n_inner=2, outer_fraction=None,
                   inner_fraction=None,
                   mining_fraction=0.15, aggregator="max", cca_fraction=0.0, widen=10, max_nominal=300,
                   xgb={"n_estimators": 100, "max_depth": 4, "learning_rate": 0.1, "subsample": 0.9,
                        "colsample_bytree": 0.8,
                        "min_child_weight": 1.0, "scale_pos_weight": 1.0, "max_bin": 64})


def smap_channel(chan: str) -> tuple[Mission, int, int]:
    """One SMAP channel as a Mission (`telemanom.load_telemanom`), the fit/score cut (half the test file) and the test
    offset."""
    ch = load_telemanom(SMAP, channels=[chan])[chan]
    return ch.mission, ch.split_at(0.5), ch.n_train


def smap(n_jobs: int, limit: int | None = None) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                      # P-2 is listed twice: the first row is kept
        meta = read_telemanom_labels(SMAP, "SMAP")
    if limit: meta = meta.head(limit)
    cfg = HierarchicalConfig(**SMAP_CONFIG).replace(n_jobs=1)
    from joblib import Parallel, delayed
    rows = list(meta.itertuples())
    out = Parallel(n_jobs=n_jobs)(delayed(_smap_one)(r.chan_id, cfg.to_dict()) for r in rows)
    per = []
    for chan, cut_len, y_true, y_ens, y_hyb, y_peer, ok, secs, lab_rows, v_fit, nom, v_sc in out:
        per.append({"chan": chan, "ok": ok, "secs": secs, "y_true": y_true, "labels": lab_rows,
                    "ensemble": y_ens, "hybrid": y_hyb, **({PEER: y_peer} if y_peer is not None else {}),
                    "GlobalSTD5": global_std_flags(v_fit, nom, v_sc, 5).any(axis=1),
                    "GlobalSTD3": global_std_flags(v_fit, nom, v_sc, 3).any(axis=1)})
    trained = [p for p in per if p["ok"]]
    res = {"all channels": _smap_scores(per), "channels with training labels": _smap_scores(trained) if trained
           else None,
           "all channels, mean over channels": _smap_channel_mean(per),
           "channels with training labels, mean over channels": _smap_channel_mean(trained) if trained else None}
    return {"data": f"SMAP, {len(rows)} channels; fit on train + first half of test, score the second half: channels "
                    "laid end "
                    "to end as one series (the ranking), then each channel alone and the mean over channels",
            "rows_scored": int(sum(len(p["y_true"]) for p in per)), "events_scored": int(sum(len(p["labels"])
                for p in per)),
            "channels_trained": [p["chan"] for p in trained], "events_on_trained_channels": int(sum(len(p["labels"])
                for p in trained)),
            "fit_predict_s_total": round(sum(p["secs"] for p in per), 1), "config": SMAP_CONFIG,
            "peer": f"telemetry-anomdet {peer_available()}" if peer_available() else "not installed", "results": res}


def _smap_scores(per: list) -> dict:
    "Scores of the three methods with the scored parts of `per` laid end to end (sample indices as seconds)."
    labels, offset = [], 0
    for p in per:
        labels += [{"ID": f"{p['chan']}_{i}", "s": offset + s, "e": offset + e} for i, (s,
                                                                                        e) in enumerate(p["labels"])]
        offset += len(p["y_true"])
    y_true = np.concatenate([p["y_true"] for p in per])
    idx = pd.date_range("2000-01-01", periods=len(y_true), freq="1s")
    lab = pd.DataFrame({"ID": [d["ID"] for d in labels], "Channel": "channel_1", "StartTime": idx[[d["s"]
        for d in labels]],
                        "EndTime": idx[[d["e"] for d in labels]], "Category": "Anomaly"})
    return {k: scores(lab, idx, y_true, np.concatenate([p[k] for p in per]))
            for k in ("ensemble", "hybrid", "GlobalSTD5", "GlobalSTD3", PEER) if k in per[0]}


def _smap_channel_mean(per: list) -> dict:
    "Each channel scored on its own (channels with a labelled event in the scored half), then the mean over channels."
    each = [_smap_scores([p]) for p in per if p["labels"]]
    return {k: {m: float(np.mean([e[k][m] for e in each])) for m in each[0][k]} for k in each[0]} if each else None


def _smap_one(chan: str, cfg: dict):
    m, cut, off = smap_channel(chan)
    fit, sc = m.iloc(0, cut), m.iloc(cut, len(m))
    y_true = sc.is_anomaly().to_numpy().astype(bool)
    s, e = np.flatnonzero(np.diff(np.r_[0, y_true.view(np.int8), 0]) == 1), np.flatnonzero(np.diff(np.r_[0,
        y_true.view(np.int8), 0]) == -1)
    lab_rows = list(zip(s.tolist(), (e - 1).tolist()))
    t0 = time.perf_counter(); ok = True
    try:
        det = HierarchicalDetector(HierarchicalConfig.from_dict(cfg), progress=False).fit(fit)
        y = det.predict(sc)["is_anomaly"].to_numpy().astype(bool)
    except DataError as err:  # no labelled event in the fit range: the supervised model cannot learn
        if "no labels" not in str(err): raise
        y, ok = np.zeros(len(sc), bool), False
    hybrid = HybridDetector(HybridConfig(supervised=cfg), progress=False).fit(fit)     # SMAP_CONFIG where labels exist
    y_hyb = hybrid.predict(sc)["is_anomaly"].to_numpy().astype(bool)
    nom = ~fit.is_anomaly().to_numpy().astype(bool)
    y_peer = None
    if peer_available():
        c0 = m.channel_names[0]; cmd = m.telecommands.to_numpy()
        y_peer = peer(m.values[c0].to_numpy(np.float64), cmd if cmd.shape[1] else None, cut,
                      m.nominal_mask(c0)[:cut], n_components=None)
    return (chan, cut, y_true, y, y_hyb, y_peer, ok, time.perf_counter() - t0, lab_rows, fit.values.to_numpy(np.float64), nom,
            sc.values.to_numpy(np.float64))


def table(name: str, res: dict) -> str:
    lines = [f"\n{name}", f"{'method':<42}" + "".join(f"{k:>20}" for k in (*KEYS, "challenge_F0.5", "alarm_share"))]
    for meth, r in res.items(): lines.append(f"{meth:<42}" + "".join(f"{r[k]:>20.3f}" for k in (*KEYS,
        "challenge_F0.5", "alarm_share")))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("synthetic", "smap", "all"), default="all")
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--seed", type=int, default=7, help="seed of the synthetic mission (7, 21: not used for tuning)")
    ap.add_argument("--preset", choices=("fast", "paper"), default="fast")
    ap.add_argument("--spread", choices=("mean", "min"), default="mean")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--ablation", action="store_true", help="also the hybrid without / with part of the nominal view")
    ap.add_argument("--smap-limit", type=int, default=None, help="only the first N SMAP channels (quick check)")
    a = ap.parse_args()
    out = read_result(OUT)
    out["machine"] = {"platform": platform.platform(), "cpus": __import__("os").cpu_count()}
    t0 = time.perf_counter()
    if a.part in ("synthetic", "all"):
        key = (f"synthetic_{a.days}d_{a.preset}" + ("" if a.seed == 7 else f"_seed{a.seed}")
               + ("" if a.spread == "mean" else f"_spread_{a.spread}"))
        out.pop("synthetic", None)
        out[key] = stamp(synthetic(a.days, a.preset, a.n_jobs, seed=a.seed, spread=a.spread, ablation=a.ablation),
                         vars(a))
        print(table(out[key]["data"] + f" (preset {a.preset}; fit {out[key]['fit_s']} s, predict "
                                       f"{out[key]['predict_s']} s)", out[key]["results"]))
    if a.part in ("smap", "all"):
        out["smap"] = stamp(smap(a.n_jobs, a.smap_limit), vars(a))
        for part, r in out["smap"]["results"].items():
            if r: print(table(f"{out['smap']['data']}: {part} ({len(out['smap']['channels_trained'])} channels have "
                              "labelled events to learn from)", r))
    out["peak_rss_mb"] = round(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024, 1)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    write_result(OUT, out, vars(a))
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
