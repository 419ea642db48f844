"""The ESA-ADB metrics against every public reference case, the error policy, bad input and the report formats."""
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from esa_adb_hier.core import DataError
from esa_adb_hier.evaluation import (adtqc, challenge_fscore, channel_aware_fscore, esa_scores, evaluate,
                                     read_window_report, window_report, write_window_report)
from esa_adb_hier.testing import golden_mismatches, run_golden_case
from esa_adb_hier.events import challenge_fscore as events_challenge_fscore

GOLDEN = Path(__file__).parent / "golden"
FILES = ["esa_scores_public.json", "channel_aware_public.json", "adtqc_public.json", "challenge_public.json"]
CASES = [(f, c) for f in FILES for c in json.loads((GOLDEN / f).read_text())["cases"]]
OK_CASES = [pytest.param(c, id=f"{f.split('_public')[0]}:{c['name']}") for f, c in CASES
            if "error" not in c["expected"]]
ERR_CASES = [pytest.param(c, id=f"{f.split('_public')[0]}:{c['name']}") for f, c in CASES if "error" in c["expected"]]


def test_golden_files_complete():
    counts = {f: json.loads((GOLDEN / f).read_text())["n_cases"] for f in FILES}
    assert counts == {"esa_scores_public.json": 106, "channel_aware_public.json": 100, "adtqc_public.json": 198,
                      "challenge_public.json": 58}
    assert len(CASES) == 462 and len(OK_CASES) + len(ERR_CASES) == 462


@pytest.mark.parametrize("case", OK_CASES)
def test_golden_case(case):
    assert golden_mismatches(case, tol=1e-9) == []


@pytest.mark.parametrize("case", ERR_CASES)
def test_golden_error_policy(case):
    err = case["expected"]["error"]
    if err == "AssertionError":        # invalid input: an explicit full_range that does not contain everything
        with pytest.raises(DataError, match="does not contain all"):
            run_golden_case(case)
    else:                              # a defect of the reference (empty max): defined values instead
        assert err == "ValueError"
        got = run_golden_case(case)
        assert (got["EW_precision"], got["EW_recall"], got["EW_F_0.50"], got["alarming_precision"]) == (0.0, 0.0, 0.0,
            0.0)
        y = case["y_pred"]
        if not case["labels"]:
            assert math.isnan(got["AFF_precision"]) and math.isnan(got["AFF_F_0.50"])
        else:                          # all-zero prediction: every zone has precision 0.5 and recall 0
            assert not any(v for _, v in y)
            assert (got["AFF_precision"], got["AFF_recall"], got["AFF_F_0.50"]) == (0.5, 0.0, 0.0)


def _pairs_case(case):
    "The case with its y_pred given as raw (timestamp, value) pairs (change points, no grid rebuild)."
    c = dict(case)
    c.pop("y_pred_encoding", None)
    return c


CP = [pytest.param(c, id=f"{f.split('_public')[0]}:{c['name']}") for f, c in CASES
      if c.get("y_pred_encoding") == "change_points" and "error" not in c["expected"]][::6]


@pytest.mark.parametrize("case", CP)
def test_change_points_give_the_same_scores(case):
    "Scores work on intervals, so the change-point encoding (without rebuilding the grid) gives the same result."
    assert golden_mismatches(_pairs_case(case), tol=1e-9) == []


def test_challenge_reexported():
    assert challenge_fscore is events_challenge_fscore


# ---------------------------------------------------------------- bad input
T = pd.date_range("2021-03-01", periods=13, freq="5min", unit="ns")
LABELS = pd.DataFrame({"ID": ["id_1", "id_1", "id_2"], "Channel": ["ch1", "ch2", "ch1"],
                       "StartTime": [str(T[2]), str(T[3]), str(T[7])], "EndTime": [str(T[4]), str(T[5]), str(T[8])],
                       "Category": ["Anomaly", "Anomaly", "Rare Event"]})
Y = pd.Series(np.r_[0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0].astype(np.uint8), index=T)
YC = pd.DataFrame({"ch1": Y.to_numpy(), "ch2": 0}, index=T)


@pytest.mark.parametrize("fn", [lambda lab: esa_scores(lab, Y), lambda lab: channel_aware_fscore(lab, YC),
                                lambda lab: adtqc(lab, YC)])
def test_labels_missing_columns(fn):
    with pytest.raises(DataError, match=r"missing column\(s\) \['EndTime'\]"):
        fn(LABELS.drop(columns="EndTime"))


def test_channel_column_required_per_channel():
    with pytest.raises(DataError, match="Channel"):
        channel_aware_fscore(LABELS.drop(columns="Channel"), YC)
    esa_scores(LABELS.drop(columns="Channel"), Y)     # event-wise scores do not need channels


def test_unparsable_timestamps():
    with pytest.raises(DataError, match="'StartTime'.*could not be parsed|StartTime"):
        esa_scores(LABELS.assign(StartTime=["2021-03-01", "soon", "2021-03-01"]), Y)
    with pytest.raises(DataError, match="timestamps"):
        esa_scores(LABELS, [("2021-03-01T00:00:00Z", 0), ("not a date", 1)])


