"""The HTML report as a person sees it: rendered by headless Chromium (Debian package `chromium`)."""
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from esa_adb_hier.report import alarm_table, write_report
from esa_adb_hier.synthetic import make_mission


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    assert exe, "headless Chromium is needed to check the report as a reader sees it: apt-get install chromium"
    return exe


def screenshot(page, png, size=(1200, 2400)) -> str:
    "Render `page` with headless Chromium into `png`; returns Chromium's log."
    r = subprocess.run([chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--window-size={size[0]},{size[1]}", f"--screenshot={png}", "--enable-logging=stderr",
                        "--v=0",
                        page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and png.exists(), r.stderr[-2000:]
    return r.stderr


@pytest.fixture(scope="module")
def labelled():
    m = make_mission(days=16, seed=0, channels=[f"channel_{i}" for i in range(41, 47)])
    ia = m.is_anomaly().to_numpy()
    pred = pd.DataFrame({"is_anomaly": ia, "score": ia * 0.9}, index=m.index)
    for c in m.target_channels:
        pred[c] = m.label_mask(c).astype(np.uint8); pred[f"score_{c}"] = m.label_mask(c).astype(np.float32)
    return m, pred


def test_report_renders_in_a_browser(tmp_path, labelled):
    from PIL import Image
    m, pred = labelled
    page = write_report(pred, m, tmp_path / "report.html")
    log = screenshot(page, tmp_path / "report.png")
    assert "Failed to load resource" not in log and "net::ERR" not in log, log[-2000:]
    img = np.asarray(Image.open(tmp_path / "report.png").convert("L"), dtype=np.float32)
    assert img.std() > 20, "the screenshot is blank"
    assert (img < 128).mean() > 0.02, "hardly anything dark (text, plots) on the page"
    text = page.read_text()
    assert text.count('<img') == 2 + len(alarm_table(pred, m)) and 'src="data:image/png;base64,' in text
    assert "subsystem_F0.50" in text and "EW_F_0.50" in text


def test_report_without_labels_or_alarms(tmp_path, labelled):
    m, pred = labelled
    quiet = pred.assign(is_anomaly=0)
    m2 = m.select_channels(m.channel_names)
    m2.labels = m2.labels.iloc[:0]
    text = write_report(quiet, m2, tmp_path / "r.html").read_text()
    assert "No alarm." in text and "Scores against the labels" not in text
    screenshot(tmp_path / "r.html", tmp_path / "r.png", (1000, 800))


@pytest.fixture(scope="module")
def explained():
    "A fast fit of the hierarchical ensemble that raises a few alarms, its predictions and their evidence."
    from esa_adb_hier.ensemble import HierarchicalDetector
    from esa_adb_hier.ensemble_config import HierarchicalConfig
    m = make_mission(days=40, seed=0, channels=[f"channel_{i}" for i in (41, 42, 43, 47, 48, 49)])
    cfg = HierarchicalConfig.preset("fast").replace(threshold=0.3)
    det = HierarchicalDetector(cfg, progress=False).fit(m.iloc(0, int(len(m) * 0.7)))
    pred = det.predict(m)
    return m, pred, det.explain(m, pred)


def test_report_shows_the_evidence_of_each_alarm(tmp_path, explained):
    from PIL import Image
    m, pred, ev = explained
    page = write_report(pred, m, tmp_path / "report.html", evidence=ev, max_panels=3)
    log = screenshot(page, tmp_path / "report.png", (1200, 6000))
    assert "Failed to load resource" not in log and "net::ERR" not in log, log[-2000:]
    img = np.asarray(Image.open(tmp_path / "report.png").convert("L"), dtype=np.float32)
    assert img.std() > 20 and (img < 128).mean() > 0.02, "the screenshot is blank"
    text = page.read_text()
    assert text.count('class="evidence"') == 3 and text.count("<img") == 2 + 3
    for a in alarm_table(pred, m).sort_values("peak_score", ascending=False, kind="stable")["alarm"].head(3):
        panel = text[text.index(f'id="alarm-{a}"'):]
        panel = panel[:panel.index('class="evidence"') + 20000]
        top = ev[(ev.alarm == a) & (ev.level == "channel")].sort_values("rank")["channel"].iloc[0]
        assert "<h3>Channels</h3>" in panel and top in panel, f"alarm {a}: its top channel is not in its evidence"
        assert "nominal range" in panel and "Telecommands just before" in panel
        feat = ev[(ev.alarm == a) & (ev.level == "feature")]["name"].iloc[0]
        assert feat in panel, f"alarm {a}: feature {feat} missing"


def test_report_takes_the_evidence_from_alarms_csv(tmp_path, explained):
    "`report` can read the evidence `predict` wrote next to the predictions (alarms.csv) instead of recomputing it."
    from esa_adb_hier.explain import write_alarms
    m, pred, ev = explained
    csv, _ = write_alarms(ev, tmp_path)
    back = pd.read_csv(csv)
    a = write_report(pred, m, tmp_path / "a.html", evidence=ev, max_panels=2).read_text()
    b = write_report(pred, m, tmp_path / "b.html", evidence=back, max_panels=2).read_text()
    cut = lambda t: t[t.index('class="evidence"'):]                                    # the header holds the time
    assert b.count('class="evidence"') == 2 and "<h3>Channels</h3>" in b
    for al in alarm_table(pred, m).sort_values("peak_score", ascending=False, kind="stable")["alarm"].head(2):
        top = ev[(ev.alarm == al) & (ev.level == "channel") & (ev["rank"] == 1)]["channel"].item()
        panel = cut(b[b.index(f'id="alarm-{al}"'):])
        assert top in panel[:panel.index("</table>")], f"alarm {al}: top channel {top} not first in its evidence"
    assert cut(a).count("<tr>") == cut(b).count("<tr>")
