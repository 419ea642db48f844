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


# Results written before benchmarks recorded their run; each leaves this list when its benchmark is rerun.
AWAITING_RERUN: set = set()        # every results file records its run


def _run_of(path) -> dict | None:
    d = json.loads(path.read_text())
    if isinstance(d.get("run"), dict): return d["run"]
    if "commit" in d and "command" in d: return d
    return None


def test_results_without_a_run_record_are_exactly_the_listed_ones():
    "A new results file must record its run; a rerun file must leave AWAITING_RERUN (the list only shrinks)."
    missing = {p.name for p in RESULTS if _run_of(p) is None}
    assert missing == AWAITING_RERUN, f"no run record: {sorted(missing - AWAITING_RERUN)}; rerun and unlisted: {sorted(AWAITING_RERUN - missing)}"


@pytest.mark.parametrize("path", [p for p in RESULTS if p.name not in AWAITING_RERUN], ids=lambda p: p.name)
def test_result_names_its_run(path):
    "A results file records the commit and the command line that wrote it (benchmarks/_common.py writes a 'run' block)."
    run = _run_of(path)
    assert isinstance(run, dict), f"{path.name}: no run record; rerun its benchmark (benchmarks/bench_*.py)"
    for key in ("commit", "command", "config", "package_version"):
        assert key in run, f"{path.name}: the run record has no {key!r}"
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
