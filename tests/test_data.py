"""Integration tests of esa_adb_hier.data: raw directories written with pandas, read back and checked against an
independent pandas-based zero-order hold; preprocessed CSV and challenge parquet round trips; every refused input."""
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from esa_adb_hier.core import DataError, Mission, mission1_channels
from esa_adb_hier.data import (Standardiser, detect_counters, difference_counters, label_codes, load_challenge,
                               load_mission, load_preprocessed_csv, load_raw_mission, training_mask, write_challenge,
                               write_preprocessed_csv, write_submission, zoh_resample)

T0 = pd.Timestamp("2003-05-01 00:00:00")
P3 = ["telecommand_36", "telecommand_38", "telecommand_376"]


def reference_benchmark(times, values, codes, index):
    """The benchmark's hold by pandas, bin by bin: the plain hold, then for each 30 s bin holding more than one sample, whose last
    sample is nominal (code 0) and which holds an anomaly / rare event (code 1 or 2), the bin's last such sample on the next point."""
    out = reference_zoh(times, values, index)
    df = pd.DataFrame({"v": np.asarray(values, float), "c": np.asarray(codes)}, index=pd.DatetimeIndex(times))
    pos = {t: i for i, t in enumerate(index)}
    for start, g in df.groupby(df.index.floor("30s")):
        ann = g[g["c"].isin([1, 2])]
        if len(g) > 1 and g["c"].iloc[-1] == 0 and len(ann) and start + pd.Timedelta("30s") in pos:
            out[pos[start + pd.Timedelta("30s")]] = np.float32(ann["v"].iloc[-1])
    return out


def sample_codes(times, labels, channel, categories):
    "Label code of each raw sample of `channel` (0 nominal, 1 anomaly, 2 rare event, 3 gap; the lowest wins), by a loop."
    code = {"Anomaly": 1, "Rare Event": 2, "Communication Gap": 3}
    out = np.zeros(len(times), np.int64)
    t = pd.DatetimeIndex(times)
    for _, r in labels[labels["Channel"] == channel].iterrows():
        k = code[categories.get(r.ID, "Anomaly")]
        inside = (t >= pd.Timestamp(r.StartTime).tz_localize(None)) & (t <= pd.Timestamp(r.EndTime).tz_localize(None))
        out[inside] = np.where(out[inside] == 0, k, np.minimum(out[inside], k))
    return out


def reference_zoh(times, values, index):
    "ZOH by pandas: value of the last sample at or before each index point, the first value before the first sample."
    s = pd.Series(np.asarray(values, float), index=pd.DatetimeIndex(times))
    out = s.reindex(s.index.union(index)).ffill().bfill()
    return out.reindex(index).to_numpy(np.float32)


def irregular_times(rng, days, start=T0, gap_every=2000):
    "Sample times 30-90 s apart with a few transmission gaps of 1-6 hours."
    n = int(days * 86400 / 60)
    steps = rng.uniform(30, 90, n)
    gaps = rng.random(n) < 1 / gap_every
    steps[gaps] += rng.uniform(3600, 6 * 3600, gaps.sum())
    t = start + pd.to_timedelta(np.cumsum(steps), unit="s")
    return t[t < start + pd.Timedelta(days=days)]


def write_raw(root: Path, samples: dict, labels: pd.DataFrame, telecommands: dict | None = None,
              priorities: dict | None = None, types: pd.DataFrame | None = None, table: pd.DataFrame | None = None) -> Path:
    "Write an ESA-ADB raw directory with pandas (channel pickles, telecommand pickles, tables)."
    (root / "channels").mkdir(parents=True)
    table = mission1_channels() if table is None else table
    table = table[table["Channel"].isin(list(samples))].copy()
    table["Target"] = np.where(table["Target"], "YES", "NO")
    table.to_csv(root / "channels.csv", index=False)
    for c, (t, v) in samples.items():
        pd.DataFrame({c: np.asarray(v)}, index=pd.DatetimeIndex(t, name="datetime")).to_pickle(root / "channels" / f"{c}.zip", compression="zip")
    if telecommands:
        (root / "telecommands").mkdir()
        pd.DataFrame({"Telecommand": list(telecommands), "Priority": [priorities.get(c, 0) for c in telecommands]}).to_csv(root / "telecommands.csv", index=False)
        for c, t in telecommands.items():
            pd.DataFrame({c: np.ones(len(t))}, index=pd.DatetimeIndex(t, name="datetime")).to_pickle(root / "telecommands" / f"{c}.zip", compression="zip")
    labels.to_csv(root / "labels.csv", index=False)
    if types is not None: types.to_csv(root / "anomaly_types.csv", index=False)
    return root


def iso(t): return pd.DatetimeIndex(t).strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"


