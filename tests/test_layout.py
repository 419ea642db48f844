"""Where things live: the metrics module holds metrics only (plots and baselines have modules of their own, the test
references live in `esa_adb_hier.testing`), and every benchmark result says which run produced it."""
import json
from pathlib import Path

import pytest

import esa_adb_hier.evaluation as evaluation

REPO = Path(__file__).resolve().parents[1]
RESULTS = sorted((REPO / "benchmarks" / "results").glob("*.json"))
MOVED = {"plot_events", "plot_channel_scores", "plot_event_matching", "_minmax_buckets", "global_std_flags",
         "global_std_predictions", "run_golden_case", "golden_mismatches", "_golden_series"}


def test_evaluation_has_no_plots_or_baselines():
    names = set(vars(evaluation))
    assert not {n for n in names if n.startswith("plot_") or n.startswith("global_std")}, sorted(names)
    assert not names & MOVED, sorted(names & MOVED)
    assert "matplotlib" not in evaluation.__dict__ and "plt" not in evaluation.__dict__
    public = evaluation.__all__
    assert not any(n.startswith(("plot", "global_std", "golden", "run_golden")) for n in public), public


def test_moved_names_live_in_their_modules():
    from esa_adb_hier import baselines, plots, testing
    assert {"global_std_flags", "global_std_predictions"} <= set(baselines.__all__)
    assert {"plot_events", "plot_channel_scores", "plot_event_matching"} <= set(plots.__all__)
    for n in ("run_golden_case", "golden_mismatches", "naive_segment_features", "_naive_pool", "_assert_features_close",
              "_reference_transform"):
        assert hasattr(testing, n), n


def test_product_modules_do_not_import_testing():
    lib = REPO / "esa_adb_hier"
    users = [p.name for p in lib.glob("*.py") if p.name not in ("testing.py", "_modidx.py")
             and ("from .testing" in p.read_text() or "esa_adb_hier.testing" in p.read_text())]
    assert not users, users


def test_results_exist():
    assert RESULTS, "benchmarks/results/ holds no results file"


@pytest.mark.parametrize("path", RESULTS, ids=[p.name for p in RESULTS])
def test_result_names_its_run(path):
    "Every results file records the commit and the command line that wrote it (written by benchmarks/_common.py)."
    run = json.loads(path.read_text()).get("run")
    assert isinstance(run, dict), f"{path.name}: no 'run' block; rerun its benchmark (benchmarks/bench_*.py)"
    for key in ("commit", "command", "config", "package_version"):
        assert key in run, f"{path.name}: 'run' has no {key!r}"
    assert isinstance(run["commit"], str) and len(run["commit"]) == 40, f"{path.name}: commit {run['commit']!r}"
    assert "bench_" in run["command"], f"{path.name}: command {run['command']!r}"


def test_write_result_records_the_run(tmp_path, monkeypatch):
    import sys
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from _common import write_result
    monkeypatch.setattr(sys, "argv", ["benchmarks/bench_x.py", "--days", "3"])
    p = write_result(tmp_path / "r" / "x.json", {"figure": 0.5, "run": "replaced"}, config={"days": 3})
    out = json.loads(p.read_text())
    assert out["figure"] == 0.5 and out["run"]["config"] == {"days": 3}
    assert out["run"]["command"].endswith("benchmarks/bench_x.py --days 3")
    assert len(out["run"]["commit"]) == 40 and out["run"]["package_version"]
    assert [f.name for f in p.parent.iterdir()] == ["x.json"]          # no temporary file left
    with pytest.raises(TypeError, match="payload must be a dict"): write_result(tmp_path / "y.json", [1])
