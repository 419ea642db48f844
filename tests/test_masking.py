"""Randomised and integration tests of esa_adb_hier.masking: every buildable plan is leak-free."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from esa_adb_hier.core import DataError
from esa_adb_hier.masking import (Blocks, MaskConfig, MaskPlan, cca_split, check_plan, overlap_gap,
                                  time_series_splits, two_level_masks)

FRACTIONS = st.sampled_from([None, 0.05, 0.1, 0.2, 0.25, 1 / 3, 0.5, 0.7])


def _brute_force_check(plan, cca_mask):
    "Same rules as check_plan, on boolean masks (independent of the range arithmetic)."
    everything = np.zeros(plan.n, dtype=bool)
    for i in range(plan.n_outer):
        cs = plan.outer(i)
        assert len(cs) == plan.n_inner
        stack = cs[0].stack.mask(plan.n)
        for c in cs:
            mine, base = c.mine.mask(plan.n), c.base.mask(plan.n)
            np.testing.assert_array_equal(c.stack.mask(plan.n), stack)
            assert not (stack & (mine | base)).any()
            assert not (mine & base).any()
            assert mine.any() and base.any() and stack.any()
            assert (stack | mine | base).all()          # the three sets partition the training part
            everything |= stack | mine | base
    assert not (cca_mask[: plan.n] & everything).any()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(n=st.integers(1, 3000), N=st.integers(1, 8), M=st.integers(1, 5), fo=FRACTIONS, fi=FRACTIONS,
       fm=st.sampled_from([None, 0.02, 0.05, 0.1]), fc=st.sampled_from([0.0, 0.1, 0.2]))
def test_random_plans_are_leak_free(n, N, M, fo, fi, fm, fc):
    try:
        train, cca = cca_split(n, fc)
        plan = two_level_masks(train.stop, N, M, fo, fi, fm)
    except DataError:
        # only small series or impossible settings may be refused
        assert n < 200 or N == 1 and fo is None or M == 1 and fi is None or fm is not None
        return
    check_plan(plan, cca)
    cca_mask = np.zeros(n, dtype=bool); cca_mask[cca] = True
    _brute_force_check(plan, cca_mask)
    # the ranges stay ranges: an outer block is one range, an inner block at most two
    for c in plan:
        assert c.stack.n_ranges == 1 and c.mine.n_ranges <= 2


@settings(max_examples=100, deadline=None, derandomize=True)
@given(n=st.integers(1, 500), N=st.integers(2, 7))
def test_equal_segments_tile(n, N):
    try: plan = two_level_masks(n, N, 2)
    except DataError:
        assert n < 2 * N + 2
        return
    lengths = [plan.stack(i).length for i in range(N)]
    assert sum(lengths) == n and max(lengths) - min(lengths) <= 1


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_tiny_series_refused_clearly(n):
    with pytest.raises(DataError, match="two_level_masks"):
        two_level_masks(n, 5, 3)


def test_smallest_series_that_fits():
    plan = check_plan(two_level_masks(5, 5, 3))
    assert [c.stack.length for c in plan.outer(0)] == [1, 1, 1]
    assert sorted((c.mine.length, c.base.length) for c in plan.outer(0)) == [(1, 3), (1, 3), (2, 2)]


def test_single_outer_configuration():
    plan = two_level_masks(1000, 1, 3, outer_fraction=0.2, inner_fraction=0.25)
    assert plan.stack(0) == Blocks([(800, 1000)])
    check_plan(plan, cca=slice(1000, 1250))
    with pytest.raises(DataError, match="whole series"):
        two_level_masks(1000, 1, 3)


def test_authors_setting_on_mission_length():
    n = 14_700_000
    train, cca = cca_split(n, 0.2)
    plan = check_plan(two_level_masks(train.stop, 5, 3, 0.2, 0.2, 0.1), cca)
    assert len(plan) == 15
    c = plan.outer(2)[1]
    assert c.stack.length == train.stop // 5
    assert c.mine.length == round(0.1 * (train.stop - c.stack.length))
    # the plan survives a JSON round trip (model directories store it)
    again = MaskPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again.configs == plan.configs


@pytest.mark.parametrize("field, value, msg", [
    ("base", Blocks([(0, 5), (20, 40)]), "stacker data x_n shares"),
    ("mine", Blocks([(40, 50)]), "mining data shares"),
    ("base", Blocks([(20, 120)]), "leaves"),
])
def test_check_plan_catches_leaks(field, value, msg):
    good = dict(n=0, m=0, stack=Blocks([(0, 20)]), mine=Blocks([(20, 30)]), base=Blocks([(30, 100)]))
    check_plan(MaskPlan(100, 1, 1, [MaskConfig(**good)]))
    with pytest.raises(DataError, match=msg):
        check_plan(MaskPlan(100, 1, 1, [MaskConfig(**{**good, field: value})]))


def test_check_plan_inconsistent_stack():
    a = MaskConfig(0, 0, Blocks([(0, 20)]), Blocks([(20, 30)]), Blocks([(30, 100)]))
    b = MaskConfig(0, 1, Blocks([(0, 25)]), Blocks([(30, 40)]), Blocks([(40, 100)]))
    with pytest.raises(DataError, match="differs"):
        check_plan(MaskPlan(100, 1, 2, [a, b]))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(n=st.integers(4, 5000), k=st.integers(1, 5), gap=st.integers(0, 50))
def test_time_series_splits(n, k, gap):
    try: splits = time_series_splits(n, k, gap)
    except DataError:
        assert n // (k + 1) < 1 or n - k * (n // (k + 1)) - gap < 1
        return
    assert len(splits) == k
    for i, (tr, va) in enumerate(splits):
        assert tr.start == 0 and tr.stop >= 1 and va.start - tr.stop == gap and va.stop > va.start
        if i: assert tr.stop > splits[i - 1][0].stop          # expanding
    assert splits[-1][1].stop == n


def test_gap_separates_pooled_windows():
    # pooled rows of 200 segments every 20 segments, segments 50/10: rows r and r+11 share no sample
    g = overlap_gap(199 * 10 + 50, 20 * 10)
    for tr, va in time_series_splits(1000, 3, g):
        last_train_end = (tr.stop - 1) * 200 + 199 * 10 + 50
        assert last_train_end <= va.start * 200