@pytest.fixture(scope="module")
def raw76(tmp_path_factory):
    "A 2-day, 76-channel raw mission with gaps, three categories of labels, short labels and telecommands."
    rng = np.random.default_rng(7)
    root = tmp_path_factory.mktemp("raw") / "mission"
    chans = mission1_channels()["Channel"].tolist()
    samples = {}
    for i, c in enumerate(chans):
        t = irregular_times(np.random.default_rng(100 + i), 2, start=T0 + pd.Timedelta(seconds=int(rng.integers(0, 600))))
        v = np.cumsum(rng.random(len(t))) if c in [f"channel_{k}" for k in range(4, 12)] else rng.normal(size=len(t)).cumsum()
        samples[c] = (t, v)
    rows = []
    for k in range(12):                                             # long labels on a few channels each
        s = T0 + pd.Timedelta(hours=2 + 3.5 * k)
        for c in rng.choice(chans[11:], 4, replace=False):
            rows.append((f"id_{k + 1}", c, s, s + pd.Timedelta(minutes=int(rng.integers(1, 120)))))
    short = []
    for k, c in enumerate(["channel_41", "channel_42", "channel_60"]):   # labels that contain no grid point but a raw sample,
        t, v = samples[c]                                               # followed by a nominal sample 3 s later (same bin)
        j = [i for i in range(200 + 300 * k, len(t)) if 4 <= t[i].second % 30 <= 26][0]
        rows.append((f"id_{20 + k}", c, t[j] - pd.Timedelta(seconds=1), t[j] + pd.Timedelta(seconds=2)))
        short.append(t[j])
        samples[c] = (t.insert(j + 1, t[j] + pd.Timedelta(seconds=3)), np.insert(v, j + 1, v[j] + 7.0))
    lab = pd.DataFrame(rows, columns=["ID", "Channel", "StartTime", "EndTime"])
    lab["StartTime"], lab["EndTime"] = iso(lab["StartTime"]), iso(lab["EndTime"])
    types = pd.DataFrame({"ID": [f"id_{k}" for k in list(range(1, 13)) + [20, 21, 22]],
                          "Category": ["Anomaly"] * 8 + ["Rare Event"] * 3 + ["Communication Gap"] + ["Anomaly", "Rare Event", "Anomaly"]})
    tcs = {c: T0 + pd.to_timedelta(np.sort(rng.uniform(0, 2 * 86400, 5)).round(), unit="s") for c in P3 + ["telecommand_1", "telecommand_2"]}
    write_raw(root, samples, lab, tcs, {c: 3 for c in P3}, types)
    return dict(root=root, samples=samples, labels=lab, short=short, tcs=tcs, categories=dict(zip(types["ID"], types["Category"])))


@pytest.fixture(scope="module")
def m76(raw76):
    "The raw mission loaded once (any warning, e.g. a lost label, fails the tests)."
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_raw_mission(raw76["root"], progress=False)


@given(st.lists(st.integers(1, 200), min_size=1, max_size=60), st.sampled_from(["7s", "30s", "18s", "1min"]), st.integers(0, 10**6))
@settings(max_examples=40, deadline=None)
def test_zoh_matches_pandas_reference(steps, period, offset):
    t = pd.Timestamp("2001-01-01") + pd.Timedelta(seconds=offset) + pd.to_timedelta(np.cumsum(steps), unit="s")
    v = np.arange(len(t), dtype=float) * 1.5 - 3
    z = zoh_resample(t, v, period)
    p = pd.Timedelta(period)
    assert z.index[0] == t[0].floor(p) and z.index[-1] == t[-1].ceil(p)
    assert (np.diff(z.index.asi8) == p.value).all()
    np.testing.assert_array_equal(z.to_numpy(), reference_zoh(t, v, z.index))


def test_raw_mission_matches_reference(raw76, m76):
    m = m76
    assert m.channel_names == mission1_channels()["Channel"].tolist()
    assert m.telecommand_names == P3                                 # priority-3 commands by default
    assert m.values.dtypes.eq(np.float32).all() and m.telecommands.dtypes.eq(np.uint8).all()
    assert m.index.is_monotonic_increasing and not m.index.has_duplicates
    assert (np.diff(m.index.asi8) == 30 * 10**9).all()                  # a regular grid: no row added
    first = min(t[0] for t, _ in raw76["samples"].values()); last = max(t[-1] for t, _ in raw76["samples"].values())
    assert m.start == first.floor("30s") and m.end == last.ceil("30s")
    assert len(m) == (m.end - m.start) // pd.Timedelta("30s") + 1
    changed = 0
    for c, (t, v) in raw76["samples"].items():
        expect = reference_benchmark(t, v, sample_codes(t, raw76["labels"], c, raw76["categories"]), m.index)
        np.testing.assert_array_equal(m.values[c].to_numpy(), expect, err_msg=c)
        changed += int((expect != reference_zoh(t, v, m.index)).sum())
    assert changed == 3                                                # the three short labels, nothing else
    for s in raw76["short"]:                                           # the annotated value, not the nominal one 3 s later
        c = raw76["labels"].loc[iso([s - pd.Timedelta(seconds=1)])[0] == raw76["labels"]["StartTime"], "Channel"].iloc[0]
        t, v = raw76["samples"][c]
        assert m.values.loc[s.floor("30s") + pd.Timedelta("30s"), c] == np.float32(v[t.get_loc(s)])
    for c, t in raw76["tcs"].items():
        if c not in P3: continue
        grid_pos = np.searchsorted(m.index, t)                      # first row at or after (no kept row lies near them)
        assert m.telecommands[c].sum() == len(t) and (m.telecommands[c].to_numpy()[grid_pos] == 1).all()
    # the rows of labels.csv are all there, unchanged, plus one point row per written sample
    n = len(raw76["labels"])
    assert len(m.labels) == n + 3
    got = m.labels.iloc[:n]
    assert (got["ID"].tolist(), got["Channel"].tolist()) == (raw76["labels"]["ID"].tolist(), raw76["labels"]["Channel"].tolist())
    assert (got["StartTime"] == pd.to_datetime(raw76["labels"]["StartTime"]).dt.tz_localize(None)).all()
    held = m.labels.iloc[n:]
    assert (held["StartTime"] == held["EndTime"]).all()
    assert sorted(held["StartTime"]) == sorted(s.floor("30s") + pd.Timedelta("30s") for s in raw76["short"])
    assert held["ID"].tolist() == ["id_20", "id_21", "id_22"] and held["Category"].tolist() == ["Anomaly", "Rare Event", "Anomaly"]
    # every event reaches the grid on each of its channels; categories come from anomaly_types.csv
    for (i, c), g in m.labels.groupby(["ID", "Channel"]):
        assert any(((m.index >= r.StartTime) & (m.index <= r.EndTime)).any() for r in g.itertuples()), (i, c)
    assert m.labels.groupby("Category")["ID"].nunique().to_dict() == {"Anomaly": 10, "Communication Gap": 1, "Rare Event": 4}
    assert m.is_anomaly(["Anomaly"]).sum() < m.is_anomaly().sum() < m.is_anomaly(None).sum()
    assert m.anomaly_types is not None and len(m.anomaly_types) == 15
    everything = load_raw_mission(raw76["root"], channels=["channel_1"], progress=False, telecommands="all")
    assert everything.telecommand_names == ["telecommand_1", "telecommand_2"] + P3


