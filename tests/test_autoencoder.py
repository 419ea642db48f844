"""Integration tests of the autoencoder detector, used the way a script uses the package."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from esa_adb_hier.autoencoder import (AEConfig, AEDetector, AttentionGRUAutoencoder, fit_autoencoder,
                                      reconstruction_error_features, window_starts)
from esa_adb_hier.core import DataError, Mission, load_arrays
from esa_adb_hier.synthetic import make_mission

CHANNELS = ["channel_41", "channel_42", "channel_43"]
TINY = dict(hidden=8, latent=4, epochs=3, patience=2, max_train_windows=600, max_val_windows=300,
            max_classifier_windows=800, n_trees=10, tree_depth=3)


def _mission(days: float = 8, seed: int = 0) -> Mission:
    "A small synthetic mission: three target channels, the eleven priority-3 telecommands, labelled events."
    return make_mission(days=days, seed=seed, channels=CHANNELS)


@pytest.fixture(scope="module")
def mission():
    return _mission()


@pytest.fixture(scope="module")
def fitted(mission):
    cut = mission.index[int(len(mission) * 0.75)]
    fit, test = mission.slice(None, cut), mission.slice(cut, None)
    return AEDetector(AEConfig(**TINY, seed=5)).fit(fit), fit, test


def test_model_shapes():
    import torch
    net = AttentionGRUAutoencoder(n_inputs=7, window=12, hidden=16, latent=32)
    rec, z = net(torch.zeros(5, 12, 7))
    assert tuple(rec.shape) == (5, 12, 7) and tuple(z.shape) == (5, 32)
    z2, att = net.encode(torch.randn(4, 12, 7))
    assert tuple(att.shape) == (4, 12)
    assert torch.allclose(att.sum(1), torch.ones(4))


def test_score_frame(mission):
    cfg = AEConfig(**TINY)
    model = fit_autoencoder(mission, cfg)
    sc = model.score(mission)
    n_inputs = len(mission.channel_names) + len(mission.telecommand_names)
    assert len(sc) == len(window_starts(len(mission), cfg.window, cfg.stride))
    assert list(sc.columns[:3]) == ["start", "time", "error"]
    assert sc.filter(like="error_").shape[1] == n_inputs
    assert sc.filter(like="z_").shape[1] == cfg.latent
    assert (sc["time"].to_numpy() == mission.index[sc.start].to_numpy()).all()
    assert list(model.history.columns) == ["epoch", "train_loss", "val_loss"] and 1 <= len(model.history) <= cfg.epochs
    # the training part ends before the validation part starts (chronological split)
    assert model.ranges["ae_train"][1] < model.ranges["validation"][0]
    # streaming gives the same numbers as the frame
    streamed = np.concatenate([b["error"] for b in model.iter_scores(mission)])
    np.testing.assert_array_equal(streamed, sc["error"].to_numpy())


def test_predictions_frame(fitted):
    det, _, test = fitted
    pred = det.predict(test)
    targets = [c for c in test.target_channels]
    assert list(pred.columns) == ["is_anomaly", "score"] + targets + [f"score_{c}" for c in targets]
    assert pred.index.equals(test.index)
    assert pred["is_anomaly"].dtype == np.uint8 and pred["score"].dtype == np.float32
    assert all(pred[c].dtype == np.uint8 for c in targets)
    assert pred["score"].between(0, 1).all() and not pred.isna().any().any()
    assert ((pred["score"] >= 0.5).astype(np.uint8) == pred["is_anomaly"]).all()
    proba = det.predict_proba(test)
    np.testing.assert_array_equal(proba["score"].to_numpy(), pred["score"].to_numpy())


def test_error_features(fitted):
    det, _, test = fitted
    f = reconstruction_error_features(det, test, "channel_42")
    assert list(f.columns) == ["ae_error_channel_42", "ae_ratio_channel_42", "ae_error_total"]
    assert f.index.equals(test.index) and not f.isna().any().any()
    with pytest.raises(DataError, match="channel_99"):
        reconstruction_error_features(det, test, ["channel_99"])


def test_determinism(mission):
    cfg = AEConfig(**TINY, seed=11)
    a, b = AEDetector(cfg).fit(mission), AEDetector(cfg).fit(mission)
    wa, wb = a.model.weight_arrays(), b.model.weight_arrays()
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    pd.testing.assert_frame_equal(a.predict(mission), b.predict(mission))
    c = AEDetector(AEConfig(**{**cfg.to_dict(), "seed": 12})).fit(mission)
    assert not all(np.array_equal(wa[k], c.model.weight_arrays()[k]) for k in wa)


def test_save_load_fresh_process(fitted, tmp_path):
    det, _, test = fitted
    det.save(tmp_path / "model")
    pred = det.predict(test)
    test.values.to_parquet(tmp_path / "values.parquet")
    test.telecommands.to_parquet(tmp_path / "tc.parquet")
    script = f"""
import pandas as pd
from esa_adb_hier.autoencoder import AEDetector
from esa_adb_hier.core import Mission, empty_labels, mission1_channels
v = pd.read_parquet({str(tmp_path / 'values.parquet')!r}); t = pd.read_parquet({str(tmp_path / 'tc.parquet')!r})
m = Mission(v, t, empty_labels(), mission1_channels())
AEDetector.load({str(tmp_path / 'model')!r}).predict(m).to_parquet({str(tmp_path / 'pred.parquet')!r})
"""
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    back = pd.read_parquet(tmp_path / "pred.parquet")
    back.index.freq = None
    pd.testing.assert_frame_equal(back, pred, check_freq=False)


def test_model_dir_has_no_pickle(fitted, tmp_path):
    det, _, _ = fitted
    d = det.save(tmp_path / "model")
    man = json.loads((d / "manifest.json").read_text())
    assert man["format"] == "esa_adb_hier.model" and man["format_version"] == 2 and man["detector"] == "autoencoder"
    assert man["channels"] == CHANNELS and man["telecommands"] == det.model.telecommands and len(man["telecommands"]) >= 1
    assert set(man["files"]) | {"manifest.json"} == {p.name for p in d.iterdir()}
    for p in d.iterdir():
        assert p.suffix in {".json", ".npz", ".ubj"}, p
        head = p.read_bytes()[:2]
        assert head[:1] != b"\x80", f"{p.name} starts like a pickle"
        if p.suffix == ".npz":
            arrays = load_arrays(p)           # allow_pickle=False: raises on any object array
            assert all(a.dtype != object for a in arrays.values())
    w = load_arrays(d / "weights.npz")
    assert set(w) == set(det.model.net.state_dict())


def test_bad_inputs(fitted, mission, tmp_path):
    det, _, test = fitted
    with pytest.raises(DataError, match="channel_42"):
        det.predict(test.select_channels(["channel_41"]))
    with pytest.raises(DataError, match="not fitted"):
        AEDetector().predict(test)
    with pytest.raises(DataError, match="AEConfig.threshold_quantile"):
        AEConfig(threshold_quantile=1.5)
    with pytest.raises(DataError, match="channel_7"):
        fit_autoencoder(mission, AEConfig(**TINY, channels=["channel_7"]))
    d = det.save(tmp_path / "m")
    man = json.loads((d / "manifest.json").read_text())
    man["detector"] = "hierarchical"
    (d / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(DataError, match="edited or damaged"):
        AEDetector.load(d)
    with pytest.raises(DataError, match="no such model directory"):
        AEDetector.load(tmp_path / "nowhere")
