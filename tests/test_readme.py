"""The README's Python runs as written: every Python block, in order, as one script.

The real-data block reads `ESA-Mission1/`; the test writes a small synthetic mission in the raw
ESA-ADB layout under that name, spanning the benchmark's 2007-01-01 split, so the block runs
unchanged on data of the real format.
"""
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO

FENCE = re.compile(r"^```([a-z]*)\n(.*?)^```$", re.S | re.M)


def python_blocks(text: str) -> list:
    "The fenced blocks of a Markdown text that hold Python: tagged `python`, or untagged (notebook code cells)."
    return [body for lang, body in FENCE.findall(text) if lang in ("", "python")]


def test_python_blocks_are_found():
    blocks = python_blocks((REPO / "README.md").read_text())
    assert len(blocks) >= 4, blocks
    assert any("load_mission(\"ESA-Mission1\")" in b for b in blocks)
    assert not any(b.lstrip().startswith(("make ", "pip ", "esa-adb-hier ")) for b in blocks)
    assert python_blocks("```sh\nmake demo\n```\n```\nx = 1\n```\n") == ["x = 1\n"]


def test_readme_python_runs_as_a_script(tmp_path):
    from esa_adb_hier.synthetic import make_mission
    from esa_adb_hier.synthetic_raw import write_raw_mission
    write_raw_mission(make_mission(days=16, seed=1, start="2006-12-20"), tmp_path / "ESA-Mission1")
    script = tmp_path / "readme.py"
    script.write_text("\n".join(python_blocks((REPO / "README.md").read_text())))
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-4000:]
    out = r.stdout
    assert "Mission('synthetic'" in out and "samples alarmed" in out, out[-2000:]
    assert "EW_F_0.50" in out and "subsystem_F0.50" in out, out[-2000:]
    assert (tmp_path / "model" / "manifest.json").exists()