def test_raw_mission_window_and_subset(raw76):
    m = load_raw_mission(raw76["root"], channels=["channel_41", "channel_5"], start="2003-05-01 06:00:00",
                         end="2003-05-01 18:00:00", progress=False)
    assert m.channel_names == ["channel_41", "channel_5"]
    assert m.start == pd.Timestamp("2003-05-01 06:00") and m.end == pd.Timestamp("2003-05-01 18:00")
    assert set(m.labels["Channel"]) <= {"channel_41", "channel_5"}
    for c in m.channel_names:
        t, v = raw76["samples"][c]
        np.testing.assert_array_equal(m.values[c].to_numpy(), reference_zoh(t, v, m.index))


def _variant(tmp_path, raw76, name, samples=None, labels=None):
    s = dict(raw76["samples"]) if samples is None else samples
    keep = ["channel_1", "channel_12", "channel_13"]
    return write_raw(tmp_path / name, {c: s[c] for c in keep}, raw76["labels"][raw76["labels"]["Channel"].isin(keep)] if labels is None else labels)


def _swap(t, i, j):
    t = t.to_numpy().copy(); t[[i, j]] = t[[j, i]]; return t


@pytest.mark.parametrize("case, needle", [
    ("unsorted", "channel_12.zip (channel channel_12): timestamps are not sorted"),
    ("duplicate", "duplicated timestamp"),
    ("empty", "channel channel_13): the channel is empty"),
    ("text", "non-numeric value 'bad' at row 3"),
    ("nan", "missing (NaN) value"),
    ("label_channel", "channel_80"),
    ("label_outside", "outside the data range"),
    ("label_column", "missing column(s) ['StartTime']"),
    ("label_time", "StartTime"),
    ("no_channels_csv", "channels.csv: file not found"),
    ("no_zip", "file(s) missing for channel(s) ['channel_13']"),
    ("no_labels", "labels.csv: file not found"),
    ("unknown_channel", "unknown channel(s) ['channel_999']"),
    ("not_a_frame", "expected a DataFrame"),
])
def test_raw_mission_refuses(tmp_path, raw76, case, needle):
    s = {c: raw76["samples"][c] for c in ["channel_1", "channel_12", "channel_13"]}
    lab = raw76["labels"][raw76["labels"]["Channel"].isin(list(s))]
    kw = {}
    if case == "unsorted": s["channel_12"] = (_swap(s["channel_12"][0], 10, 11), s["channel_12"][1])
    if case == "duplicate": t = s["channel_1"][0].to_numpy().copy(); t[7] = t[6]; s["channel_1"] = (t, s["channel_1"][1])
    if case == "empty": s["channel_13"] = (pd.DatetimeIndex([]), np.zeros(0))
    if case == "text": v = s["channel_1"][1].astype(object).copy(); v[3] = "bad"; s["channel_1"] = (s["channel_1"][0], v)
    if case == "nan": v = s["channel_1"][1].copy(); v[5] = np.nan; s["channel_1"] = (s["channel_1"][0], v)
    if case == "label_channel": lab = lab.assign(Channel="channel_80")
    if case == "label_outside": lab = lab.assign(StartTime="2010-01-01T00:00:00.000Z", EndTime="2010-01-02T00:00:00.000Z")
    if case == "label_column": lab = lab.drop(columns="StartTime")
    if case == "label_time": lab = lab.assign(StartTime="not a time")
    if case == "unknown_channel": kw = dict(channels=["channel_1", "channel_999"])
    root = write_raw(tmp_path / "m", s, lab)
    if case == "no_channels_csv": (root / "channels.csv").unlink()
    if case == "no_zip": (root / "channels" / "channel_13.zip").unlink()
    if case == "no_labels": (root / "labels.csv").unlink()
    if case == "not_a_frame": pd.to_pickle([1, 2, 3], root / "channels" / "channel_1.zip", compression="zip")
    with pytest.raises(DataError, match=None) as e:
        load_raw_mission(root, progress=False, **kw)
    assert needle in str(e.value), str(e.value)


def test_raw_mission_repairs_only_when_asked(tmp_path, raw76):
    s = {c: raw76["samples"][c] for c in ["channel_1", "channel_12"]}
    t, v = s["channel_12"]
    order = np.r_[1, 0, 2:len(t)]
    t2, v2 = np.r_[t.to_numpy()[order], t.to_numpy()[-1:]], np.r_[v[order], 99.0]     # swapped pair + repeated last time
    root = write_raw(tmp_path / "m", {"channel_1": s["channel_1"], "channel_12": (t2, v2)}, raw76["labels"].iloc[:0])
    with pytest.raises(DataError, match="not sorted"): load_raw_mission(root, progress=False)
    with pytest.raises(DataError, match="duplicated"): load_raw_mission(root, progress=False, sort=True)
    m = load_raw_mission(root, progress=False, sort=True, dedupe=True)
    expect = reference_zoh(t, np.r_[v[:-1], 99.0], m.index)                   # the last report at a repeated time wins
    np.testing.assert_array_equal(m.values["channel_12"].to_numpy(), expect)


