"""Tests of esa_adb_hier.features against plain per-window references, on randomised inputs."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from esa_adb_hier.core import DataError
from esa_adb_hier.features import (FEATURES, feature_columns, n_segments,
                                   pool_min_max, pooled_sample_ranges, pooled_segment_ranges,
                                   segment_features, segment_ranges, spread_to_samples)
from esa_adb_hier.testing import _assert_features_close, _naive_pool, naive_segment_features


def telemetry(n, seed, offset=0.0, dtype=np.float32, const_frac=0.3, nan_at=()):
    "Random walk + noise on an offset, with a constant stretch and optional NaNs."
    rng = np.random.default_rng(seed)
    x = offset + np.cumsum(rng.standard_normal(n)) * 0.1 + 0.05 * rng.standard_normal(n)
    if n > 10 and const_frac:
        a = int(rng.integers(0, n // 2)); x[a: a + int(const_frac * n)] = x[a]
    x = x.astype(dtype)
    for i in nan_at:
        if i < n: x[i] = np.nan
    return x


@settings(max_examples=20, deadline=None, derandomize=True)
@given(n=st.integers(0, 500), length=st.integers(2, 80), step=st.integers(1, 30), seed=st.integers(0, 10 ** 6),
       offset=st.sampled_from([0.0, -40.0, 1e6]), dtype=st.sampled_from([np.float32, np.float64]),
       lags=st.sampled_from([(1, 2, 3, 4, 5), (), (2, 7)]))
def test_matches_reference(n, length, step, seed, offset, dtype, lags):
    x = telemetry(n, seed, offset, dtype)
    fast = segment_features(x, length, step, lags)
    assert len(fast) == n_segments(n, length, step)
    assert list(fast.columns) == feature_columns(lags) + ["valid"]
    _assert_features_close(fast, naive_segment_features(x, length, step, lags))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_authors_setting_offset_and_constant(dtype, offset):
    x = telemetry(3000, 1, offset, dtype, const_frac=0.4)
    _assert_features_close(segment_features(x), naive_segment_features(x))
    c = segment_features(np.full(500, offset + 0.1, dtype=dtype))
    assert (c[list(FEATURES[3:])].to_numpy() == 0).all()
    assert (c["mean"].to_numpy() == np.float64(dtype(offset + 0.1))).all()


def test_one_ulp_steps_at_large_offset():
    # float32 at 1e6 has a resolution of 1/16: the features must see steps of one unit in the last place
    x = np.full(400, 1e6, dtype=np.float32)
    x[::7] = np.nextafter(np.float32(1e6), np.float32(2e6))
    f = segment_features(x)
    _assert_features_close(f, naive_segment_features(x))
    assert (f["std"] > 0).all()


@settings(max_examples=30, deadline=None, derandomize=True)
@given(n=st.integers(0, 3000), length=st.integers(2, 120), step=st.integers(1, 40), block=st.integers(1, 5000),
       seed=st.integers(0, 100))
def test_blocks_do_not_change_a_bit(n, length, step, block, seed):
    x = telemetry(n, seed, 1e4, np.float32, nan_at=(n // 3,))
    a = segment_features(x, length, step, block_size=block)
    b = segment_features(x, length, step, block_size=10 ** 12)
    assert a.equals(b)


def test_nan_policy():
    x = telemetry(1000, 3, 50.0, np.float64, nan_at=(0, 333))
    x[700] = np.inf
    f = segment_features(x)
    s, e = segment_ranges(len(x), 50, 10)
    bad = ((s <= 0) & (0 < e)) | ((s <= 333) & (333 < e)) | ((s <= 700) & (700 < e))
    np.testing.assert_array_equal(~f["valid"].to_numpy(), bad)
    assert f.loc[bad, list(FEATURES)].isna().all().all()
    assert not f.loc[~bad, list(FEATURES)].isna().any().any()
    _assert_features_close(f, naive_segment_features(x))
    # a pooled row is valid only when all its segments are
    p = pool_min_max(f, 20, 5)
    ps, pe = pooled_segment_ranges(len(f), 20, 5)
    np.testing.assert_array_equal(p["valid"].to_numpy(), [bool(f["valid"].iloc[a:b].all()) for a, b in zip(ps, pe)])


@settings(max_examples=25, deadline=None, derandomize=True)
@given(n=st.integers(1, 600), window=st.integers(1, 250), stride=st.integers(1, 60), seed=st.integers(0, 100))
def test_pooling_matches_reference(n, window, stride, seed):
    stride = min(stride, window)
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.standard_normal(n), "b": rng.integers(-5, 5, n).astype(np.float64)})
    df.loc[rng.random(n) < 0.1, "a"] = np.nan
    df["valid"] = rng.random(n) > 0.05
    got = pool_min_max(df, window, stride)
    assert got.reset_index(drop=True).equals(_naive_pool(df, window, stride))
    s, e = pooled_segment_ranges(n, window, stride)
    if n:
        covered = np.zeros(n, int)
        for a, b in zip(s, e): covered[a:b] += 1
        assert (covered > 0).all() and e[-1] == n and (e - s <= window).all()
        assert (np.diff(s) > 0).all()


def test_pooling_empty_and_short():
    df = pd.DataFrame({"a": np.arange(5.0), "valid": np.ones(5, bool)})
    assert len(pool_min_max(df.iloc[:0])) == 0
    one = pool_min_max(df, 200, 20)                       # fewer segments than a window: one row over all
    assert len(one) == 1 and one["min_a"].iloc[0] == 0 and one["max_a"].iloc[0] == 4 and one["valid"].iloc[0]


def test_pooled_sample_ranges_cover_every_sample():
    for n, (L, S, W, P) in [(14_700, (50, 10, 200, 20)), (20_345, (1000, 200, 10, 1)), (9_999, (2000, 400, 5, 1)), (60,
        (50, 10, 200, 20))]:
        s, e = pooled_sample_ranges(n, L, S, W, P)
        last = (n_segments(n, L, S) - 1) * S + L
        assert s[0] == 0 and e.max() == last and (s[1:] <= e[:-1]).all()


@settings(max_examples=40, deadline=None, derandomize=True)
@given(n=st.integers(1, 3000), rows=st.integers(0, 200), maxlen=st.integers(1, 2100), seed=st.integers(0, 100),
       how=st.sampled_from(["mean", "max"]))
def test_spread_matches_loop(n, rows, maxlen, seed, how):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, n, rows); e = np.minimum(s + rng.integers(0, maxlen + 1, rows), n)
    v = rng.random(rows); v[rng.random(rows) < 0.1] = np.nan
    acc, cnt, mx = np.zeros(n), np.zeros(n), np.full(n, -np.inf)
    for a, b, val in zip(s, e, v):
        if np.isnan(val): continue
        acc[a:b] += val; cnt[a:b] += 1; mx[a:b] = np.maximum(mx[a:b], val)
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = np.where(cnt > 0, acc / cnt if how == "mean" else mx, np.nan)
    got = spread_to_samples(v, s, e, n, how)
    if how == "max": np.testing.assert_array_equal(got, ref)
    else: np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_pipeline_round_trip():
    x = telemetry(30_000, 5, 1e5, np.float32)
    f = segment_features(x)
    p = pool_min_max(f)
    s, e = pooled_sample_ranges(len(x))
    assert len(p) == len(s)
    score = p["max_std"].to_numpy()
    per = spread_to_samples(score, s, e, len(x), how="max")
    covered = (n_segments(len(x), 50, 10) - 1) * 10 + 50
    assert not np.isnan(per[:covered]).any() and np.isnan(per[covered:]).all()
    # a sample's max score is at least the score of every row covering it
    i = 12_345
    assert per[i] == score[(s <= i) & (i < e)].max()


@pytest.mark.parametrize("call, msg", [
    (lambda: segment_features(np.zeros((10, 2))), "one-dimensional"),
    (lambda: segment_features(np.array(["a"] * 100)), "real numbers"),
    (lambda: segment_features(np.zeros(100), length=1), "length"),
    (lambda: segment_features(np.zeros(100), step=0), "step"),
    (lambda: segment_features(np.zeros(100), lags=(1, 1)), "lags"),
    (lambda: segment_features(np.zeros(100), stft_frame=60), "stft frame"),
    (lambda: pool_min_max(np.zeros((3, 3))), "DataFrame"),
    (lambda: pool_min_max(pd.DataFrame({"a": ["x"]})), "not numeric"),
    (lambda: pooled_segment_ranges(10, 0, 1), "window"),
    (lambda: pooled_segment_ranges(10, 2, 3), "skip segments"),
    (lambda: spread_to_samples([1.0, 2.0], [0], [1], 5), "one entry per row"),
    (lambda: spread_to_samples([1.0], [-1], [1], 5), "0 <= start"),
])
def test_bad_input_raises_data_error(call, msg):
    with pytest.raises(DataError, match=msg):
        call()
