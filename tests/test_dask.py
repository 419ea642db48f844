"""The channel jobs on a Dask cluster (`LocalCluster`, two worker processes) give the predictions of a local fit, bit
for bit: with the arrays sent, and with the workers reading their channel from a raw mission directory. The whole
module finishes in under two minutes."""
import time

import numpy as np
import pandas as pd
import pytest
from dask.distributed import Client, LocalCluster

from esa_adb_hier.core import DataError
from esa_adb_hier.data import load_mission
from esa_adb_hier.ensemble import HierarchicalDetector
from esa_adb_hier.synthetic import make_mission
from esa_adb_hier.synthetic_raw import write_raw_mission

BUDGET_S = 120


@pytest.fixture(scope="module")
def module_start():
    return time.monotonic()


@pytest.fixture(autouse=True)
def within_budget(module_start):
    "Every test of this module ends within BUDGET_S of the start of the first one (cluster start included)."
    yield
    assert time.monotonic() - module_start < BUDGET_S, f"the Dask tests took over {BUDGET_S} s"


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        with Client(c) as client:
            yield c, client


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    raw = tmp_path_factory.mktemp("dask") / "raw"
    write_raw_mission(make_mission(days=20, seed=6, channels=["channel_41", "channel_42", "channel_43"]), raw)
    m = load_mission(raw, progress=False)
    cut = 15 * 2880
    return raw, m.iloc(0, cut), m.iloc(cut, len(m))


@pytest.fixture(scope="module")
def reference(data):
    return HierarchicalDetector("fast", progress=False).fit(data[1]).predict(data[2])


def test_a_client_gives_the_local_predictions(cluster, data, reference):
    det = HierarchicalDetector("fast", progress=False).fit(data[1], client=cluster[1])
    pd.testing.assert_frame_equal(det.predict(data[2]), reference, check_exact=True)


def test_workers_read_their_channel_from_the_data_path(cluster, data, reference, tmp_path):
    raw, train, test = data
    det = HierarchicalDetector("fast", progress=False).fit(train, client=cluster[0].scheduler_address, data_path=raw,
                                                           checkpoint=tmp_path / "ckpt")
    pd.testing.assert_frame_equal(det.predict(test), reference, check_exact=True)
    assert det.resumed_ == [] and len(list((tmp_path / "ckpt").glob("*/manifest.json"))) == 3


def test_a_mission_that_differs_from_the_data_path_is_refused(cluster, data):
    raw, train, _ = data
    v = train.values.copy(); v.iloc[100, 1] += np.float32(1)
    changed = type(train)(v, train.telecommands, train.labels, train.channels, train.period, train.name)
    with pytest.raises(DataError, match="the values of channel channel_42 read there differ from the mission"):
        HierarchicalDetector("fast", progress=False).fit(changed, client=cluster[1], data_path=raw)


def test_a_bad_client_is_refused_before_any_work(data, monkeypatch):
    import esa_adb_hier.scale
    monkeypatch.setattr(esa_adb_hier.scale, "CONNECT_TIMEOUT", "2s")
    with pytest.raises(DataError, match="expected a scheduler address such as 'tcp://host:8786'"):
        HierarchicalDetector("fast", progress=False).fit(data[1], client="localhost:1")
    with pytest.raises(DataError, match=r"scheduler tcp://127.0.0.1:9: cannot connect within 2s"):
        HierarchicalDetector("fast", progress=False).fit(data[1], client="tcp://127.0.0.1:9")
