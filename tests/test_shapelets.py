"Integration tests of esa_adb_hier.shapelets, used the way a script uses the package."
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from esa_adb_hier.core import DataError
from esa_adb_hier.shapelets import dirichlet_shapelets, mine_shapelets, shapelet_transform
from esa_adb_hier.testing import _reference_transform

# test files run side by side (pytest-xdist): one intra-op thread each avoids oversubscription
torch.set_num_threads(1)


def znorm(s):
    s = np.asarray(s, float); return (s - s.mean()) / s.std()


@pytest.fixture(scope="module")
def shapelets():
    rng = np.random.default_rng(42)
    return [znorm(rng.standard_normal(L)) for L in (12, 30, 34, 40)]


def signals(n=2500, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(n)
    walk = np.cumsum(base) * 0.3 + 5e5
    steps = np.repeat(rng.standard_normal(n // 50 + 1) * 1e4, 50)[:n] + 0.01 * base   # big level jumps, quiet plateaus
    const = np.where((np.arange(n) // 150) % 3 == 0, -2.5, base)
    const[[3, 999, 1000, n - 1]] = [np.nan, np.inf, np.nan, np.nan]
    # offset, quantised float32
    quant = np.round(1e6 + 3 * np.sin(np.arange(n) / 40) + 0.2 * base, 1).astype(np.float32)
    return {"random": base, "walk+offset": walk, "steps": steps, "constant+nan": const, "float32 1e6": quant}


@pytest.mark.parametrize("name", list(signals()))
@pytest.mark.parametrize("dilation,padding", [(1, 0), (2, 0), (1, 6), (2, 3)])
@pytest.mark.parametrize("length,step", [(50, 10), (64, 64), (45, 7)])
def test_matches_brute_force(shapelets, name, dilation, padding, length, step):
    x = signals()[name]
    shp = [s for s in shapelets if (len(s) - 1) * dilation + 1 <= length + 2 * padding]
    got = shapelet_transform(x, shp, length=length, step=step, dilation=dilation, padding=padding, bias=-0.7)
    ref = _reference_transform(x, shp, length=length, step=step, dilation=dilation, padding=padding, bias=-0.7)
    assert got.shape == ref.shape == ((len(x) - length) // step + 1, 2 * len(shp))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    assert np.nanmax(np.abs(got - ref)) < 1e-5


@pytest.mark.parametrize("name", ["steps", "constant+nan", "float32 1e6"])
@pytest.mark.parametrize("dilation", [1, 2])
def test_small_blocks_and_repeated_lengths(name, dilation):
    "Many blocks (ragged last one) and several shapelets per length: exact on every block boundary."
    rng = np.random.default_rng(7)
    shp = [znorm(rng.standard_normal(L)) for L in (20, 24, 20, 24, 16, 20)]
    x = signals()[name]
    ref = _reference_transform(x, shp, dilation=dilation, bias=0.3)
    for block in (50, 130, 1 << 16):
        got = shapelet_transform(x, shp, dilation=dilation, bias=0.3, block=block, batch=4)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        assert np.nanmax(np.abs(got - ref)) < 1e-5, block


def test_long_shapelets_and_precisions():
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.standard_normal(6000)) + 1e6
    shp = [znorm(rng.standard_normal(L)) for L in (280, 300)]
    ref = _reference_transform(x, shp, length=320, step=150)
    for precision in ("auto", "float32", "float64"):
        got = shapelet_transform(x, shp, length=320, step=150, precision=precision)
        assert np.abs(got - ref).max() < 1e-5, precision


def test_padding_allows_shapelets_longer_than_segment(shapelets):
    x = signals()["random"]
    long = znorm(np.r_[shapelets[3], shapelets[2]])          # 74 samples > 50
    with pytest.raises(DataError, match="set padding"): shapelet_transform(x, [long])
    got = shapelet_transform(x, [long], padding=12)
    np.testing.assert_allclose(got, _reference_transform(x, [long], padding=12), atol=1e-5)
    with pytest.raises(DataError, match="padded segment length"): shapelet_transform(x, [long], padding=5)


def test_frame_nan_policy_and_device(shapelets):
    x = signals()["constant+nan"]
    f = shapelet_transform(pd.Series(x), shapelets, as_frame=True, device="cpu")
    assert list(f.columns) == [f"shp{k}_{m}" for k in range(4) for m in ("max", "min")]
    starts = np.arange(len(f)) * 10
    has_bad = np.array([not np.isfinite(x[s:s + 50]).all() for s in starts])
    np.testing.assert_array_equal(f.isna().all(axis=1).to_numpy(), has_bad)
    assert not f[~has_bad].isna().any().any()
    plateau = f.iloc[185]   # samples 1850..1899 lie in a constant stretch: constant windows score bias / L = 0
    assert (plateau == 0).all()
    assert ((f[~has_bad].to_numpy() <= 1 + 1e-6) & (f[~has_bad].to_numpy() >= -1 - 1e-6)).all()


def test_bad_input(shapelets):
    x = signals()["random"]
    for kw, msg in [(dict(length=0), "length"), (dict(step=0), "step"), (dict(dilation=0), "dilation"),
                    (dict(padding=-1), "padding"), (dict(precision="half"), "precision"), (dict(bias=np.nan), "bias")]:
        with pytest.raises(DataError, match=msg): shapelet_transform(x, shapelets, **kw)
    with pytest.raises(DataError, match="shorter than one segment"): shapelet_transform(x[:49], shapelets)
    with pytest.raises(DataError, match="at least 3"): shapelet_transform(x, [np.ones(2)])
    with pytest.raises(DataError, match="1-D"): shapelet_transform(np.ones((3, 100)), shapelets)


def anomalous_channel(n=80_000, n_anomalies=25, seed=0):
    rng = np.random.default_rng(seed)
    x = np.sin(np.arange(n) / 120) + 0.1 * rng.standard_normal(n) + 300.0
    y = np.zeros(n, np.uint8)
    for s in np.sort(rng.choice(np.arange(200, n - 200, 250), n_anomalies, replace=False)):
        L = int(rng.integers(30, 60)); x[s:s + L] += np.where(np.arange(L) < L // 2, 1.0, -1.0); y[s:s + L] = 1
    return x, y


@pytest.mark.parametrize("rule", ["quantile", "best_minus_nominal"])
def test_mining_finds_discriminative_shapelets(rule):
    x, y = anomalous_channel()
    shp, info = mine_shapelets(x, y, k=5, rule=rule, return_info=True, seed=7, max_candidates=800)
    assert len(shp) == 5 and all(s.dtype == np.float32 for s in shp)
    assert all(30 <= len(s) <= 40 for s in shp) and info["length"].nunique() >= 3
    for s in shp: np.testing.assert_allclose([s.mean(), s.std()], [0, 1], atol=1e-5)
    assert (info["source"] == "anomaly").all() and info["run"].is_unique and (info["score"] > 0).all()
    for s, row in zip(shp, info.itertuples()):                   # each shapelet is the z-normalised source window
        np.testing.assert_allclose(s, znorm(x[row.start:row.start + row.length]), atol=1e-5)
        assert y[row.start:row.start + row.length].any()
    feat = shapelet_transform(x, shp)
    st = np.arange(len(feat)) * 10
    cy = np.r_[0, np.cumsum(y)]
    anom = cy[st + 50] - cy[st] > 0
    assert (np.quantile(feat[anom, ::2], 0.75, 0) > np.quantile(feat[~anom, ::2], 0.75, 0)).all()
    again = mine_shapelets(x, y, k=5, rule=rule, seed=7, max_candidates=800)
    for a, b in zip(shp, again): np.testing.assert_array_equal(a, b)


def test_mining_falls_back_to_dirichlet():
    x, y = anomalous_channel(n=30_000, n_anomalies=1)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        shp, info = mine_shapelets(x, y, k=3, return_info=True)
    assert any("Dirichlet" in str(m.message) for m in w)
    assert (info["source"] == "dirichlet").all() and len(shp) == 3
    with pytest.warns(UserWarning, match="Dirichlet"):
        again = mine_shapelets(x, y, k=3)
    np.testing.assert_array_equal(shp[0], again[0])                  # deterministic for a seed
    d = dirichlet_shapelets(4, (30, 40), seed=5)
    assert all((np.diff(s) >= 0).all() for s in d)


def test_mining_bad_input():
    x, y = anomalous_channel(n=5_000, n_anomalies=3)
    for kw, msg in [(dict(k=0), "k:"), (dict(lengths=(2, 10)), "at least 3"), (dict(lengths=(30, 80)), "do not fit"),
                    (dict(rule="x"), "rule"), (dict(quantile=1.5), "quantile"), (dict(max_nominal=0), "max_nominal")]:
        with pytest.raises(DataError, match=msg): mine_shapelets(x, y, **kw)
    with pytest.raises(DataError, match="aligned"): mine_shapelets(x, y[:-3])
    with pytest.raises(DataError, match="0/1"): mine_shapelets(x, np.where(y, 0.5, 0))
    with pytest.raises(DataError, match="shorter than one segment"): mine_shapelets(x[:20], y[:20])