def test_preprocessed_csv_round_trip(tmp_path, m76):
    m = m76.select_channels([f"channel_{k}" for k in (1, 2, 10, 12, 41, 42, 60)])
    p = write_preprocessed_csv(m, tmp_path / "x.csv")
    head = pd.read_csv(p, nrows=0).columns.tolist()
    assert head[:5] == ["timestamp", "channel_1", "channel_10", "channel_12", "channel_2"]      # lexicographic, as the benchmark
    assert head[-1] == "is_anomaly_telecommand_38"
    b = load_preprocessed_csv(p)
    np.testing.assert_array_equal(b.values.to_numpy(), m.values.to_numpy())
    assert b.index.equals(m.index) and b.telecommand_names == m.telecommand_names
    codes = label_codes(m)
    np.testing.assert_array_equal(label_codes(b).to_numpy(), codes.to_numpy())
    for cats in (["Anomaly"], ["Rare Event"], ["Communication Gap"], None):
        np.testing.assert_array_equal(b.label_masks(m.channel_names, cats).to_numpy(), m.label_masks(m.channel_names, cats).to_numpy())
    raw_codes = pd.read_csv(p)[[f"is_anomaly_{c}" for c in m.channel_names]]
    np.testing.assert_array_equal(raw_codes.to_numpy(), codes[[c for c in m.channel_names]].to_numpy())
    assert load_mission(p).summary()["rows"] == len(m)


def test_preprocessed_csv_refuses(tmp_path, m76):
    m = m76.select_channels(["channel_12", "channel_13"])
    m = Mission(m.values, pd.DataFrame(index=m.index), m.labels, m.channels)
    p = write_preprocessed_csv(m, tmp_path / "x.csv")
    d = pd.read_csv(p)
    d.assign(channel_12=d["channel_12"].astype(object).where(d.index != 4, "oops")).to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(DataError, match=r"column 'channel_12': non-numeric value 'oops' at row 4"): load_preprocessed_csv(tmp_path / "a.csv")
    d.assign(is_anomaly_channel_13=5).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(DataError, match="is_anomaly_channel_13"): load_preprocessed_csv(tmp_path / "b.csv")
    d.assign(is_anomaly_channel_99=0).to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(DataError, match="is_anomaly_channel_99"): load_preprocessed_csv(tmp_path / "c.csv")
    d.iloc[::-1].to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(DataError, match="not sorted"): load_preprocessed_csv(tmp_path / "d.csv")
    assert load_preprocessed_csv(tmp_path / "d.csv", sort=True).index.equals(m.index)


def test_plain_hold_loses_short_labels(raw76, m76):
    with pytest.warns(UserWarning, match="3 label row"):            # the short labels vanish from the plain hold
        m = load_raw_mission(raw76["root"], progress=False, keep_annotated=False)
    assert m.index.equals(m76.index) and len(m.labels) == len(raw76["labels"])
    for c, (t, v) in raw76["samples"].items():
        np.testing.assert_array_equal(m.values[c].to_numpy(), reference_zoh(t, v, m.index), err_msg=c)


def test_challenge_round_trip(tmp_path, m76):
    m = m76                                                           # on the grid: the challenge form takes it as it is
    files = write_challenge(m, tmp_path / "ch", split="2003-05-02 12:00:00")
    tr = pd.read_parquet(files["train"])
    assert tr.columns[0] == "id" and "is_anomaly" in tr.columns and "is_anomaly" not in pd.read_parquet(files["test"]).columns
    assert list(tr.columns[-4:]) == P3 + ["is_anomaly"]
    assert "timestamp" not in tr.columns                              # on the 30 s grid: times follow from the ids
    assert tr["id"].iloc[0] == (m.start - pd.Timestamp("2000-01-01")) // pd.Timedelta("30s")
    train, test = load_mission(files["train"]), load_mission(files["test"])
    assert train.index.append(test.index).equals(m.index)
    np.testing.assert_array_equal(train.is_anomaly().to_numpy(), m.is_anomaly().to_numpy()[:len(train)])
    assert train.target_channels == m.target_channels and len(test.labels) == 0
    assert set(train.labels["Category"]) == {"Anomaly"}
    assert train.labels.groupby("ID")["Channel"].count().eq(len(m.target_channels)).all()
    y = np.zeros(len(test), np.uint8); y[10:20] = 1
    sub = write_submission(test.ids, y, tmp_path / "submission.parquet")
    s = pd.read_parquet(sub)
    assert s.columns.tolist() == ["id", "is_anomaly"] and s["id"].equals(pd.read_parquet(files["sample_submission"])["id"])
    with pytest.raises(DataError, match="ids but"): write_submission(test.ids[:-1], y, tmp_path / "s.parquet")
    with pytest.raises(DataError, match="must be 0 or 1"): write_submission(test.ids, y * 2, tmp_path / "s.parquet")
    assert not (tmp_path / "s.parquet").exists()


def test_load_mission_refuses_unknown_forms(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DataError, match="unknown data form"): load_mission(tmp_path / "x.json")
    with pytest.raises(DataError, match="without a 'channels' folder"): load_mission(tmp_path)
    with pytest.raises(DataError, match="not found"): load_mission(tmp_path / "nope.parquet")


