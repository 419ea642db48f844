"""The hybrid detector used as a script and a command-line user would: a channel without labelled events still gets
a detector, a mission without labels is fitted in unsupervised mode, the model folder round-trips and is verified."""
import warnings

import numpy as np
import pandas as pd
import pytest

from esa_adb_hier.core import DataError, Mission, natural_sort
from esa_adb_hier.hybrid import HybridConfig, HybridDetector, split_channels
from esa_adb_hier.synthetic import make_mission

CHANNELS = ["channel_41", "channel_42", "channel_12"]


@pytest.fixture(scope="module")
def parts():
    m = make_mission(days=20, seed=2, channels=CHANNELS)
    k = int(len(m) * 0.7)
    return m.iloc(0, k), m.iloc(k, len(m))


def without_labels(m: Mission) -> Mission:
    return Mission(m.values, m.telecommands, m.labels.iloc[0:0], m.channels, m.period, "no labels")


def test_label_free_channels_get_a_detector_and_the_alarm_is_their_or(parts):
    train, test = parts
    det = HybridDetector(HybridConfig(min_events=4), progress=False).fit(train)
    assert det.mode_ == "hybrid" and det.label_free_ == ["channel_12"]
    pred = det.predict(test)
    sup = det.supervised_model_.predict(test.select_channels(det.supervised_))
    assert (pred["is_anomaly"].to_numpy(bool) == (sup["is_anomaly"].to_numpy(bool) | pred["channel_12"].to_numpy(bool))).all()
    assert (pred["score"] >= sup["score"]).all()


def test_unsupervised_mode_through_the_command_line(parts, tmp_path, capsys):
    from esa_adb_hier.cli import main
    from esa_adb_hier.data import write_preprocessed_csv
    train, test = parts
    csv = tmp_path / "no_labels.csv"
    write_preprocessed_csv(without_labels(train), csv)
    assert main(["fit", str(csv), "--out", str(tmp_path / "m"), "--detector", "hybrid", "--quiet"]) == 0
    log = (tmp_path / "m" / "fit.log").read_text()
    assert "unsupervised mode" in log
    det = HybridDetector.load(tmp_path / "m", progress=False)
    assert det.mode_ == "unsupervised" and det.supervised_model_ is None and det.label_free_ == natural_sort(CHANNELS)
    capsys.readouterr()
    # the hierarchical detector refuses the same data: it needs labels
    assert main(["fit", str(csv), "--out", str(tmp_path / "m2"), "--detector", "hierarchical", "--quiet"]) == 2
    assert "no labelled events" in capsys.readouterr().err
    # the default detector is the hybrid: it fits the same data, in unsupervised mode
    assert main(["fit", str(csv), "--out", str(tmp_path / "m3"), "--quiet"]) == 0
    assert HybridDetector.load(tmp_path / "m3", progress=False).mode_ == "unsupervised"
    # the authors' preset alone stays their method, the hierarchy; paper+ adds the label-free detector to it
    from esa_adb_hier.cli import default_detector
    assert default_detector("paper") == "hierarchical"
    assert default_detector("paper+") == default_detector(None) == "hybrid"


