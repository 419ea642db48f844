"""Integration tests of the hierarchical ensemble used the way a script uses it: fit, predict, save,
load in a fresh process, parallel jobs, the layer-3 variants and the errors a user can meet."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from esa_adb_hier.core import DataError, Mission
from esa_adb_hier.ensemble import (HierarchicalConfig, HierarchicalDetector, row_support, rows_in_blocks, scale_rows,
                                   widen_mask)
from esa_adb_hier.synthetic import make_mission

CHANNELS = ["channel_41", "channel_42", "channel_47"]
SPLIT = 9 * 2880          # 9 days of 30 s samples for fitting, the rest (3 days) for scoring


@pytest.fixture(scope="module")
def mission():
    return make_mission(days=12, seed=1, channels=CHANNELS)


@pytest.fixture(scope="module")
def parts(mission):
    return mission.iloc(0, SPLIT), mission.iloc(SPLIT, len(mission))


def tiny(**changes) -> HierarchicalConfig:
    fast = HierarchicalConfig.preset("fast")
    return fast.replace(xgb={**fast.xgb, "n_estimators": 20}, **changes)


@pytest.fixture(scope="module")
def fitted(parts):
    return HierarchicalDetector(tiny(), progress=False).fit(parts[0])


def test_predictions_frame(fitted, parts):
    test = parts[1]
    pred = fitted.predict(test)
    assert pred.index.equals(test.index)
    chans = fitted.channels_
    assert list(pred.columns) == ["is_anomaly", "score"] + chans + [f"score_{c}" for c in chans]
    assert all(pred[c].dtype == np.uint8 for c in ["is_anomaly"] + chans)
    assert all(pred[c].dtype == np.float32 for c in pred.columns if c.startswith("score"))
    assert pred.filter(like="score").stack().between(0, 1).all()
    assert (pred[chans].max(axis=1) <= pred["is_anomaly"]).all()       # channel alarms are gated by the global alarm


def test_fit_records_timings_and_weights(fitted):
    t = fitted.timings_["fit"]
    assert set(t) == {"mining", "features", "layer1", "layer2", "layer3", "wall"} and all(v >= 0 for v in t.values())
    l3 = fitted.layer3_["s50"]
    assert len(l3["weights"]) == len(fitted.channels_) and all(0 < w <= 1.002 ** 1.5 for w in l3["weights"])
    assert fitted.groups_ == {"8": ["channel_41", "channel_42"], "9": ["channel_47"]}


def test_load_in_fresh_process_gives_identical_predictions(fitted, parts, tmp_path):
    model = tmp_path / "model"
    fitted.save(model)
    expected = fitted.predict(parts[1])
    expected.to_parquet(tmp_path / "expected.parquet")
    man = json.loads((model / "manifest.json").read_text())
    assert man["format"] == "esa_adb_hier.model" and man["detector"] == "hierarchical" and man["format_version"] == 2
    assert {"config", "channels", "telecommands", "groups", "train_range", "files"} <= set(man)
    for rel in man["files"]:                                           # only safe formats, nothing pickled
        p = model / rel
        assert p.suffix in (".json", ".ubj", ".npz"), rel
        if p.suffix == ".npz": np.load(p, allow_pickle=False)
    assert not list(model.rglob("*.pkl")) and not list(model.rglob("*.pickle"))
    script = textwrap.dedent(f"""
        import pandas as pd
        from esa_adb_hier.synthetic import make_mission
        from esa_adb_hier.ensemble import HierarchicalDetector
        m = make_mission(days=12, seed=1, channels={CHANNELS!r})
        det = HierarchicalDetector.load({str(model)!r}, progress=False)
        pred = det.predict(m.iloc({SPLIT}, len(m)))
        exp = pd.read_parquet({str(tmp_path / 'expected.parquet')!r})
        pd.testing.assert_frame_equal(pred, exp, check_exact=True)
        print("IDENTICAL")
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "IDENTICAL" in r.stdout, r.stderr[-2000:]