def test_standardiser_and_counters(m76):
    m = m76
    assert detect_counters(m) == [f"channel_{k}" for k in range(4, 12)]   # the counters of the Mission 1 layout
    d = difference_counters(m)
    assert detect_counters(d) == [] or set(detect_counters(d)).isdisjoint(range(4, 12))
    assert (d.values["channel_5"].to_numpy() >= 0).all() and d.values["channel_5"].iloc[0] == 0
    cut = "2003-05-02 00:00:00"
    s = Standardiser().fit(d, end=cut)
    z = s.transform(d)
    for c in ["channel_12", "channel_41"]:
        x = z.values[c].to_numpy()[training_mask(d, cut, c)]
        assert abs(x.mean()) < 1e-4 and abs(x.std() - 1) < 1e-3
    again = Standardiser.from_dict(json.loads(json.dumps(s.to_dict())))
    np.testing.assert_array_equal(again.transform(d).values.to_numpy(), z.values.to_numpy())
    with pytest.raises(DataError, match="unknown key"): Standardiser.from_dict({**s.to_dict(), "mean": {}})


# --- the benchmark's rule for annotated samples between grid points, on hand-made raw directories -----------------------

def _one_channel(tmp_path, name, secs, values, labels, types, end=None, **kw):
    "A raw directory with channel_12 (a target) sampled at `secs` seconds after T0 and `labels` [(ID, start s, end s)]."
    t = T0 + pd.to_timedelta(secs, unit="s")
    lab = pd.DataFrame([(i, "channel_12", T0 + pd.Timedelta(seconds=a), T0 + pd.Timedelta(seconds=b)) for i, a, b in labels],
                       columns=["ID", "Channel", "StartTime", "EndTime"])
    lab["StartTime"], lab["EndTime"] = iso(lab["StartTime"]), iso(lab["EndTime"])
    root = write_raw(tmp_path / name, {"channel_12": (t, values)}, lab,
                     types=pd.DataFrame({"ID": list(types), "Category": list(types.values())}))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        m = load_raw_mission(root, progress=False, end=end, **kw)
    return m, [str(x.message) for x in w]



def test_rule_two_annotated_samples_in_one_bin(tmp_path):
    m, w = _one_channel(tmp_path, "two", [10, 40, 45, 50, 80], [1, 2, 3, 4, 5], [("id_1", 39, 41), ("id_2", 44, 46)],
                        {"id_1": "Anomaly", "id_2": "Rare Event"})
    assert m.values["channel_12"].tolist() == [1, 1, 3, 5]               # the LAST annotated sample (3), not the nominal 4
    assert len(w) == 1 and "1 label row(s) cover no row" in w[0] and "event id_1 on channel_12" in w[0]   # id_1 is not written
    held = m.labels.iloc[2:]
    assert held[["ID", "Category"]].values.tolist() == [["id_2", "Rare Event"]]
    assert held["StartTime"].tolist() == held["EndTime"].tolist() == [T0 + pd.Timedelta("60s")]
    codes = label_codes(m)["channel_12"].tolist()
    assert codes == [0, 0, 2, 0]                                       # the grid point's label matches its value
    assert m.is_anomaly().tolist() == [0, 0, 1, 0]


def test_rule_annotated_then_nominal_and_labels_on_the_grid(tmp_path):
    m, w = _one_channel(tmp_path, "one", [10, 40, 50, 80, 100, 130], [1, 2, 3, 4, 5, 6], [("id_1", 39, 41), ("id_2", 75, 95)],
                        {"id_1": "Anomaly", "id_2": "Anomaly"})
    assert m.values["channel_12"].tolist() == [1, 1, 2, 4, 5, 6] and not w
    # the labels on the grid: the rows of labels.csv as closed intervals, plus the written point
    assert label_codes(m)["channel_12"].tolist() == [0, 0, 1, 1, 0, 0]          # id_2 [75 s, 95 s] holds 01:30
    # and what a preprocessed CSV of it says agrees, row by row, with values and codes
    p = write_preprocessed_csv(m, tmp_path / "one.csv")
    d = pd.read_csv(p)
    assert d["is_anomaly_channel_12"].tolist() == [0, 0, 1, 1, 0, 0] and d["channel_12"].tolist() == [1, 1, 2, 4, 5, 6]
    back = load_preprocessed_csv(p)
    np.testing.assert_array_equal(label_codes(back).to_numpy(), label_codes(m).to_numpy())


def test_rule_next_grid_point_past_the_end(tmp_path):
    m, w = _one_channel(tmp_path, "end", [10, 40, 50, 80], [1, 2, 3, 4], [("id_1", 25, 41)], {"id_1": "Anomaly"},
                        end=T0 + pd.Timedelta("59s"))                  # the bin [30 s, 60 s) would write onto 60 s
    assert m.end == T0 + pd.Timedelta("30s") and m.values["channel_12"].tolist() == [1, 1] and not w
    assert len(m.labels) == 1 and (m.labels["StartTime"] != m.labels["EndTime"]).all()    # no point label outside the data


def test_rule_does_not_restore_gaps_or_change_anything_else(tmp_path):
    plain = [1, 1, 3, 4]
    m, w = _one_channel(tmp_path, "gap", [10, 40, 50, 80], [1, 2, 3, 4], [("id_1", 39, 41)], {"id_1": "Communication Gap"})
    assert m.values["channel_12"].tolist() == plain and len(m.labels) == 1 and any("cover no row" in x for x in w)
    m, _ = _one_channel(tmp_path, "tail_gap", [10, 40, 50, 80], [1, 2, 3, 4], [("id_1", 39, 41), ("id_2", 49, 51)],
                        {"id_1": "Anomaly", "id_2": "Communication Gap"})          # the bin's last sample is not nominal
    assert m.values["channel_12"].tolist() == plain and len(m.labels) == 2
    m, _ = _one_channel(tmp_path, "last", [10, 40, 50, 80], [1, 2, 3, 4], [("id_1", 49, 51)], {"id_1": "Anomaly"})
    assert m.values["channel_12"].tolist() == plain and len(m.labels) == 1      # the hold shows it already
    m, w = _one_channel(tmp_path, "plain", [10, 40, 50, 80], [1, 2, 3, 4], [("id_1", 39, 41)], {"id_1": "Anomaly"},
                        keep_annotated=False)
    assert m.values["channel_12"].tolist() == plain and len(m.labels) == 1 and any("cover no row" in x for x in w)