@pytest.mark.parametrize("bad", [Y * 2, Y.astype(float) * 0.5, Y - 1])
def test_prediction_not_binary(bad):
    with pytest.raises(DataError, match="expected only 0/1"):
        esa_scores(LABELS, bad)


def test_unsorted_and_duplicated_timestamps():
    with pytest.raises(DataError, match="not sorted"):
        esa_scores(LABELS, Y.iloc[::-1])
    with pytest.raises(DataError, match="duplicated timestamp"):
        esa_scores(LABELS, pd.concat([Y.iloc[:3], Y.iloc[2:]]))
    with pytest.raises(DataError, match="not sorted"):
        channel_aware_fscore(LABELS, YC.iloc[::-1])


def test_empty_prediction():
    for fn in (lambda: esa_scores(LABELS, Y.iloc[:0]), lambda: channel_aware_fscore(LABELS, YC.iloc[:0]),
               lambda: adtqc(LABELS, {}), lambda: challenge_fscore([], []), lambda: esa_scores(LABELS, [])):
        with pytest.raises(DataError, match="empty prediction"):
            fn()


@pytest.mark.parametrize("beta", [0, -0.5, float("nan"), "x"])
def test_bad_beta(beta):
    with pytest.raises(DataError, match="beta must be a positive number"):
        esa_scores(LABELS, Y, beta=beta)
    with pytest.raises(DataError, match="beta must be a positive number"):
        channel_aware_fscore(LABELS, YC, beta=beta)
    with pytest.raises(DataError, match="beta must be a positive number"):
        challenge_fscore([0, 1], [0, 1], beta=beta)


def test_unknown_categories():
    with pytest.raises(DataError, match=r"unknown categories \['Anomalies'\]"):
        esa_scores(LABELS, Y, select_labels={"Category": ["Anomalies"]})
    with pytest.raises(DataError, match="unknown categories"):
        adtqc(LABELS, YC, select_labels={"Category": ["Rare Event", "Glitch"]})
    with pytest.raises(DataError, match="unknown Category"):
        esa_scores(LABELS.assign(Category="Glitch"), Y)
    with pytest.raises(DataError, match="no column 'Severity'"):
        esa_scores(LABELS, Y, select_labels={"Severity": ["high"]})


def test_full_range_must_contain_everything():
    with pytest.raises(DataError, match="does not contain all labels"):
        esa_scores(LABELS, Y, full_range=(T[3], T[12]))
    with pytest.raises(DataError, match="does not contain all predictions"):
        esa_scores(LABELS, Y, full_range=(T[1], T[12]))


def test_missing_prediction_channel_for_adtqc():
    with pytest.raises(DataError, match=r"no prediction for channel\(s\) \['ch2'\]"):
        adtqc(LABELS, YC[["ch1"]].assign(ch9=0))


def test_select_labels_none_means_every_label_default_means_anomalies_and_rare_events():
    lab = pd.concat([LABELS, pd.DataFrame({"ID": ["id_3"], "Channel": ["ch1"], "StartTime": [str(T[10])],
                                           "EndTime": [str(T[10])],
                                           "Category": ["Communication Gap"]})])
    y = Y.copy(); y.iloc[10] = 1
    assert esa_scores(lab, y)["EW_recall"] == 1.0                      # the gap is not scored: 2 of 2 events found
    assert esa_scores(lab, y, select_labels=None)["EW_recall"] == 1.0   # all 3 found
    assert esa_scores(lab, Y, select_labels=None)["EW_recall"] == 2 / 3


# ---------------------------------------------------------------- defects -> defined values
def test_defined_values_where_the_reference_fails():
    r = esa_scores(LABELS, Y * 0)
    assert (r["EW_precision"], r["EW_recall"], r["EW_F_0.50"], r["AFF_F_0.50"]) == (0.0, 0.0, 0.0, 0.0)
    r = esa_scores(LABELS.iloc[:0], Y)
    assert (r["EW_precision"], r["EW_recall"], r["EW_F_0.50"]) == (0.0, 0.0, 0.0) and math.isnan(r["AFF_precision"])
    whole = LABELS.iloc[:1].assign(StartTime=str(T[0]), EndTime=str(T[12]))
    assert esa_scores(whole, Y)["EW_precision"] == 1.0                  # no nominal time: TNR = 1


