"""Integration tests of the Bayesian model selection (`esa_adb_hier.search`) used the way `fit --search-trials` uses it:
seeded trials, a budget in seconds, the manifest record and the errors a user can meet."""
import json
import time

import optuna
import pytest

from esa_adb_hier.core import DataError
from esa_adb_hier.ensemble import HierarchicalConfig, HierarchicalDetector
from esa_adb_hier.search import SearchResult, cv_score, fold_missions, search
from esa_adb_hier.synthetic import make_mission

pytestmark = pytest.mark.filterwarnings("ignore:.*penalty")                # scikit-learn 1.8 on l1 logistic models
COLS = ["layer", "number", "params", "score", "state", "fold_scores"]


@pytest.fixture(scope="module")
def mission():
    return make_mission(days=20, seed=1, channels=["channel_41", "channel_42"])


@pytest.fixture(scope="module")
def searched(mission):
    return search(HierarchicalDetector, mission, "fast", trials=2, layers=["stacker", "aggregator_lr"], seed=5)


def test_trials_are_seeded(mission, searched):
    again = search(HierarchicalDetector, mission, "fast", trials=2, layers=["stacker", "aggregator_lr"], seed=5)
    assert again.trials[COLS].to_dict("records") == searched.trials[COLS].to_dict("records")
    assert again.config == searched.config
    other = search(HierarchicalDetector, mission, "fast", trials=2, layers=["stacker"], seed=6)
    assert other.trials["params"][0] == searched.trials["params"][0]           # the baseline, whatever the seed
    assert other.trials["params"][1] != searched.trials["params"][1]           # the sampled trial depends on the seed


def test_result_starts_from_the_current_settings(searched):
    fast = HierarchicalConfig.preset("fast")
    assert isinstance(searched, SearchResult)
    assert list(searched.trials["layer"]) == ["stacker", "stacker", "aggregator_lr", "aggregator_lr"]
    assert searched.trials["params"][0] == {k: fast.stacker[k] for k in ("C", "penalty", "class_weight")}
    assert searched.trials["score"][0] == searched.baseline_score
    assert searched.best_score >= searched.baseline_score
    assert searched.best_score == max(searched.trials["score"])
    assert searched.config.xgb == fast.xgb and searched.config.search is None


def test_manifest_record_is_strict_json(searched):
    d = searched.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert d["budget"] == {"trials": 2, "seconds": None} and d["seed"] == 5 and d["objective"] == "EW_F_0.50"
    assert list(d["layers"]) == ["stacker", "aggregator_lr"]
    assert d["layers"]["stacker"]["params"] == {k: searched.config.stacker[k] for k in ("C", "penalty", "class_weight")}
    assert d["best_score"] == searched.best_score and d["folds"]["count"] == 3


def test_seconds_budget_is_honoured(mission):
    t0 = time.monotonic()
    res = search(HierarchicalDetector, mission, "fast", seconds=6)
    wall = time.monotonic() - t0
    assert res.budget == {"trials": None, "seconds": 6.0}
    assert res.trials["state"][0] == "COMPLETE"                                # the baseline always runs to its end
    assert wall < 6 + 30, wall                                                  # at most about one fold's fit over
    assert res.seconds <= wall


def test_hopeless_trial_stops_after_its_first_fold(mission):
    class Hopeless:
        number, user_attrs = 1, {}
        def set_user_attr(self, k, v): self.user_attrs[k] = v
        def report(self, value, step): self.reported = (value, step)
        def should_prune(self): return True
    parts, _ = fold_missions(mission, 3, HierarchicalDetector("fast", progress=False))
    trial = Hopeless()
    with pytest.raises(optuna.TrialPruned):
        cv_score(HierarchicalDetector, HierarchicalConfig.preset("fast"), parts, trial)
    assert trial.reported[1] == 0 and len(trial.user_attrs["fold_scores"]) == 1


@pytest.mark.parametrize("budget, message", [
    ({}, "search: no budget; give trials (per layer) and/or seconds"),
    ({"trials": 0}, "search: trials must be a whole number of trials per layer, at least 1, got 0"),
    ({"trials": -3}, "search: trials must be"),
    ({"trials": 1.5}, "search: trials must be"),
    ({"seconds": -1}, "search: seconds must be a positive number of seconds for the whole search, got -1"),
    ({"seconds": 0}, "search: seconds must be"),
    ({"trials": 2, "seconds": float("inf")}, "search: seconds must be"),
])
def test_bad_budget(mission, budget, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        search(HierarchicalDetector, mission, "fast", **budget)


def test_short_range_says_how_long_it_must_be(mission):
    with pytest.raises(DataError, match=r"too short for 3 time-series folds.*must hold at least \d+ samples \("):
        search(HierarchicalDetector, mission.iloc(0, 3000), "fast", trials=2)


def test_one_trial_is_the_baseline(mission):
    res = search(HierarchicalDetector, mission, "fast", trials=1, layers=["aggregator_lr"])
    assert list(res.trials["state"]) == ["COMPLETE"] and res.trials["params"][0] == {"C": 1.0, "class_weight": None}
    assert res.best_score == res.baseline_score and res.config == HierarchicalConfig.preset("fast")
