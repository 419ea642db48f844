"""Integration tests of `esa_adb_hier.synthetic`, used the way a script uses the package."""
import numpy as np
import pandas as pd
import pytest

from esa_adb_hier.core import DataError, interval_bounds
from esa_adb_hier.data import load_raw_mission
from esa_adb_hier.baselines import global_std_flags
from esa_adb_hier.events import challenge_fscore
from esa_adb_hier.synthetic import (ANOMALY_CLASSES, MISSION1_TELECOMMANDS, RARE_EVENT_CLASSES, channel_raw,
                                    make_mission, plan_mission)
from esa_adb_hier.synthetic_raw import generate_raw_mission, write_raw_mission

FEW = ["channel_4", "channel_14", "channel_41", "channel_42", "channel_44", "channel_54", "channel_62", "channel_70"]
LABEL_COLS = ["ID", "Channel", "StartTime", "EndTime", "Category"]


@pytest.fixture(scope="module")
def mission60():
    return make_mission(days=60, seed=0)


@pytest.fixture(scope="module")
def small():
    return make_mission(days=8, seed=5, channels=FEW)


def _same_mission(a, b):
    assert a.values.index.equals(b.values.index)
    assert list(a.values.columns) == list(b.values.columns)
    np.testing.assert_array_equal(a.values.to_numpy(), b.values.to_numpy())
    assert list(a.telecommands.columns) == list(b.telecommands.columns)
    np.testing.assert_array_equal(a.telecommands.to_numpy(), b.telecommands.to_numpy())
    pd.testing.assert_frame_equal(a.labels[LABEL_COLS].reset_index(drop=True),
                                  b.labels[LABEL_COLS].reset_index(drop=True),
                                  check_dtype=False)


def test_default_mission_shape_and_rates(mission60):
    m = mission60
    assert m.values.shape == (60 * 2880, 76)
    assert (m.values.dtypes == np.float32).all()
    assert len(m.target_channels) == 58
    assert m.telecommand_names == list(MISSION1_TELECOMMANDS)
    assert 0.01 <= m.is_anomaly().mean() <= 0.03
    assert set(ANOMALY_CLASSES) | set(RARE_EVENT_CLASSES) <= set(m.labels["Class"])
    assert set(m.labels["Category"]) == {"Anomaly", "Rare Event", "Communication Gap"}
    assert set(m.anomaly_types["ID"]) == set(m.labels["ID"])
    lo, hi = interval_bounds(m.index, m.labels["StartTime"], m.labels["EndTime"])
    assert (hi > lo).all()                                             # every label row covers a grid point


def test_counters_monotonic_and_status_discrete(mission60):
    v = mission60.values
    for i in range(4, 12):
        assert (np.diff(v[f"channel_{i}"].to_numpy()) >= 0).all()
    assert v[["channel_53", "channel_54", "channel_67", "channel_68"]].nunique().max() <= 5


def test_telecommand_switches_are_not_labelled(mission60):
    m = mission60
    labelled = m.label_masks(categories=None).any(axis=1).to_numpy()
    pulses = np.flatnonzero(m.telecommands.to_numpy().any(axis=1))
    assert pulses.size > 50
    assert not any(labelled[k:k + 30].any() for k in pulses)


def _global_std(m, k, train_fraction=0.6):
    "GlobalSTD<k>: any target channel beyond k standard deviations of its nominal training points; challenge F0.5."
    cut = int(len(m) * train_fraction)
    x = m.values[m.target_channels].to_numpy(np.float64)
    nominal = ~m.label_masks(channels=m.target_channels, categories=None).to_numpy()[:cut]
    flag = global_std_flags(x[:cut], nominal, x[cut:], k).any(axis=1).astype(np.uint8)
    return challenge_fscore(m.is_anomaly().to_numpy()[cut:], flag)


def test_threshold_baselines_are_weak(mission60):
    "As on the real Mission 1 (GlobalSTD5: F0.5 0.25 on channels 41-46), fixed thresholds must not solve the mission."
    f5, f3 = _global_std(mission60, 5), _global_std(mission60, 3)
    assert f5["EW_F_0.50"] < 0.6, f5
    assert f3["EW_F_0.50"] < 0.6, f3
    assert f5["FP_e"] > 5 and f5["FN_e"] > 0                          # nominal confusers and subtle anomalies


