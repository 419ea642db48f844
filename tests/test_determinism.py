"""Same data, config and seed give bit-identical predictions: across runs, across `n_jobs`, through a checkpoint, after a
save and load."""
import numpy as np
import pandas as pd
import pytest

from esa_adb_hier.ensemble import HierarchicalConfig, HierarchicalDetector
from esa_adb_hier.synthetic import make_mission


@pytest.fixture(scope="module")
def parts():
    m = make_mission(days=24, seed=5, channels=[f"channel_{i}" for i in range(41, 47)])
    cut = int(len(m) * 0.6)
    return m.iloc(0, cut), m.iloc(cut, len(m))


def _fit_predict(train, test, checkpoint=None, **changes):
    cfg = HierarchicalConfig.preset("fast").replace(**changes)
    det = HierarchicalDetector(cfg, progress=False).fit(train, checkpoint=checkpoint)
    return det, det.predict(test)


@pytest.fixture(scope="module")
def reference(parts):
    return _fit_predict(*parts, n_jobs=1)


def test_same_seed_same_predictions(parts, reference):
    _, again = _fit_predict(*parts, n_jobs=1)
    pd.testing.assert_frame_equal(again, reference[1], check_exact=True)


def test_n_jobs_do_not_change_predictions(parts, reference):
    _, two = _fit_predict(*parts, n_jobs=2)
    pd.testing.assert_frame_equal(two, reference[1], check_exact=True)


def test_another_seed_changes_the_models(parts, reference):
    det, _ = _fit_predict(*parts, n_jobs=1, seed=1)
    p_ref = reference[0].predict_proba(parts[1])
    p_new = det.predict_proba(parts[1])
    assert not np.array_equal(p_ref.to_numpy(), p_new.to_numpy()), "the seed has no effect"


def test_saved_model_predicts_the_same(tmp_path, parts, reference):
    det, pred = reference
    det.save(tmp_path / "model")
    back = HierarchicalDetector.load(tmp_path / "model", progress=False, n_jobs=2)
    pd.testing.assert_frame_equal(back.predict(parts[1]), pred, check_exact=True)


def test_n_jobs_2_with_a_checkpoint_and_its_resume_give_the_same_predictions(tmp_path, parts, reference):
    "Jobs finishing out of order (stored as each finishes) and results read back from the checkpoint change nothing."
    ckpt = tmp_path / "ckpt"
    det, two = _fit_predict(*parts, n_jobs=2, checkpoint=ckpt)
    pd.testing.assert_frame_equal(two, reference[1], check_exact=True)
    back = HierarchicalDetector(HierarchicalConfig.preset("fast").replace(n_jobs=1), progress=False)
    back.fit(parts[0], checkpoint=ckpt)
    assert back.resumed_ == det.channels_ and det.resumed_ == []
    pd.testing.assert_frame_equal(back.predict(parts[1]), reference[1], check_exact=True)