def test_save_load_and_a_flipped_byte(parts, tmp_path):
    train, test = parts
    det = HybridDetector(HybridConfig(min_events=4), progress=False).fit(train)
    det.save(tmp_path / "m")
    back = HybridDetector.load(tmp_path / "m", progress=False)
    pd.testing.assert_frame_equal(back.predict(test), det.predict(test))
    # the hierarchy's nominal view travels in its folder and comes back the same
    assert (tmp_path / "m" / "supervised" / "nominal_view" / "model.json").exists()
    assert sorted(back.supervised_model_.nominal_view_.models_) == sorted(det.supervised_)
    f = sorted((tmp_path / "m" / "supervised").rglob("*.ubj"))[0]
    b = bytearray(f.read_bytes()); b[len(b) // 2] ^= 1; f.write_bytes(bytes(b))
    with pytest.raises(DataError, match="SHA-256"): HybridDetector.load(tmp_path / "m")


def test_a_constant_label_free_channel_falls_back_with_a_warning_naming_it(parts):
    train, test = parts
    v = train.values.copy(); v["channel_12"] = np.float32(3.0)
    flat = Mission(v, train.telecommands, train.labels[train.labels["Channel"] != "channel_12"], train.channels,
                   train.period, "flat")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        det = HybridDetector("fast", progress=False).fit(flat)
    assert det.label_free_ == ["channel_12"]
    assert any("channel_12" in str(w.message) and "constant" in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert len(det.predict(test)) == len(test)


def test_the_nominal_view_feeds_the_stackers_and_aggregator_and_can_be_turned_off(parts):
    "With the view every stacker has one more input and the aggregator one more; `nominal_view=false` is the paper's."
    train, test = parts
    on = HybridDetector(HybridConfig(min_events=4), progress=False).fit(train)
    off = HybridDetector(HybridConfig(min_events=4, nominal_view=False), progress=False).fit(train)
    assert off.supervised_model_.nominal_view_ is None and on.supervised_model_.nominal_view_ is not None
    checked = 0
    for ch in on.supervised_:
        for n, st in on.supervised_model_.models_[ch]["s50"]["stackers"].items():
            if st["kind"] != "lr": continue
            k_on = np.ravel(st["coef"]).size
            k_off = np.ravel(off.supervised_model_.models_[ch]["s50"]["stackers"][n]["coef"]).size
            assert k_on == k_off + 1, (ch, n)
            checked += 1
    assert checked, "no logistic stacker to compare"
    agg_on = on.supervised_model_.layer3_["s50"]["aggregator"]
    agg_off = off.supervised_model_.layer3_["s50"]["aggregator"]
    assert agg_on["kind"] == agg_off["kind"] == "lr"
    assert np.ravel(agg_on["coef"]).size == np.ravel(agg_off["coef"]).size + 1
    assert len(on.predict(test)) == len(test)


def test_split_and_bad_config():
    m = make_mission(days=10, seed=1, channels=CHANNELS)
    sup, free = split_channels(m, min_events=1)
    assert sorted(sup + free) == m.target_channels
    with pytest.raises(DataError, match="min_events"): HybridConfig(min_events=0)
    with pytest.raises(DataError, match="unknown preset"): HybridConfig.preset("paper")


def test_the_label_free_alarm_level_is_learned_on_held_out_labels_and_kept(parts, tmp_path):
    train, test = parts
    det = HybridDetector(HybridConfig(min_events=4), progress=False).fit(train)
    assert det.margin_ in det.config.margins and set(det.margin_scores_) == set(det.config.margins)
    best = max(det.margin_scores_.values())
    assert det.margin_scores_[det.margin_] >= best - det.config.margin_tolerance
    assert all(v < best - det.config.margin_tolerance for k, v in det.margin_scores_.items() if k > det.margin_)
    assert list(det.nominal_model_.models_) == ["channel_12"]         # the labelled channels' models only taught it
    det.save(tmp_path / "m")
    back = HybridDetector.load(tmp_path / "m", progress=False)
    assert back.margin_ == det.margin_ and back.margin_scores_ == det.margin_scores_
    # a level no deviation reaches silences the label-free channel; the lowest level alarms at least as much
    silent = HybridDetector(HybridConfig(min_events=4, margins=[1e9]), progress=False).fit(train)
    assert silent.margin_ == 1e9 and not silent.predict(test)["channel_12"].any()
    low = HybridDetector(HybridConfig(min_events=4, margins=[1]), progress=False).fit(train)
    assert low.predict(test)["channel_12"].sum() >= det.predict(test)["channel_12"].sum()
    # without labels nothing can teach the level: the smallest one is kept
    free = HybridDetector(HybridConfig(margins=[2, 3]), progress=False).fit(without_labels(train))
    assert free.mode_ == "unsupervised" and free.margin_ == 2.0 and free.margin_scores_ == {}


def test_hybrid_alarms_are_explained_by_the_part_that_raised_them(tmp_path):
    from esa_adb_hier.cli import main
    from esa_adb_hier.data import write_preprocessed_csv
    from esa_adb_hier.explain import EVIDENCE_COLUMNS
    m = make_mission(days=20, seed=11, channels=["channel_41", "channel_42", "channel_43", "channel_12"])
    test = m.iloc(int(len(m) * 0.7), len(m))
    csv = tmp_path / "mission.csv"
    write_preprocessed_csv(m, csv)
    (tmp_path / "cfg.json").write_text('{"min_events": 3}')
    end = str(test.index[0] - pd.Timedelta(seconds=1))
    assert main(["fit", str(csv), "--out", str(tmp_path / "m"), "--end", end, "--config", str(tmp_path / "cfg.json"),
                 "--quiet"]) == 0
    det = HybridDetector.load(tmp_path / "m", progress=False)
    assert det.label_free_ == ["channel_12"]
    pred = det.predict(test)
    why = det.explain(test, pred)
    assert list(why.columns) == EVIDENCE_COLUMNS
    n_alarms = int((np.diff(np.r_[0, pred["is_anomaly"].to_numpy()]) == 1).sum())
    assert why["alarm"].nunique() == n_alarms > 0
    idx = test.index
    for a, g in why.groupby("alarm"):
        lo, hi = idx.searchsorted(g["start"].iloc[0]), idx.searchsorted(g["end"].iloc[0], side="right")
        free_on = bool(pred["channel_12"].iloc[lo:hi].any())
        assert free_on == ((g["level"] == "channel") & (g["note"] == "label-free")).any()
        if free_on: assert (g["level"] == "feature").any() and (g["channel"] == "channel_12").any()
        sup_on = bool(det.supervised_model_.predict(test.select_channels(det.supervised_))["is_anomaly"]
                      .iloc[lo:hi].any())
        assert sup_on == (g["level"] == "aggregator").any()
    # the command line writes the same evidence next to the predictions
    assert main(["predict", str(tmp_path / "m"), str(csv), "--start", str(test.index[0]), "--out",
                 str(tmp_path / "p" / "pred.parquet"), "--quiet"]) == 0
    table = pd.read_csv(tmp_path / "p" / "alarms.csv")
    assert table["alarm"].nunique() == n_alarms and "label-free" in set(table["note"].dropna())
