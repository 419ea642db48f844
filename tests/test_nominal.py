"""Tests of esa_adb_hier.nominal: threshold and range max against loops, fallback, unsupervised save / load."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from esa_adb_hier.core import DataError
from esa_adb_hier.nominal import (NominalConfig, NominalDetector, dynamic_threshold, fit_nominal, nominal_flags,
                                  nominal_scores, prune_runs, range_max)


def naive_threshold(e, zs):
    "Loop reference of dynamic_threshold."
    mu, sd = e.mean(), e.std()
    best, thr = -np.inf, np.inf
    for z in zs:
        t = mu + z * sd; above = e > t
        if not above.any() or above.all(): continue
        b = e[~above]
        n_runs = int(np.sum(above & ~np.r_[False, above[:-1]]))
        sc = ((mu - b.mean()) / mu + (sd - b.std()) / sd) / (above.sum() + n_runs ** 2)
        if sc > best: best, thr = sc, t
    return thr


@settings(max_examples=40, deadline=None, derandomize=True)
@given(n=st.integers(5, 400), seed=st.integers(0, 10 ** 6), bumps=st.integers(0, 4))
def test_dynamic_threshold_matches_loop(n, seed, bumps):
    rng = np.random.default_rng(seed)
    e = np.abs(rng.standard_normal(n)) + 0.01
    for _ in range(bumps):
        a = int(rng.integers(0, n)); e[a: a + int(rng.integers(1, 10))] += rng.uniform(1, 10)
    got, exp = dynamic_threshold(e), naive_threshold(e, np.arange(2.5, 12.25, 0.5))
    assert got == pytest.approx(exp, rel=1e-9) or (np.isinf(got) and np.isinf(exp))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(n=st.integers(1, 300), seed=st.integers(0, 10 ** 6))
def test_range_max_matches_loop(n, seed):
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(n); s = rng.integers(0, n, 50); e = np.minimum(s + rng.integers(1, 80, 50), n)
    assert np.array_equal(range_max(v, s, e), np.array([v[a:b].max() for a, b in zip(s, e)]))


def test_prune_keeps_separated_runs():
    e = np.full(100, 0.1); e[10:12] = 5.0; e[50:52] = 4.8; e[80] = 1.0
    f = e > 0.5
    assert np.flatnonzero(prune_runs(e, f)).tolist() == [10, 11, 50, 51, 80]
    e[80] = 4.7                                             # no clear fall any more between the three, but to the rest
    assert prune_runs(e, f).sum() == 5


def series(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    return np.sin(np.arange(n) / 20) + 0.05 * rng.standard_normal(n)


def test_detects_level_shift_and_not_nominal():
    x = series(); x[5000:5200] += 1.5
    cfg = NominalConfig()
    m = fit_nominal(x[:4000], np.ones(4000, bool), cfg)
    f = nominal_flags(m, x, None, cfg, start=4000)
    assert f[1000:1200].any() and not f[:900].any() and not f[1300:].any()
    s = nominal_scores(m, x)
    assert s["score"].iloc[5000:5200].max() > 0.6 > s["score"].iloc[4000:4900].max()


def test_labelled_samples_are_not_learned():
    x = series(); x[1000:1500] += 3.0                     # an anomaly inside the fit range, labelled
    nom = np.ones(4000, bool); nom[1000:1500] = False
    m = fit_nominal(x[:4000], nom, NominalConfig())
    assert nominal_scores(m, x[:4000])["features"].iloc[1000:1500].max() > 2
    m_all = fit_nominal(x[:4000], np.ones(4000, bool), NominalConfig())
    assert nominal_scores(m_all, x[:4000])["features"].iloc[1000:1500].max() <= 1.0 + 1e-9


def test_fallback_warns_and_alarms():
    with pytest.warns(UserWarning, match="channel 'c7': only .* falling back to a 5-sigma band"):
        m = fit_nominal(series(200), np.ones(200, bool), NominalConfig(), name="c7")
    x = np.r_[series(200), [9.0]]
    assert nominal_flags(m, x, None, NominalConfig(), start=200).tolist() == [True]
    with pytest.raises(DataError, match="channel 'c8': no nominal"):
        fit_nominal(series(200), np.zeros(200, bool), name="c8")


def test_unsupervised_mission_save_load(tmp_path):
    from esa_adb_hier.synthetic import make_mission
    m = make_mission(days=6, seed=5, channels=["channel_41", "channel_42"])
    m.labels = m.labels.iloc[:0]                           # no labels at all: the detector still fits
    cut = int(len(m) * 0.7)
    det = NominalDetector(progress=False).fit(m.iloc(0, cut))
    pred = det.predict(m.iloc(cut, len(m)))
    det.save(tmp_path / "model")
    again = NominalDetector.load(tmp_path / "model").predict(m.iloc(cut, len(m)))
    assert again.equals(pred)
    assert set(pred.columns) >= {"is_anomaly", "score", "channel_41", "score_channel_42"}
