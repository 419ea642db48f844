"""Tests of esa_adb_hier.telemanom on the real SMAP directory and on small hand-made ones."""
import warnings

import numpy as np
import pandas as pd
import pytest

from esa_adb_hier.core import DataError
from esa_adb_hier.telemanom import load_telemanom, read_telemanom_labels


def write_dir(root, rows, arrays):
    (root / "train").mkdir(parents=True, exist_ok=True); (root / "test").mkdir(exist_ok=True)
    for c, (tr, te) in arrays.items():
        if tr is not None: np.save(root / "train" / f"{c}.npy", tr)
        if te is not None: np.save(root / "test" / f"{c}.npy", te)
    table = pd.DataFrame(rows, columns=["chan_id", "spacecraft", "anomaly_sequences", "num_values"])
    table.to_csv(root / "labeled_anomalies.csv", index=False)
    return root


def arrays(n_cols=3, n_tr=30, n_te=40, seed=0):
    rng = np.random.default_rng(seed)
    return (np.column_stack([rng.standard_normal(n_tr), rng.integers(0, 2, (n_tr, n_cols - 1))]),
            np.column_stack([rng.standard_normal(n_te), rng.integers(0, 2, (n_te, n_cols - 1))]))


def test_real_smap(shared):
    with pytest.warns(UserWarning, match=r"\['P-2'\] listed more than once"):
        chans = load_telemanom(shared / "data" / "smap", "SMAP")
    assert len(chans) == 54
    raw = pd.read_csv(shared / "data" / "smap" / "labeled_anomalies.csv").drop_duplicates("chan_id")
    for r in raw.itertuples():
        ch = chans[r.chan_id]
        te = np.load(shared / "data" / "smap" / "test" / f"{r.chan_id}.npy")
        assert ch.n_test == len(te) == r.num_values
        assert len(ch.mission.telecommand_names) == te.shape[1] - 1
        y = ch.test.is_anomaly().to_numpy().astype(bool)
        exp = np.zeros(len(te), bool)
        for s, e in eval(r.anomaly_sequences): exp[s: e + 1] = True
        assert np.array_equal(y, exp), r.chan_id
    assert chans["P-2"].mission.labels["ID"].tolist() == ["P-2_0"]


def test_values_and_flags(tmp_path):
    tr, te = arrays()
    chans = load_telemanom(write_dir(tmp_path, [("A-1", "SMAP", "[[0, 0], [38, 39]]", 40)], {"A-1": (tr, te)}))
    m = chans["A-1"].mission
    assert np.array_equal(m.values["channel_1"].to_numpy(), np.r_[tr[:, 0], te[:, 0]].astype(np.float32))
    assert np.array_equal(m.telecommands.to_numpy(), (np.vstack([tr, te])[:, 1:] > 0).astype(np.uint8))
    assert m.is_anomaly().to_numpy().nonzero()[0].tolist() == [30, 68, 69]
    fit, score = chans["A-1"].split(0.5)
    assert (len(fit), len(score)) == (50, 20)


@pytest.mark.parametrize("case, msg", [
    ("no_csv", "labeled_anomalies.csv: file not found"),
    ("no_test", "test/A-1.npy: file not found (channel A-1"),
    ("columns", "channel A-1: train has 3 columns but test has 2"),
    ("rows", "35 rows, but labeled_anomalies.csv gives num_values=40"),
    ("label", "[12, 3] needs 0 <= start <= end"),
    ("past", "anomaly sequence [30, 40] ends past the 40 rows of the test file"),
])
def test_bad_directories(tmp_path, case, msg):
    tr, te = arrays()
    rows = [("A-1", "SMAP", "[[12, 3]]" if case == "label" else "[[30, 40]]" if case == "past" else "[[1, 2]]", 40)]
    test = {"no_test": None, "columns": te[:, :2], "rows": te[:35]}.get(case, te)
    a = {"A-1": (tr, test)}
    d = write_dir(tmp_path, rows, a)
    if case == "no_csv": (d / "labeled_anomalies.csv").unlink()
    with pytest.raises(DataError) as e: load_telemanom(d)
    assert msg in str(e.value)


def test_duplicate_keeps_first(tmp_path):
    tr, te = arrays()
    d = write_dir(tmp_path, [("A-1", "SMAP", "[[1, 2]]", 40), ("A-1", "SMAP", "[[5, 6]]", 40)], {"A-1": (tr, te)})
    with pytest.warns(UserWarning, match="keeping the first row"):
        meta = read_telemanom_labels(d)
    assert meta["sequences"].tolist() == [[(1, 2)]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = load_telemanom(d)["A-1"].mission
    assert m.labels["StartTime"].iloc[0] == m.index[31]