def test_parallel_jobs_give_the_same_model(fitted, parts):
    par = HierarchicalDetector(tiny(n_jobs=2), progress=False).fit(parts[0])
    a, b = fitted.predict(parts[1]), par.predict(parts[1])
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.mark.parametrize("aggregator", ["xgb", "lstm", "max"])
def test_other_aggregators_round_trip(aggregator, parts, tmp_path):
    det = HierarchicalDetector(tiny(aggregator=aggregator), progress=False).fit(parts[0])
    assert det.layer3_["s50"]["aggregator"]["kind"] in (aggregator, "max")
    det.save(tmp_path / aggregator)
    back = HierarchicalDetector.load(tmp_path / aggregator, progress=False)
    pd.testing.assert_frame_equal(det.predict(parts[1]), back.predict(parts[1]), check_exact=True)


def test_two_scales_are_combined_by_or(parts):
    cfg = tiny(scales=[{"length": 50, "step": 10, "pool_window": 20, "pool_stride": 5, "shapelets": True},
                       {"length": 200, "step": 50, "pool_window": 5, "pool_stride": 1, "shapelets": False}],
               reducer="power_sum")
    det = HierarchicalDetector(cfg, progress=False).fit(parts[0])
    r = det._scores(parts[1], progress=False)
    per_scale = [widen_mask(s >= cfg.threshold, cfg.widen) for s in r["scale_scores"].values()]
    assert set(r["scale_scores"]) == {"s50", "s200"}
    np.testing.assert_array_equal(r["alarm"], np.logical_or(*per_scale))
    np.testing.assert_allclose(r["score"], np.maximum(*r["scale_scores"].values()))


def test_training_rows_never_cross_layers(fitted, parts):
    """Rows (with the look-back of their lagged features) that train a base model never touch x_n or x_cca."""
    n = len(parts[0]); cfg = fitted.config
    plan, cca = fitted._plan(n)
    st, sp = scale_rows(n, cfg.scales[0]); sup = row_support(st, cfg.scales[0])
    for c in plan.configs:
        tr = rows_in_blocks(sup, sp, c.base)
        used = np.zeros(n, bool)
        for a, b in zip(sup[tr], sp[tr]): used[a:b] = True
        assert not (used & c.stack.mask(n)).any() and not used[cca[0]:cca[1]].any() and not (used & c.mine.mask(n)).any()


def test_errors_name_the_problem(fitted, parts):
    train, test = parts
    with pytest.raises(DataError, match="channel_47"):
        fitted.predict(test.select_channels(["channel_41", "channel_42"]))
    no_tc = Mission(test.values, test.telecommands.iloc[:, :0], test.labels, test.channels, test.period, "no-tc")
    with pytest.raises(DataError, match="telecommand"):
        fitted.predict(no_tc)
    with pytest.raises(DataError, match="pooling window"):
        fitted.predict(test.iloc(0, 200))
    unlabelled = Mission(train.values, train.telecommands, train.labels.iloc[:0], train.channels, train.period, "unlabelled")
    with pytest.raises(DataError, match="no labels"):
        HierarchicalDetector(tiny(), progress=False).fit(unlabelled)
    with pytest.raises(DataError, match="'xgb.max_depth'"):
        HierarchicalConfig.from_dict({**tiny().to_dict(), "xgb": {"max_depth": -2}})
    with pytest.raises(DataError, match="'colour'"):
        HierarchicalConfig.from_dict({"colour": "red"})
    with pytest.raises(DataError, match="'cca_fraction'"):
        HierarchicalConfig(cca_fraction=0.0)
    with pytest.raises(DataError, match="manifest"):
        HierarchicalDetector.load(Path("/nonexistent/model"))


def test_config_json_round_trip_and_presets():
    for name in ("paper", "fast"):
        cfg = HierarchicalConfig.preset(name)
        assert HierarchicalConfig.from_json(cfg.to_json()) == cfg
    paper = HierarchicalConfig.preset("paper")
    assert [s["length"] for s in paper.scales] == [50, 1000, 2000] and paper.scales[0]["shapelets"] and not paper.scales[1]["shapelets"]
    assert (paper.n_outer, paper.n_inner, paper.outer_fraction, paper.inner_fraction, paper.mining_fraction) == (5, 3, 0.2, 0.2, 0.1)
    assert paper.widen == 100 and paper.threshold == 0.5 and paper.aggregator == "lr"
    assert "xgb" in HierarchicalConfig.search_space()


