"""Model directories as users meet them: damaged, edited, half-written, replaced, and a fit killed part-way.

A small ensemble (three channels, 12 days, 20 trees) is saved, damaged in every way a file can be
damaged, and loaded back; saves are made to fail after each file and at the swap; an `esa-adb-hier fit`
with two workers is killed with SIGKILL, SIGTERM and SIGINT.
"""
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from esa_adb_hier import modelfolder
from esa_adb_hier.core import DataError, Mission, read_json
from esa_adb_hier.ensemble import HierarchicalConfig, HierarchicalDetector
from esa_adb_hier.modelfolder import FORMAT_VERSION, ModelReader, manifest_checksum
from esa_adb_hier.synthetic import make_mission

CHANNELS = ["channel_41", "channel_42", "channel_47"]
SPLIT = 9 * 2880


def tiny(**changes) -> HierarchicalConfig:
    fast = HierarchicalConfig.preset("fast")
    return fast.replace(xgb={**fast.xgb, "n_estimators": 20}, **changes)


@pytest.fixture(scope="module")
def models():
    "An old model (two channels) and a new one (three channels, another seed), and the part to predict."
    m = make_mission(days=12, seed=1, channels=CHANNELS)
    train, test = m.iloc(0, SPLIT), m.iloc(SPLIT, len(m))
    old = HierarchicalDetector(tiny(), progress=False).fit(train.select_channels(CHANNELS[:2]))
    new = HierarchicalDetector(tiny(seed=3), progress=False).fit(train)
    return old, new, test


@pytest.fixture
def saved(models, tmp_path):
    old, _, _ = models
    return old.save(tmp_path / "model")


def flip(p: Path):
    b = bytearray(p.read_bytes()); b[len(b) // 2] ^= 0x01; p.write_bytes(bytes(b))


def forge(d: Path, rel: str, data: bytes):
    "Replace artifact `rel` and make the manifest agree (as a hand-made or buggy directory would)."
    (d / rel).write_bytes(data)
    man = read_json(d / "manifest.json")
    man["files"][rel] = modelfolder.digest(data); man["checksum"] = manifest_checksum(man)
    (d / "manifest.json").write_text(json.dumps(man))


def test_manifest_lists_every_artifact_with_its_digest(saved, models):
    man = read_json(saved / "manifest.json")
    assert man["format"] == "esa_adb_hier.model" and man["format_version"] == FORMAT_VERSION == 2
    assert {"package_version", "detector", "config", "channels", "groups", "train_range", "validation", "files",
            "checksum"} <= set(man)
    assert set(man["validation"]["cv_precision"]["s50"]) == set(CHANNELS[:2])
    on_disk = sorted(p.relative_to(saved).as_posix() for p in saved.rglob("*") if p.is_file())
    assert on_disk == sorted([*man["files"], "manifest.json"])
    for rel, e in man["files"].items():
        assert modelfolder.digest((saved / rel).read_bytes()) == e
    assert man["checksum"] == manifest_checksum(man)


@pytest.mark.parametrize("pick", ["model.json", "shapelets.npz", ".ubj", "layer3/s50.json"])
def test_a_flipped_byte_in_any_kind_of_artifact_is_refused(saved, pick):
    rel = next(r for r in sorted(read_json(saved / "manifest.json")["files"]) if r.endswith(pick))
    flip(saved / rel)
    with pytest.raises(DataError, match=f"{rel}: SHA-256 .* altered or damaged"):
        HierarchicalDetector.load(saved)


def test_missing_truncated_unlisted_edited_and_future_models_are_refused(models, tmp_path):
    old = models[0]
    cases = []
    d = old.save(tmp_path / "missing"); rel = sorted(read_json(d / "manifest.json")["files"])[3]
    (d / rel).unlink(); cases.append((d, f"{rel}: missing"))
    d = old.save(tmp_path / "short"); (d / rel).write_bytes((d / rel).read_bytes()[:-1]); cases.append((d,
        f"{rel}: .* truncated"))
    d = old.save(tmp_path / "extra"); (d / "channels" / "channel_99.ubj").write_bytes(b"x")
    cases.append((d, "channel_99.ubj: not listed"))
    d = old.save(tmp_path / "edited"); man = read_json(d / "manifest.json"); man["config"]["threshold"] = 0.1
    (d / "manifest.json").write_text(json.dumps(man)); cases.append((d, "edited or damaged"))
    for v, text in ((FORMAT_VERSION + 1, "upgrade esa_adb_hier"), (1, "fit the model again")):
        d = old.save(tmp_path / f"v{v}"); man = read_json(d / "manifest.json"); man["format_version"] = v
        man["checksum"] = manifest_checksum(man); (d / "manifest.json").write_text(json.dumps(man)); cases.append((d,
            text))
    d = old.save(tmp_path / "escape"); man = read_json(d / "manifest.json")
    man["files"]["../outside.ubj"] = man["files"][rel]
    man["checksum"] = manifest_checksum(man); (d / "manifest.json").write_text(json.dumps(man)); cases.append((d,
        "'../outside.ubj'"))
    for d, text in cases:
        with pytest.raises(DataError, match=text): HierarchicalDetector.load(d)
    from esa_adb_hier.autoencoder import AEDetector
    with pytest.raises(DataError, match="holds a 'hierarchical' model, not a 'autoencoder' one"):
        AEDetector.load(old.save(tmp_path / "other"))


def test_library_failures_become_data_errors_naming_the_file(models, tmp_path):
    "Bytes that match a (re-computed) manifest but are not what the reader expects."
    old = models[0]
    d = old.save(tmp_path / "a"); files = sorted(read_json(d / "manifest.json")["files"])
    ubj = next(r for r in files if r.endswith(".ubj")); forge(d, ubj, b"{broken")
    broken = HierarchicalDetector.load(d, progress=False)                       # boosters are parsed when first used
    with pytest.raises(DataError, match=f"{ubj}: not a readable XGBoost model"): broken.predict(models[2])
    d = old.save(tmp_path / "b"); npz = next(r for r in files if r.endswith("shapelets.npz")); forge(d, npz,
        b"PK\x03\x04junk")
    with pytest.raises(DataError, match=f"{npz}: not a readable .npz"): HierarchicalDetector.load(d)
    d = old.save(tmp_path / "c"); js = next(r for r in files if r.endswith("model.json")); forge(d, js, b"\xff\xfe")
    with pytest.raises(DataError, match=f"{js}: not valid UTF-8 JSON"): HierarchicalDetector.load(d)
    d = old.save(tmp_path / "d"); forge(d, js, json.dumps({"s50": {"configs": [{"n": 0}]}}).encode())
    with pytest.raises(DataError, match="do not fit together .*KeyError"): HierarchicalDetector.load(d)
    d = old.save(tmp_path / "e"); forge(d, "layer3/s50.json", json.dumps({"weights": [1.0]}).encode())
    with pytest.raises(DataError, match="s50.json: 1 channel weights for 2 channels"): HierarchicalDetector.load(d)


def test_overwrite_is_refused_unless_asked(models, saved):
    old, new, test = models
    with pytest.raises(DataError, match="overwrite=True"): new.save(saved)
    assert read_json(saved / "manifest.json")["channels"] == CHANNELS[:2]
    new.save(saved, overwrite=True)
    assert read_json(saved / "manifest.json")["channels"] == CHANNELS
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model"]
    pd.testing.assert_frame_equal(HierarchicalDetector.load(saved, progress=False).predict(test), new.predict(test))


def _state(target: Path) -> dict:
    "The manifest of the model at `target`, after checking every listed file and that nothing else is there."
    r = ModelReader(target)
    for rel in r.files: r.read_bytes(rel)
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name], list(target.parent.iterdir())
    return r.manifest


