"""Every alarm explained: channels by their exact contribution to layer 3, after save/load too, and for model
folders written before the nominal feature ranges were kept."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from esa_adb_hier.ensemble import HierarchicalDetector
from esa_adb_hier.ensemble_config import HierarchicalConfig
from esa_adb_hier.explain import (EVIDENCE_COLUMNS, _peak_row, alarm_events, channel_contributions, explain,
                                  row_scores, write_alarms)
from esa_adb_hier.modelfolder import digest, manifest_checksum
from esa_adb_hier.synthetic import make_mission


@pytest.fixture(scope="module")
def mission():
    return make_mission(days=40, seed=0, channels=[f"channel_{i}" for i in (41, 42, 43, 47, 48, 49)])


def fitted(mission, aggregator, view=""):
    cfg = HierarchicalConfig.preset("fast").replace(threshold=0.3, aggregator=aggregator, use_nominal_view=bool(view),
                                                    nominal_view_aggregator=view == "nominal_agg")
    return HierarchicalDetector(cfg, progress=False).fit(mission.iloc(0, int(len(mission) * 0.7)))


@pytest.fixture(scope="module", params=["lr", "xgb", "lr+nominal_agg", "xgb+nominal"])
def case(request, mission):
    agg, _, view = request.param.partition("+")
    det = fitted(mission, agg, view)
    pred = det.predict(mission)
    return det, pred, explain(det, mission, pred)


def test_every_alarm_has_a_channel(case):
    det, pred, table = case
    alarms = alarm_events(pred)
    assert len(alarms) >= 2, "the fixture should raise a few alarms"
    assert list(table.columns) == EVIDENCE_COLUMNS
    assert sorted(table["alarm"].unique()) == list(alarms["alarm"])
    for a, g in table.groupby("alarm"):
        ch = g[g.level == "channel"]
        assert len(ch) >= 1, f"alarm {a} has no channel"
        assert ch["channel"].isin(det.channels_).all() and (ch["subsystem"] != "").all()
        assert (ch["contribution"].diff().dropna() <= 0).all(), "channels are ranked by contribution"
        assert (g.level == "feature").any() and (g.level == "model").any()
        # with the nominal view, each explained channel also shows its label-free score, a stacker input
        views = g[(g.level == "model") & (g.name == "nominal view")]
        assert len(views) == (len(ch) if det.config.use_nominal_view else 0)
        assert ((views["value"] >= 0) & (views["value"] < 1)).all()


def test_contributions_sum_to_the_margin(case, mission):
    det, pred, table = case
    passed = row_scores(det, mission)
    np.testing.assert_allclose(passed["scales"]["s50"]["sample"], pred["score"].to_numpy(), atol=1e-6)
    for _, ev in alarm_events(pred).iterrows():
        lo, hi = mission.index.searchsorted(ev["start"]), mission.index.searchsorted(ev["end"], side="right")
        p, key, r = _peak_row(passed, int(lo), int(hi))
        sc, l3 = passed["scales"][key], det.layer3_[key]
        assert ("nominal" in sc) == (det.config.use_nominal_view and det.config.nominal_view_aggregator)
        c = channel_contributions(l3["aggregator"], sc["P"][r], l3["weights"], passed["groups"], det.config,
                                  sc["nominal"][r] if "nominal" in sc else None)
        assert c["contribution"].shape == (len(det.channels_),)
        assert abs(c["bias"] + c["contribution"].sum() - c["margin"]) < 1e-6
        assert abs(expit(c["margin"]) - sc["g"][r]) < 1e-6, "the margin is the aggregator's own"
        row = table[(table.alarm == ev["alarm"]) & (table.level == "aggregator")].iloc[0]
        assert row["value"] == pytest.approx(c["margin"], abs=1e-12) and row["peak_time"] == mission.index[p]


def test_explain_after_save_and_load(case, mission, tmp_path):
    det, pred, table = case
    det.save(tmp_path / "model")
    back = HierarchicalDetector.load(tmp_path / "model", progress=False)
    pd.testing.assert_frame_equal(back.explain(mission, pred), table)
    csv, js = write_alarms(table, tmp_path / "out")
    assert len(pd.read_csv(csv)) == len(table) and len(json.loads(js.read_text())) == len(table)


def _drop_ranges(root):
    "Rewrite a model folder as one written before the nominal ranges were kept (digests and checksum updated)."
    man = json.loads((root / "manifest.json").read_text())
    for rel in [f for f in man["files"] if f.endswith("/model.json") and f.startswith("channels/")]:
        per = json.loads((root / rel).read_text())
        for part in per.values():
            part.pop("nominal_low"); part.pop("nominal_high")
            for c in part["configs"]: c.pop("nominal_low"); c.pop("nominal_high")
        data = json.dumps(per, indent=2).encode()
        (root / rel).write_bytes(data); man["files"][rel] = digest(data)
    man["checksum"] = manifest_checksum(man)
    (root / "manifest.json").write_text(json.dumps(man, indent=2))


def test_old_model_folder_without_ranges(mission, tmp_path):
    det = fitted(mission, "lr")
    pred = det.predict(mission)
    det.save(tmp_path / "old")
    _drop_ranges(tmp_path / "old")
    old = HierarchicalDetector.load(tmp_path / "old", progress=False)
    assert "nominal_low" not in old.models_[old.channels_[0]]["s50"]
    pd.testing.assert_frame_equal(old.predict(mission), pred)
    table = old.explain(mission, pred)
    f = table[table.level == "feature"]
    assert len(f) and (f["note"] == "range unknown").all() and f["nominal_low"].isna().all()
    new = explain(det, mission, pred)
    cols = ["alarm", "level", "rank", "channel", "name", "value", "contribution"]
    pd.testing.assert_frame_equal(table[cols], new[cols])


@pytest.mark.parametrize("changes", [
    {"use_autoencoder_view": True, "autoencoder": {"epochs": 2, "hidden": 8, "latent": 4, "max_train_windows": 1000}},
    {"feature_set": "authors"},
    {"use_nominal_view": True, "use_autoencoder_view": True,
     "autoencoder": {"epochs": 2, "hidden": 8, "latent": 4, "max_train_windows": 1000}}])
def test_feature_names_fit_the_base_models(changes):
    "Every base-model feature has its name and its range, with the autoencoder view and with the authors' features."
    from esa_adb_hier.explain import channel_evidence, feature_names
    m = make_mission(days=12, seed=1, channels=["channel_41", "channel_42", "channel_47"])
    fast = HierarchicalConfig.preset("fast")
    cfg = fast.replace(xgb={**fast.xgb, "n_estimators": 20}, **changes)
    det = HierarchicalDetector(cfg, progress=False).fit(m.iloc(0, 9 * 2880))
    passed = row_scores(det, m)
    checked = 0
    for ch in det.channels_:
        part = det.models_[ch]["s50"]
        e = channel_evidence(det, m, ch, "s50", 400, passed)
        assert abs(e["layer2"] - e["expected"]) < 1e-6
        for c in part["configs"]:
            if c["model"]["kind"] != "xgb": continue
            names = feature_names(part["columns"], det.telecommands_, ch, len(c["shapelets"]),
                                  "s50" in passed["extra"][ch], cfg.feature_set)
            assert len(names) == c["model"]["n_features"] == len(part["nominal_low"]) + len(c["nominal_low"])
            checked += 1
    assert checked
    assert ("s50" in passed["extra"][ch]) == bool(changes.get("use_autoencoder_view"))
    assert ("nominal:s50" in passed["extra"][ch]) == bool(changes.get("use_nominal_view"))
    assert (e["nominal"] is not None) == bool(changes.get("use_nominal_view"))