def test_autoencoder_view_round_trip(parts, tmp_path):
    cfg = tiny(use_autoencoder_view=True, autoencoder={"epochs": 2, "hidden": 8, "latent": 4, "max_train_windows": 1000})
    det = HierarchicalDetector(cfg, progress=False).fit(parts[0])
    assert det.autoencoder_ is not None
    det.save(tmp_path / "ae")
    assert (tmp_path / "ae" / "autoencoder" / "weights.npz").exists()
    back = HierarchicalDetector.load(tmp_path / "ae", progress=False)
    pd.testing.assert_frame_equal(det.predict(parts[1]), back.predict(parts[1]), check_exact=True)
    with pytest.raises(DataError, match="autoencoder"):
        HierarchicalConfig(autoencoder={"windw": 3})


def test_thinning_and_early_stopping_train_fewer_rows_and_trees(parts, tmp_path):
    "The paper preset's efficiency settings: thinned nominal rows (every positive kept), early stopping on x_n."
    many = {"n_estimators": 400, "learning_rate": 0.3}
    fast = HierarchicalConfig.preset("fast")
    full = HierarchicalDetector(fast.replace(xgb={**fast.xgb, **many}), progress=False).fit(parts[0])
    lean = HierarchicalDetector(fast.replace(thin_nominal=True, xgb={**fast.xgb, **many, "early_stopping_rounds": 10}),
                                progress=False).fit(parts[0])
    paper = HierarchicalConfig.preset("paper")
    assert paper.thin_nominal and paper.xgb["early_stopping_rounds"] > 0 and paper.xgb["n_estimators"] == 1000
    for ch in full.channels_:
        a, b = full.models_[ch]["s50"]["configs"], lean.models_[ch]["s50"]["configs"]
        for ca, cb in zip(a, b):
            assert cb["train_positives"] == ca["train_positives"]                # every positive row is kept
            if ca["model"]["kind"] == "xgb":
                assert ca["model"]["trees"] == 400
                assert cb["train_rows"] < ca["train_rows"] and cb["model"]["trees"] < 400
    # the lean model still ranks labelled samples above nominal ones, and round-trips like any other
    y = parts[0].is_anomaly(channels=lean.channels_).to_numpy().astype(bool)
    s = lean.predict_proba(parts[0])["score"].to_numpy()
    assert s[y].mean() > s[~y].mean() + 0.01
    pred = lean.predict(parts[1])
    lean.save(tmp_path / "lean")
    again = HierarchicalDetector.load(tmp_path / "lean", progress=False).predict(parts[1])
    pd.testing.assert_frame_equal(pred, again)


def test_min_spread_alarms_no_more_time_than_mean(fitted, parts, tmp_path):
    "`spread='min'` changes only the mapping of row scores to samples: never more alarmed time, and it round-trips."
    test = parts[1]
    mean = fitted.predict_proba(test)
    fitted.config = fitted.config.replace(spread="min")
    try:
        low = fitted.predict_proba(test)
        assert (low.to_numpy() <= mean.to_numpy() + 1e-6).all()            # the min over covering rows never exceeds their mean
        assert low["score"].sum() < mean["score"].sum()
        fitted.save(tmp_path / "m")
        again = HierarchicalDetector.load(tmp_path / "m", progress=False)
        assert again.config.spread == "min"
        pd.testing.assert_frame_equal(low, again.predict_proba(test))
    finally:
        fitted.config = fitted.config.replace(spread="mean")
    with pytest.raises(DataError, match="spread"):
        HierarchicalConfig(spread="median")


def test_authors_feature_set_feeds_fewer_columns(fitted, parts, tmp_path):
    "The paper preset's `feature_set='authors'`: the authors' pooled statistics and two columns per shapelet."
    assert HierarchicalConfig.preset("paper").feature_set == "authors" and HierarchicalConfig.preset("fast").feature_set == "all"
    det = HierarchicalDetector(tiny(feature_set="authors"), progress=False).fit(parts[0])
    for ch in det.channels_:
        a, b = fitted.models_[ch]["s50"], det.models_[ch]["s50"]
        assert len(a["columns"]) == 53 and len(b["columns"]) == 38 and set(b["columns"]) < set(a["columns"])
        for ca, cb in zip(a["configs"], b["configs"]):
            k = len(cb["shapelets"])
            if cb["model"]["kind"] == "xgb" and ca["model"]["kind"] == "xgb":
                assert ca["model"]["n_features"] - cb["model"]["n_features"] == 15 + 2 * k
    pred = det.predict(parts[1])
    det.save(tmp_path / "m")
    pd.testing.assert_frame_equal(pred, HierarchicalDetector.load(tmp_path / "m", progress=False).predict(parts[1]))