# ---------------------------------------------------------------- evaluate
def test_evaluate_predictions_frame():
    lab = LABELS.assign(Channel=LABELS["Channel"].map({"ch1": "channel_12", "ch2": "channel_13"}))
    pred = pd.DataFrame({"is_anomaly": Y.to_numpy(), "score": np.float32(0.3), "channel_12": Y.to_numpy(),
                         "channel_13": 0,
                         "score_channel_12": np.float32(0.1), "score_channel_13": np.float32(0.1)}, index=T)
    table = evaluate(lab, pred, subsystems={"channel_12": "subsystem_1", "channel_13": "subsystem_2"})
    assert table.columns.tolist() == ["metric", "value"]
    m = table.set_index("metric")["value"]
    assert m["EW_F_0.50"] == esa_scores(lab, pred["is_anomaly"])["EW_F_0.50"]
    assert m["channel_recall"] == channel_aware_fscore(lab, pred[["channel_12", "channel_13"]])["channel_recall"]
    assert {"subsystem_F0.50", "ADTQC_Total", "ADTQC_channels_Total", "challenge_EW_F_0.50",
            "AFF_F_0.50"} <= set(m.index)
    # the same frame as the CLI writes it: timestamp as a column
    t2 = evaluate(lab, pred.reset_index(names="timestamp"), subsystems={"channel_12": "subsystem_1",
                                                                        "channel_13": "subsystem_2"})
    pd.testing.assert_frame_equal(table, t2)
    # truth for the challenge score: the selected labels of the predicted channels on the grid
    truth = np.zeros(13, np.uint8); truth[2:6] = 1; truth[7:9] = 1
    assert m["challenge_EW_F_0.50"] == challenge_fscore(truth, Y.to_numpy())["EW_F_0.50"]


def test_evaluate_needs_a_prediction_column():
    with pytest.raises(DataError, match="no 'is_anomaly'"):
        evaluate(LABELS, pd.DataFrame({"score": 0.1}, index=T))


# ---------------------------------------------------------------- window report
def test_window_report_seed_format(tmp_path):
    y = np.zeros(3000, np.uint8); y[[1099, 1123]] = 1
    rep = window_report(y)
    assert rep.columns.tolist() == ["range", "status", "indices"]
    p = write_window_report(rep, tmp_path / "report.csv")
    assert p.read_text() == "range,status,indices\n0-999,OK,\n1000-1999,ANOMALY,1099,1123\n2000-2999,OK,\n"
    pd.testing.assert_frame_equal(read_window_report(p), rep)
    assert [f.name for f in tmp_path.iterdir()] == ["report.csv"]       # no temporary file left behind


def test_window_report_long_runs_and_partial_window():
    y = np.zeros(2500, np.uint8); y[900:1100] = 1
    rep = window_report(pd.Series(y), window=1000)
    assert rep["range"].tolist() == ["0-999", "1000-1999", "2000-2499"]
    assert rep.loc[0, "indices"].split(",") == [str(i) for i in range(900, 1000)]
    assert window_report(y, indices="starts")["indices"].tolist() == ["900", "1000", ""]
    with pytest.raises(DataError, match="positive integer"):
        window_report(y, window=-3)
    with pytest.raises(DataError, match="'all' or 'starts'"):
        window_report(y, indices="some")


# predictions touching either end of the range (affiliation at the range end, see 08_evaluation)
_T100 = pd.date_range("2021-03-01", periods=100, freq="30s", unit="ns")


def _ends(pred_at, rows, full_range=None):
    y = pd.Series(0, index=_T100)
    y.iloc[list(pred_at)] = 1
    lab = pd.DataFrame({"ID": [f"id_{k}" for k in range(len(rows))], "Channel": "ch1", "Category": "Anomaly",
                        "StartTime": [_T100[a] for a, _ in rows], "EndTime": [_T100[b] for _, b in rows]})
    return esa_scores(lab, y, full_range)


def test_affiliation_last_sample_only_next_to_event():
    r = _ends([99], [(80, 99)])
    assert abs(r["AFF_precision"] - (80 * 30e9 - 0.5) / (99 * 30e9)) < 1e-12
    assert r["AFF_recall"] == 0.0 and r["AFF_F_0.50"] == 0.0
    assert (r["EW_precision"], r["EW_recall"]) == (1.0, 1.0)


def test_affiliation_last_sample_on_point_label():
    r = _ends([99], [(99, 99)])
    assert (r["AFF_precision"], r["AFF_recall"], r["AFF_F_0.50"]) == (1.0, 1.0, 1.0)


def test_affiliation_first_sample_only():
    r = _ends([0], [(0, 10)])
    assert r["AFF_precision"] == 1.0
    assert 0.5 < r["AFF_recall"] < 1.0
    r = _ends([0], [(0, 0)])                       # point label on the first sample: the run [t0, t1) covers it
    assert r["EW_recall"] == 1.0 and 0 < r["AFF_precision"] < 1.0 and r["AFF_recall"] == 1.0


def test_affiliation_both_ends():
    r = _ends([0, 99], [(0, 5), (90, 99)])
    assert r["EW_recall"] == 1.0
    assert 0.5 < r["AFF_precision"] < 1.0 and 0 < r["AFF_recall"] < 0.5


def test_affiliation_longer_full_range_drops_nothing():
    # a given range longer than every event: the last zone ends past the prediction, compared exactly
    r = _ends([98], [(90, 98)], full_range=(_T100[0], _T100[99]))
    assert 0.5 < r["AFF_precision"] < 1.0 and r["AFF_recall"] > 0
