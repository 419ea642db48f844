"""A fit killed part-way (SIGKILL or Ctrl-C) and started again with the same checkpoint reuses the finished channel jobs
and gives the predictions of an uninterrupted fit, bit for bit; a corrupt stored result is fitted again."""
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO
from esa_adb_hier.ensemble import HierarchicalDetector
from esa_adb_hier.synthetic import make_mission

CHANNELS = ["channel_41", "channel_42", "channel_43"]
DAYS, SEED, CUT = 20, 4, 15 * 2880

FIT = textwrap.dedent(f"""
    import sys
    from esa_adb_hier.ensemble import HierarchicalDetector
    from esa_adb_hier.synthetic import make_mission
    m = make_mission(days={DAYS}, seed={SEED}, channels={CHANNELS!r})
    HierarchicalDetector("fast", progress=False).fit(m.iloc(0, {CUT}), checkpoint=sys.argv[1])
    print("finished")
""")


def _done(ckpt: Path) -> list:
    return sorted(p.parent.name for p in ckpt.glob("*/manifest.json"))


def _interrupt(ckpt: Path, sig: int, after: int) -> tuple:
    "Fit in a subprocess; send `sig` once `after` channel results are stored. Returns (returncode, stored, stderr)."
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    p = subprocess.Popen([sys.executable, "-c", FIT, str(ckpt)], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while len(_done(ckpt)) < after and p.poll() is None and time.monotonic() - t0 < 300: time.sleep(0.01)
    stored = _done(ckpt)
    p.send_signal(sig)
    out, err = p.communicate(timeout=120)
    return p.returncode, stored, err


@pytest.fixture(scope="module")
def data():
    m = make_mission(days=DAYS, seed=SEED, channels=CHANNELS)
    return m.iloc(0, CUT), m.iloc(CUT, len(m))


@pytest.fixture(scope="module")
def reference(data):
    det = HierarchicalDetector("fast", progress=False).fit(data[0])
    return det.predict(data[1])


def test_killed_and_interrupted_fits_resume_to_the_same_predictions(tmp_path, data, reference, caplog):
    ckpt = tmp_path / "ckpt"
    rc, stored, err = _interrupt(ckpt, signal.SIGINT, 1)              # Ctrl-C after the first channel
    assert rc != 0 and "KeyboardInterrupt" in err, (rc, err[-2000:])
    assert 1 <= len(stored) < len(CHANNELS), stored
    written = {c: (ckpt / c / "manifest.json").stat().st_mtime_ns for c in stored}
    rc, stored2, err = _interrupt(ckpt, signal.SIGKILL, len(stored) + 1)   # resumed, then killed outright
    assert rc == -signal.SIGKILL, (rc, err[-2000:])
    assert len(stored) < len(stored2) <= len(CHANNELS) and set(stored) <= set(stored2), (stored, stored2)
    assert {c: (ckpt / c / "manifest.json").stat().st_mtime_ns for c in stored} == written, "not reused after Ctrl-C"
    with caplog.at_level(logging.INFO, logger="esa_adb_hier.ensemble"):
        det = HierarchicalDetector("fast", progress=False).fit(data[0], checkpoint=ckpt)
    assert set(stored2) <= set(det.resumed_), (stored2, det.resumed_)
    assert f"{len(det.resumed_)} of 3 channel results reused" in caplog.text, caplog.text
    pd.testing.assert_frame_equal(det.predict(data[1]), reference, check_exact=True)
    assert _done(ckpt) == CHANNELS


def test_a_corrupt_stored_result_is_fitted_again(tmp_path, data, reference, caplog):
    ckpt = tmp_path / "ckpt"
    HierarchicalDetector("fast", progress=False).fit(data[0], checkpoint=ckpt)
    blob = sorted((ckpt / "channel_42").glob("b*.bin"))[0]
    b = bytearray(blob.read_bytes()); b[len(b) // 2] ^= 1; blob.write_bytes(bytes(b))
    with caplog.at_level(logging.INFO, logger="esa_adb_hier"):
        det = HierarchicalDetector("fast", progress=False).fit(data[0], checkpoint=ckpt)
    assert det.resumed_ == ["channel_41", "channel_43"], det.resumed_
    assert f"{blob}: SHA-256 or size differs" in caplog.text and "channel channel_42 is fitted again" in caplog.text
    pd.testing.assert_frame_equal(det.predict(data[1]), reference, check_exact=True)
    det = HierarchicalDetector("fast", progress=False).fit(data[0], checkpoint=ckpt)   # the refitted result is stored
    assert det.resumed_ == CHANNELS