def test_zoh_resample_codes_matches_the_pandas_reference():
    rng = np.random.default_rng(3)
    t = T0 + pd.to_timedelta(np.cumsum(rng.integers(1, 25, 400)), unit="s")
    v = rng.normal(size=len(t))
    codes = rng.choice([0, 0, 0, 1, 2, 3], len(t))
    z = zoh_resample(t, v, codes=codes)
    np.testing.assert_array_equal(z.to_numpy(), reference_benchmark(t, v, codes, z.index))
    assert (z.to_numpy() != zoh_resample(t, v).to_numpy()).sum() > 10      # the rule matters on this series


# --- channel and telecommand files named after another input ----------------------------------------------------------

def test_wrong_value_column_is_refused(tmp_path, raw76):
    s = {c: raw76["samples"][c] for c in ["channel_1", "channel_12"]}
    root = write_raw(tmp_path / "m", s, raw76["labels"].iloc[:0], {"telecommand_36": raw76["tcs"]["telecommand_36"]}, {"telecommand_36": 3})
    t, v = s["channel_12"]
    pd.DataFrame({"foo": v}, index=pd.DatetimeIndex(t, name="datetime")).to_pickle(root / "channels" / "channel_12.zip", compression="zip")
    with pytest.raises(DataError) as e: load_raw_mission(root, progress=False)
    assert str(e.value) == (f"{root / 'channels' / 'channel_12.zip'}: the value column is named 'foo', expected 'channel_12' "
                            "(a channel file holds one column named after the channel)")
    pd.Series(v, index=pd.DatetimeIndex(t, name="datetime"), name="channel_13").to_pickle(root / "channels" / "channel_12.zip", compression="zip")
    with pytest.raises(DataError, match="the value column is named 'channel_13', expected 'channel_12'"): load_raw_mission(root, progress=False)
    pd.DataFrame({"telecommand_38": np.ones(3)}, index=pd.DatetimeIndex(raw76["tcs"]["telecommand_36"][:3], name="datetime")).to_pickle(
        root / "telecommands" / "telecommand_36.zip", compression="zip")
    with pytest.raises(DataError, match=r"telecommand_36.zip: the value column is named 'telecommand_38', expected 'telecommand_36' "
                                        r"\(a telecommand file holds one column named after the telecommand\)"):
        load_raw_mission(root, channels=["channel_1"], progress=False)


# --- the restricted unpickler ------------------------------------------------------------------------------------------

class _Reduce:
    "An object whose pickle calls `fn(*args)` when loaded."
    def __init__(self, fn, *args): self.fn, self.args = fn, args
    def __reduce__(self): return (self.fn, self.args)


def _payloads(marker):
    import subprocess
    return {"os.system": _Reduce(os.system, f"touch {marker}"),
            "builtins.eval": _Reduce(eval, f"open({str(marker)!r}, 'w').close()"),
            "subprocess.Popen": _Reduce(subprocess.Popen, ["touch", str(marker)])}


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "subprocess.Popen"])
@pytest.mark.parametrize("where", ["channel", "telecommand", "inside a frame"])
def test_malicious_pickles_are_refused_before_they_run(tmp_path, raw76, kind, where):
    import subprocess
    marker = tmp_path / "ran"
    s = {c: raw76["samples"][c] for c in ["channel_1", "channel_12"]}
    root = write_raw(tmp_path / "m", s, raw76["labels"].iloc[:0], {"telecommand_36": raw76["tcs"]["telecommand_36"]}, {"telecommand_36": 3})
    evil = _payloads(marker)[kind]
    if where == "inside a frame":                                    # a valid channel frame carrying the payload in its attrs
        t, v = s["channel_12"]
        evil_df = pd.DataFrame({"channel_12": v}, index=pd.DatetimeIndex(t, name="datetime")); evil_df.attrs["x"] = evil
        evil = evil_df
    f = root / ("telecommands/telecommand_36.zip" if where == "telecommand" else "channels/channel_12.zip")
    pd.to_pickle(evil, f, compression="zip")
    name = {"os.system": f"{os.system.__module__}.system", "builtins.eval": "builtins.eval", "subprocess.Popen": "subprocess.Popen"}[kind]
    with pytest.raises(DataError) as e: load_raw_mission(root, progress=False)
    assert str(e.value).startswith(f"{f}: refuses to load '{name}': ") and "pass trust_pickles=True" in str(e.value), str(e.value)
    with pytest.raises(DataError, match="--trust-pickles"): load_raw_mission(root, progress=False, interface="cli")
    with pytest.raises(DataError, match="refuses to load"): load_mission(root, progress=False)
    assert not marker.exists()


def test_trust_pickles_reads_with_pandas(tmp_path, raw76):
    from fractions import Fraction
    s = {c: raw76["samples"][c] for c in ["channel_1", "channel_12"]}
    root = write_raw(tmp_path / "m", s, raw76["labels"].iloc[:0])
    t, v = s["channel_12"]
    df = pd.DataFrame({"channel_12": v}, index=pd.DatetimeIndex(t, name="datetime")); df.attrs["scale"] = Fraction(1, 2)
    df.to_pickle(root / "channels" / "channel_12.zip", compression="zip")       # harmless, but outside the allowed globals
    with pytest.raises(DataError, match="refuses to load 'fractions.Fraction'"): load_raw_mission(root, progress=False)
    m = load_raw_mission(root, progress=False, trust_pickles=True)
    np.testing.assert_array_equal(m.values["channel_12"].to_numpy(), reference_zoh(t, v, m.index))
    assert load_mission(root, progress=False, trust_pickles=True).values.equals(m.values)