def test_rare_mode_appears_late():
    plan = plan_mission(days=60, seed=0)
    rare = [md for md in plan.modes if md.get("rare", -1) > 0]
    assert len(rare) == 1
    md = rare[0]
    entered = md["times"][md["states"] == md["rare"]]
    assert entered.size > 0 and (entered >= 0.65 * plan.end_ms).all()


def test_deterministic_and_channel_independent():
    a = make_mission(days=4, seed=11, channels=["channel_13", "channel_45"])
    b = make_mission(days=4, seed=11, channels=["channel_45", "channel_13"])
    _same_mission(a, b)
    full = make_mission(days=4, seed=11)
    np.testing.assert_array_equal(full.values["channel_45"].to_numpy(), a.values["channel_45"].to_numpy())
    c = make_mission(days=4, seed=12, channels=["channel_13", "channel_45"])
    assert not np.array_equal(a.values.to_numpy(), c.values.to_numpy())


def test_grid_is_zoh_of_raw_samples():
    plan = plan_mission(days=3, seed=2)
    m = make_mission(days=3, seed=2, channels=["channel_30"])
    t, v, _ = channel_raw(plan, "channel_30")
    assert (np.diff(t) >= 30_000).all() and (np.diff(t) > 90_000).sum() < 20
    grid = np.arange(plan.n) * plan.period_ms
    i = np.maximum(np.searchsorted(t, grid, side="right") - 1, 0)
    np.testing.assert_array_equal(m.values["channel_30"].to_numpy(), v[i])


def test_write_raw_mission_round_trip(small, tmp_path):
    write_raw_mission(small, tmp_path / "m")
    for f in ("channels.csv", "telecommands.csv", "labels.csv", "anomaly_types.csv"):
        assert (tmp_path / "m" / f).exists()
    ch = pd.read_csv(tmp_path / "m" / "channels.csv")
    assert list(ch.columns) == ["Channel", "Subsystem", "Physical Unit", "Group", "Target"]
    assert set(ch["Target"]) <= {"YES", "NO"}
    lab = pd.read_csv(tmp_path / "m" / "labels.csv")
    assert lab["StartTime"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").all()
    raw = pd.read_pickle(tmp_path / "m" / "channels" / "channel_41.zip", compression="zip")
    assert raw.index.name == "datetime" and list(raw.columns) == ["channel_41"]
    assert len(raw) < len(small)                                     # unchanged stretches are not written
    tc = pd.read_pickle(tmp_path / "m" / "telecommands" / "telecommand_36.zip", compression="zip")
    assert list(tc.columns) == ["telecommand_36"] and (tc["telecommand_36"] == 1).all()
    _same_mission(load_raw_mission(tmp_path / "m", progress=False), small)


def test_generate_raw_mission_matches_make_mission(small, tmp_path):
    info = generate_raw_mission(tmp_path / "g", days=8, seed=5, channels=FEW)
    assert info["channels"] == len(FEW) and info["grid_points"] == len(small)
    back = load_raw_mission(tmp_path / "g", progress=False)
    _same_mission(back, small)
    raw = pd.read_pickle(tmp_path / "g" / "channels" / "channel_44.zip", compression="zip")
    dt = np.diff(raw.index.asi8) / 1e9
    assert dt.min() >= 30 and np.unique(np.round(dt)).size > 30       # irregular sampling
    at = pd.read_csv(tmp_path / "g" / "anomaly_types.csv")
    assert list(at.columns) == ["ID", "Class", "Subclass", "Category", "Dimensionality", "Locality", "Length"]


def test_bad_arguments():
    with pytest.raises(DataError, match="channel_0"): make_mission(days=2, channels=["channel_0"])
    with pytest.raises(DataError, match="days"): make_mission(days=0)
    with pytest.raises(DataError, match="anomaly_rate"): make_mission(days=2, anomaly_rate=-0.1)
    with pytest.raises(DataError, match="period"): make_mission(days=2, period="-30s")
