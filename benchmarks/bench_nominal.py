"""Quality of the label-free nominal-behaviour detector (`esa_adb_hier.nominal`) against GlobalSTD5 / GlobalSTD3 and
the label-free peer telemetry-anomdet 0.2.0, all computed the same way in one run.

1. NASA SMAP (../shared/data/smap, 54 channels, `telemanom.load_telemanom`): per channel, fit on the train file plus
the first half of the test file (nominal samples only), score the second half. The scored parts are laid end to end
(one second per sample) and scored as one series; the per-channel mean over channels with an event in their scored part
follows. 2. A synthetic mission not used for tuning (`make_mission(days, seed=21)`): per target channel, fit on the
nominal samples of the first 70 %, score the last 30 %; the channels' alarms are united on the mission's grid and
scored against the target channels' labels.

Metric: ESA-ADB corrected event-wise F0.5 with its precision and recall (`evaluation.esa_scores`).
The peer (`pip install telemetry-anomdet==0.2.0`): its `PCAAnomaly` on 50-sample windows (every 10 samples) of all
columns (value + commands), fitted on the windows of the nominal fit range only, and its label-free
`detect_anomalies` (telemanom-style dynamic threshold with pruning) on the scored windows' errors; a window alarm marks
its samples. Its `n_components` has no default that works (all components reconstruct exactly), so several variance
shares are run. Skipped with a note when it is not importable.

python benchmarks/bench_nominal.py [--part smap|synthetic|all] [--ablation] [--days 60] [--seed 21] [--n-jobs 2]
[--peer-components 0.9,0.95,0.99] [--no-peer] [--smap-limit N]

Writes benchmarks/results/nominal.json and prints a table.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

import esa_adb_hier
from esa_adb_hier.baselines import global_std_flags
from esa_adb_hier.evaluation import esa_scores
from esa_adb_hier.nominal import NominalConfig, fit_nominal, nominal_flags, row_matrix, rows_to_flags
from esa_adb_hier.telemanom import load_telemanom

ROOT = Path(__file__).resolve().parents[1]
SMAP = ROOT.parent / "shared" / "data" / "smap"
OUT = ROOT / "benchmarks" / "results" / "nominal.json"
KEYS = ("EW_F_0.50", "EW_precision", "EW_recall")
CONFIG = NominalConfig()                                         # the one configuration, for every data set


# --- methods: each takes (x, commands, cut, nominal fit mask) and returns alarms on x[cut:] --------------------------
def ours(x, cmd, cut, nom, cfg: NominalConfig = CONFIG):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                          # constant channels: noted in the notebook
        m = fit_nominal(x[:cut], nom, cfg, cmd[:cut] if cmd is not None else None)
    return nominal_flags(m, x, cmd, cfg, start=cut)


def isolation_forest(x, cmd, cut, nom, cfg: NominalConfig = CONFIG):
    "scikit-learn's IsolationForest on the same feature rows, under the same thresholds (ablation only)."
    from sklearn.ensemble import IsolationForest
    M, s, e, valid = row_matrix(x, cmd, cfg)
    bad = np.concatenate(([0], np.cumsum(~np.r_[nom, np.zeros(len(x) - cut, bool)], dtype=np.int64)))
    fit = valid & (e <= cut) & (bad[e] - bad[s] == 0)
    f = IsolationForest(n_estimators=100, random_state=0, n_jobs=1).fit(M[fit])
    sc = -f.score_samples(M)
    u = sc / sc[fit].max()
    return rows_to_flags(np.where(valid, u, 0.0), s, e, len(x), cfg, cut)


def gstd(x, cmd, cut, nom, k=5.0):
    return global_std_flags(x[:cut], nom, x[cut:], k)


def peer(x, cmd, cut, nom, n_components=0.95, w=50, step=10):
    from numpy.lib.stride_tricks import sliding_window_view
    from telemetry_anomdet.models.unsupervised.pca import PCAAnomaly
    from telemetry_anomdet.thresholding import detect_anomalies
    a = np.nan_to_num(np.column_stack([x] + ([cmd] if cmd is not None else [])))
    starts = np.arange(0, len(a) - w + 1, step)
    W = sliding_window_view(a, w, axis=0)[starts].transpose(0, 2, 1)
    bad = np.concatenate(([0], np.cumsum(~nom, dtype=np.int64)))
    fit = (starts + w <= cut) & (bad[np.minimum(starts + w, cut)] - bad[np.minimum(starts, cut)] == 0)
    sc = starts + w > cut
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = PCAAnomaly(n_components=n_components).fit(W[fit])
        err = m.decision_function(W[sc])
    mask = detect_anomalies(err, prune=True)["mask"]
    d = np.zeros(len(a) + 1, dtype=np.int64)
    np.add.at(d, starts[sc][mask], 1); np.add.at(d, starts[sc][mask] + w, -1)
    return (np.cumsum(d[:-1]) > 0)[cut:]


def peer_available() -> str | None:
    try:
        import telemetry_anomdet  # noqa: F401
        from importlib.metadata import version
        return version("telemetry-anomdet")
    except Exception:
        return None


# --- scoring ---------------------------------------------------------------------------------------------------------
def runs(y: np.ndarray) -> list:
    d = np.diff(np.concatenate(([0], y.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), (np.flatnonzero(d == -1) - 1).tolist()))


def end_to_end(parts: list) -> dict:
    "parts: (y_true, y_pred) per channel, laid end to end on a 1 s grid and scored as one series."
    labels, off = [], 0
    for yt, _ in parts:
        labels += [(off + s, off + e) for s, e in runs(yt)]; off += len(yt)
    yt = np.concatenate([p[0] for p in parts]); yp = np.concatenate([p[1] for p in parts])
    idx = pd.date_range("2000-01-01", periods=len(yt), freq="1s")
    lab = pd.DataFrame({"ID": [f"e{i}" for i in range(len(labels))], "Channel": "channel_1",
                        "StartTime": idx[[s for s, _ in labels]], "EndTime": idx[[e for _, e in labels]],
                        "Category": "Anomaly"})
    es = esa_scores(lab, pd.Series(yp.astype(np.uint8), index=idx), full_range=(idx[0], idx[-1]))
    out = {k: round(float(es[k]), 4) for k in KEYS}
    out["alarm_share"] = round(float(yp.mean()), 4)
    return out


def smap_scores(per: dict, y: dict) -> dict:
    chans = list(y)
    res = end_to_end([(y[c], per[c]) for c in chans])
    each = [end_to_end([(y[c], per[c])])["EW_F_0.50"] for c in chans if y[c].any()]
    res["per_channel_mean_EW_F_0.50"] = round(float(np.mean(each)), 4)
    return res


# --- 1. SMAP ---------------------------------------------------------------------------------------------------------
def _smap_channel(ch):
    cut = ch.split_at(0.5)
    x = ch.mission.values["channel_1"].to_numpy(np.float64)
    cmd = ch.mission.telecommands.to_numpy()
    nom = ch.mission.nominal_mask("channel_1")[:cut]
    y = ch.mission.is_anomaly().to_numpy().astype(bool)[cut:]
    return x, cmd, cut, nom, y


def _run_one(fn, data, kw):
    t0 = time.perf_counter(); f = fn(*data, **kw); return f, time.perf_counter() - t0


def run_methods(methods: dict, data: dict, n_jobs: int) -> tuple[dict, dict]:
    "{method: {channel: alarms}}, {method: seconds} for every method on every channel."
    flags, secs = {}, {}
    for name, (fn, kw) in methods.items():
        out = Parallel(n_jobs=n_jobs)(delayed(_run_one)(fn, d[:4], kw) for d in data.values())
        flags[name] = {c: f for c, (f, _) in zip(data, out)}
        secs[name] = round(sum(t for _, t in out), 1)
        print(f"  {name}: {secs[name]} s", flush=True)
    return flags, secs


def references(peer_nc: list) -> dict:
    m = {"GlobalSTD5": (gstd, {"k": 5.0}), "GlobalSTD3": (gstd, {"k": 3.0})}
    if peer_available():
        for nc in peer_nc: m[f"telemetry-anomdet PCA (n_components={nc})"] = (peer, {"n_components": nc})
    else: print("note: telemetry-anomdet is not importable (pip install telemetry-anomdet==0.2.0); "
                "the peer is skipped")
    return m


ABLATION = {
    "PCA residual, no margin (dynamic threshold only)": {"margin": 0.0},
    "PCA residual, no despiking of known glitches": {"despike": False},
    "robust z (median / IQR, max over features)": {"method": "robust_z"},
    "PCA residual, pooled rows (10 segments every 2)": {"pool_window": 10, "pool_stride": 2},
    "PCA residual, no command counts": {"commands": False},
    "PCA residual, variance 0.9": {"variance": 0.9},
    "PCA residual, variance 0.99": {"variance": 0.99},
    "PCA residual, segments of 30 every 6": {"length": 30, "step": 6},
    "PCA residual, segments of 100 every 20": {"length": 100, "step": 20},
    "PCA residual, budget threshold (margin 1)": {"threshold": "budget", "margin": 1.0},
    "PCA residual, budget threshold (margin 2)": {"threshold": "budget", "margin": 2.0},
    "PCA residual, dynamic threshold with pruning": {"prune": True},
    "ridge prediction residual": {"alarm_view": "residual"},
    "max of PCA and ridge residuals": {"alarm_view": "max"},
}


def ours_methods(ablation: bool) -> dict:
    m = {"nominal (default config)": (ours, {"cfg": CONFIG})}
    if ablation:
        for name, ch in ABLATION.items():
            keys = {"residual_view": False} if "alarm_view" not in ch else {}
            m[name] = (ours, {"cfg": CONFIG.replace(**keys, **ch)})
        m["IsolationForest on the same rows"] = (isolation_forest, {"cfg": CONFIG.replace(residual_view=False)})
    return m


def smap(args) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                       # P-2 is listed twice: its first row is kept
        chans = load_telemanom(SMAP, "SMAP")
    if args.smap_limit: chans = dict(list(chans.items())[: args.smap_limit])
    data = {c: _smap_channel(ch) for c, ch in chans.items()}
    y = {c: d[4] for c, d in data.items()}
    methods = {**ours_methods(args.ablation), **({} if args.no_peer else references(args.peer_components)),
               **({"GlobalSTD5": (gstd, {"k": 5.0}), "GlobalSTD3": (gstd, {"k": 3.0})} if args.no_peer else {})}
    flags, secs = run_methods(methods, data, args.n_jobs)
    res = {name: {**smap_scores(flags[name], y), "seconds": secs[name]} for name in methods}
    return {"data": f"SMAP, {len(data)} channels; fit on train + first half of test (nominal samples), "
                    "score the second half; channels laid end to end, 1 s per sample",
            "events_scored": int(sum(len(runs(v)) for v in y.values())),
            "channels_with_events_scored": int(sum(v.any() for v in y.values())), "results": res}


# --- 2. synthetic ----------------------------------------------------------------------------------------------------
def synthetic(args) -> dict:
    from esa_adb_hier.synthetic import make_mission
    m = make_mission(days=args.days, seed=args.seed)
    tg = m.target_channels; cut = int(len(m) * 0.7)
    cmd = m.telecommands.to_numpy()
    data = {c: (m.values[c].to_numpy(np.float64), cmd, cut, m.nominal_mask(c)[:cut]) for c in tg}
    t_cut = m.index[cut]
    lab = m.labels[m.labels["Channel"].isin(tg) & (m.labels["EndTime"] >= t_cut)].copy()
    lab["StartTime"] = lab["StartTime"].clip(lower=t_cut)
    methods = {**ours_methods(False), "GlobalSTD5": (gstd, {"k": 5.0}), "GlobalSTD3": (gstd, {"k": 3.0})}
    if not args.no_peer and peer_available():
        methods[f"telemetry-anomdet PCA (n_components={args.peer_components[len(args.peer_components) // 2]})"] = (
            peer, {"n_components": args.peer_components[len(args.peer_components) // 2]})
    flags, secs = run_methods(methods, data, args.n_jobs)
    idx = m.index[cut:]
    res = {}
    for name in methods:
        yp = np.zeros(len(idx), bool)
        for c in tg: yp |= flags[name][c]
        es = esa_scores(lab, pd.Series(yp.astype(np.uint8), index=idx), full_range=(idx[0], idx[-1]))
        res[name] = {**{k: round(float(es[k]), 4) for k in KEYS}, "alarm_share": round(float(yp.mean()), 4),
                     "seconds": secs[name]}
    return {"data": f"make_mission(days={args.days}, seed={args.seed}), {len(tg)} target channels, fit on the nominal "
                    f"samples of the first 70 %, score the last 30 % (alarms of all channels united)",
            "events_scored": int(lab["ID"].nunique()),
            "results": res}


def table(title: str, res: dict) -> str:
    cols = (*KEYS, "alarm_share", "per_channel_mean_EW_F_0.50", "seconds")
    lines = [f"\n{title}", f"{'method':<52}" + "".join(f"{k[:18]:>19}" for k in cols)]
    for name, r in res.items():
        lines.append(f"{name[:52]:<52}" + "".join(f"{r[k]:>19.3f}" if k in r else f"{'':>19}" for k in cols))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("smap", "synthetic", "all"), default="all")
    ap.add_argument("--ablation", action="store_true", help="also the design alternatives on SMAP")
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--peer-components", type=lambda s: [float(v) for v in s.split(",")], default=[0.9, 0.95, 0.99])
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--smap-limit", type=int, default=None, help="only the first N SMAP channels (quick check)")
    a = ap.parse_args()
    out = json.loads(OUT.read_text()) if OUT.exists() else {}
    try: commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError: commit = ""
    out.update({"commit": commit, "command": " ".join(["python", "benchmarks/bench_nominal.py", *sys.argv[1:]]),
                "package_version": getattr(esa_adb_hier, "__version__", ""), "config": CONFIG.to_dict(),
                "peer": f"telemetry-anomdet {peer_available()}" if peer_available() else "not installed",
                "machine": {"platform": platform.platform(), "cpus": __import__("os").cpu_count()}})
    t0 = time.perf_counter()
    if a.part in ("smap", "all"):
        print("SMAP", flush=True)
        key = "smap"
        out[key] = smap(a)
        print(table(out[key]["data"] + f" ({out[key]['events_scored']} events scored)", out[key]["results"]))
    if a.part in ("synthetic", "all"):
        print("synthetic", flush=True)
        key = f"synthetic_{a.days}d_seed{a.seed}"
        out[key] = synthetic(a)
        print(table(out[key]["data"] + f" ({out[key]['events_scored']} events scored)", out[key]["results"]))
    out["peak_rss_mb"] = round(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024, 1)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2, default=str))
    print(f"\nwrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