def test_every_pickle_of_the_synthetic_writers_loads(tmp_path):
    from esa_adb_hier.raw import _read_pickle
    from esa_adb_hier.synthetic import make_mission
    from esa_adb_hier.synthetic_raw import generate_raw_mission, write_raw_mission
    write_raw_mission(make_mission(days=3, seed=2, channels=["channel_12", "channel_41", "channel_5"]), tmp_path / "w")
    generate_raw_mission(tmp_path / "g", days=3, seed=2, channels=["channel_13", "channel_60", "channel_7"])
    files = sorted((tmp_path / "w").rglob("*.zip")) + sorted((tmp_path / "g").rglob("*.zip"))
    assert len(files) > 6 and any("telecommands" in str(f) for f in files)
    for f in files:
        a, b = _read_pickle(f, "test"), pd.read_pickle(f, compression="zip")
        pd.testing.assert_frame_equal(a, b)
    for d in ("w", "g"):
        assert load_raw_mission(tmp_path / d, progress=False).values.equals(load_raw_mission(tmp_path / d, progress=False, trust_pickles=True).values)


PANDAS2 = Path(__file__).parent / "data" / "pandas2_pickles"
PANDAS2_WRITER = '''
import numpy as np, pandas as pd                              # pandas 2.2.3, numpy 1.26.4
idx = pd.DatetimeIndex(pd.to_datetime(["2000-01-01 00:00:07", "2000-01-01 00:00:51", "2000-01-01 00:01:40",
                                       "2000-01-01 00:02:13"]), name="datetime")
kw = dict(compression={"method": "zip", "archive_name": "x.pkl"})
pd.DataFrame({"channel_1": [0.5, 1.5, -2.0, 3.25]}, index=idx).to_pickle("channel_1.zip", **kw)
pd.DataFrame({"channel_2": np.float32([1, 2, 3, 4])}, index=idx).to_pickle("channel_2.zip", **kw)
pd.Series([1.0, 2.0, 3.0, 4.0], index=idx, name="channel_3").to_pickle("channel_3.zip", **kw)
pd.DataFrame({"channel_4": np.array([1.0, "2.5", 3, 4], dtype=object)}, index=idx).to_pickle("channel_4.zip", **kw)
pd.DataFrame({"channel_5": [1.0, 2.0, 3.0, 4.0]}, index=idx.tz_localize("UTC")).to_pickle("channel_5.zip", **kw)
pd.DataFrame({"channel_6": [1.0, 2.0, 3.0]}, index=pd.date_range("2000-01-01", periods=3, freq="30s", name="datetime")).to_pickle("channel_6.zip", **kw)
pd.DataFrame({"telecommand_1": np.ones(4, np.int64)}, index=idx).to_pickle("telecommand_1.zip", **kw)
pd.Series(idx).to_pickle("telecommand_2.zip", **kw)
pd.to_pickle(idx, "telecommand_3.zip", **kw)
'''


def test_pickles_of_pandas_2_load():
    from esa_adb_hier.raw import _read_channel, _read_telecommand
    times = pd.DatetimeIndex(["2000-01-01 00:00:07", "2000-01-01 00:00:51", "2000-01-01 00:01:40", "2000-01-01 00:02:13"]).as_unit("ns").asi8
    expect = {"channel_1": [0.5, 1.5, -2.0, 3.25], "channel_2": [1, 2, 3, 4], "channel_3": [1, 2, 3, 4], "channel_4": [1, 2.5, 3, 4],
              "channel_5": [1, 2, 3, 4]}
    for c, v in expect.items():
        t, got = _read_channel(PANDAS2 / f"{c}.zip", c)
        np.testing.assert_array_equal(t, times); np.testing.assert_array_equal(got, np.float32(v))
    t, got = _read_channel(PANDAS2 / "channel_6.zip", "channel_6")
    np.testing.assert_array_equal(t, pd.date_range("2000-01-01", periods=3, freq="30s").as_unit("ns").asi8)
    for k in (1, 2, 3):
        np.testing.assert_array_equal(_read_telecommand(PANDAS2 / f"telecommand_{k}.zip", f"telecommand_{k}"), times)


# --- ±inf, interface hints, silent cases ---------------------------------------------------------------------------------