def test_a_crash_at_any_point_of_a_save_leaves_the_old_model_or_the_new_one(models, tmp_path, monkeypatch):
    old, new, test = models
    target = old.save(tmp_path / "model")
    before = _state(target)
    n_writes = len(new.save(tmp_path / "probe").joinpath("manifest.json").read_text() and
                   read_json(tmp_path / "probe" / "manifest.json")["files"]) + 1          # artifacts + the manifest
    shutil.rmtree(tmp_path / "probe")
    real_write, real_rename = modelfolder._write_file, modelfolder._rename
    for k in range(n_writes):                                      # fail while writing file k (0-based)
        calls = []
        def failing(path, data, k=k):
            if len(calls) == k: raise (KeyboardInterrupt if k % 2 else OSError)(f"crash at file {k}")
            calls.append(path); real_write(path, data)
        monkeypatch.setattr(modelfolder, "_write_file", failing)
        with pytest.raises((OSError, KeyboardInterrupt)): new.save(target, overwrite=True)
        monkeypatch.setattr(modelfolder, "_write_file", real_write)
        assert _state(target) == before, k
    for j in (1, 2):                                               # fail at the first / second rename of the swap
        calls = []
        def failing_rename(src, dst, j=j):
            calls.append(dst)
            if len(calls) == j: raise OSError(f"crash at rename {j}")
            real_rename(src, dst)
        monkeypatch.setattr(modelfolder, "_rename", failing_rename)
        with pytest.raises(OSError, match="crash at rename"): new.save(target, overwrite=True)
        monkeypatch.setattr(modelfolder, "_rename", real_rename)
        assert _state(target) == before, j
    pd.testing.assert_frame_equal(HierarchicalDetector.load(target, progress=False).predict(test), old.predict(test))
    new.save(target, overwrite=True)
    assert _state(target)["channels"] == CHANNELS
    pd.testing.assert_frame_equal(HierarchicalDetector.load(target, progress=False).predict(test), new.predict(test))


def test_a_save_killed_outright_leaves_a_marked_staging_directory_that_the_next_save_removes(models, tmp_path):
    old = models[0]
    target = tmp_path / "model"
    code = (f"import os, pickle; from esa_adb_hier import modelfolder as mf\n"
            f"w = mf.ModelWriter({str(target)!r}); w.write_json('a.json', {{}}); os._exit(9)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".model.saving-"), left
    with pytest.raises(DataError, match="interrupted save left .model.saving-"): HierarchicalDetector.load(target)
    old.save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_fit_takes_a_mission_and_from_arrays_builds_one():
    with pytest.raises(DataError, match=r"takes one Mission that holds the labels, got 2 arguments "
                                         r".*from arrays with Mission\.from_arrays"):
        HierarchicalDetector(tiny()).fit(np.zeros((100, 2)), np.zeros(100))
    rng = np.random.default_rng(0)
    n = 8 * 2880
    x = rng.normal(size=(n, 2)).astype(np.float32); y = np.zeros((n, 2), np.uint8)
    for s in range(1500, n - 400, 2500): x[s:s + 200, 0] += 6; y[s:s + 200, 0] = 1
    m = Mission.from_arrays(x, y)
    assert m.target_channels == ["channel_1", "channel_2"] and m.labels["ID"].nunique() == len(range(1500, n - 400,
        2500))
    det = HierarchicalDetector(tiny(), progress=False).fit(m)
    assert det.channels_ == ["channel_1", "channel_2"] and len(det.predict(m)) == n