def test_infinite_values_are_refused_everywhere(tmp_path, raw76, m76):
    s = {c: raw76["samples"][c] for c in ["channel_1", "channel_12"]}
    t, v = s["channel_12"]; v = v.copy(); v[[4, 9, 11]] = [np.inf, -np.inf, np.inf]
    root = write_raw(tmp_path / "m", {**s, "channel_12": (t, v)}, raw76["labels"].iloc[:0])
    with pytest.raises(DataError) as e: load_raw_mission(root, progress=False)
    assert str(e.value) == (f"{root / 'channels' / 'channel_12.zip'} (channel channel_12), column 'channel_12': 3 infinite value(s) "
                            f"(±inf), first inf at row 4 ({t[4]}); drop them or replace them by finite numbers before loading")
    m = m76.select_channels(["channel_12", "channel_13"])
    d = pd.read_csv(write_preprocessed_csv(m, tmp_path / "x.csv"))
    d.loc[[6, 8], "channel_13"] = [-np.inf, np.inf]; d.to_csv(tmp_path / "inf.csv", index=False)
    with pytest.raises(DataError, match=rf"inf.csv: column 'channel_13': 2 infinite value\(s\) \(±inf\), first -inf at row 6 \({m.index[6]}\)"):
        load_preprocessed_csv(tmp_path / "inf.csv")
    files = write_challenge(m, tmp_path / "ch", split=0.5)
    tr = pd.read_parquet(files["train"]); tr.loc[2, "channel_12"] = np.inf; tr.to_parquet(tmp_path / "inf.parquet")
    with pytest.raises(DataError, match=r"inf.parquet: column 'channel_12': 1 infinite value\(s\) \(±inf\), first inf at row 2"):
        load_challenge(tmp_path / "inf.parquet")
    # a mission built in Python (what the detectors' predict take)
    vals = m.values.copy(); vals.iloc[5, 1] = -np.inf
    with pytest.raises(DataError, match=rf"column 'channel_13' holds 1 infinite value\(s\) \(±inf\), first -inf at row 5 \({m.index[5]}\)"):
        Mission(vals, m.telecommands, m.labels, m.channels)


def test_order_errors_name_the_option_of_the_interface(tmp_path, raw76, m76, capsys):
    from esa_adb_hier.cli import main
    s = {c: raw76["samples"][c] for c in ["channel_1", "channel_12"]}
    t, v = s["channel_12"]
    root = write_raw(tmp_path / "m", {**s, "channel_12": (_swap(t, 3, 4), v)}, raw76["labels"].iloc[:0])
    with pytest.raises(DataError, match="; pass sort=True to sort them$"): load_raw_mission(root, progress=False)
    with pytest.raises(DataError, match="; add --sort to sort them$"): load_raw_mission(root, progress=False, interface="cli")
    with pytest.raises(DataError, match="argument interface='gui'"): load_raw_mission(root, progress=False, interface="gui")
    assert main(["fit", str(root), "--out", str(tmp_path / "model"), "--quiet"]) == 2
    assert "add --sort to sort them" in capsys.readouterr().err
    dup = t.to_numpy().copy(); dup[5] = dup[4]
    root2 = write_raw(tmp_path / "d", {**s, "channel_12": (dup, v)}, raw76["labels"].iloc[:0])
    with pytest.raises(DataError, match="pass dedupe=True to keep the last value reported at each timestamp$"): load_raw_mission(root2, progress=False)
    assert main(["fit", str(root2), "--out", str(tmp_path / "model"), "--sort", "--quiet"]) == 2
    assert "add --dedupe to keep the last value reported at each timestamp" in capsys.readouterr().err
    m = m76.select_channels(["channel_12"])
    files = write_challenge(m, tmp_path / "ch", split=0.5)
    tr = pd.read_parquet(files["train"]); tr = pd.concat([tr.iloc[:3], tr.iloc[2:3], tr.iloc[3:]], ignore_index=True)
    tr.to_parquet(tmp_path / "dup.parquet")
    with pytest.raises(DataError, match="this form has no repair for repeated timestamps"): load_challenge(tmp_path / "dup.parquet")
    assert main(["fit", str(tmp_path / "dup.parquet"), "--out", str(tmp_path / "model"), "--dedupe", "--quiet"]) == 2
    assert "--dedupe: DATA" in capsys.readouterr().err and not (tmp_path / "model").exists()


def test_csv_without_a_label_column_warns(tmp_path, m76):
    m = m76.select_channels(["channel_1", "channel_12", "channel_13"])
    d = pd.read_csv(write_preprocessed_csv(m, tmp_path / "x.csv"))
    d.drop(columns=["is_anomaly_channel_12"]).to_csv(tmp_path / "no12.csv", index=False)
    with pytest.warns(UserWarning) as w: b = load_preprocessed_csv(tmp_path / "no12.csv")
    msgs = [str(x.message) for x in w]
    assert msgs == [f"{tmp_path / 'no12.csv'}: no label column for channel(s) ['channel_12'] (1 in all; expected is_anomaly_<channel>); "
                    "target channel(s) ['channel_12'] will be treated as having no labels (every row nominal)"]
    assert not b.label_mask("channel_12", None).any() and b.label_mask("channel_13", None).sum() == m.label_mask("channel_13", None).sum()
    d.drop(columns=["is_anomaly_channel_1"]).to_csv(tmp_path / "no1.csv", index=False)     # channel_1 is not a target
    with pytest.warns(UserWarning, match=r"no label column for channel\(s\) \['channel_1'\] \(1 in all; expected is_anomaly_<channel>\)$"):
        load_preprocessed_csv(tmp_path / "no1.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_preprocessed_csv(tmp_path / "x.csv")                       # all there: no warning


def test_missing_anomaly_types_file_is_refused(tmp_path, raw76, capsys):
    from esa_adb_hier.cli import main
    pred = pd.DataFrame({"timestamp": pd.date_range(T0, periods=10, freq="30s"), "is_anomaly": np.zeros(10, np.uint8)})
    pred.to_parquet(tmp_path / "p.parquet", index=False)
    args = ["evaluate", str(tmp_path / "p.parquet"), str(raw76["root"] / "labels.csv"), "--out", str(tmp_path / "m.json"), "--quiet"]
    assert main(args + ["--anomaly-types", str(tmp_path / "missing.csv")]) == 2
    assert f"--anomaly-types {tmp_path / 'missing.csv'}: no such file" in capsys.readouterr().err
    args[2] = str(raw76["root"])                                        # a data form: the option does not apply
    assert main(args + ["--anomaly-types", str(raw76["root"] / "anomaly_types.csv")]) == 2
    assert "applies to a labels.csv only" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()
