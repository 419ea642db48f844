"""The notebooks are the source of truth: they must be clean, in sync with the library, and every one must run.

Each notebook runs through `nbdev_test` in its own process, so a failing notebook shows up by name in the
pytest summary (cells flagged `slow` are skipped, as in `nbdev_test`).
"""
import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NBS = REPO / "nbs"
NOTEBOOKS = sorted(p.name for p in NBS.glob("*.ipynb") if not p.name.startswith("_"))


def _run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def _copy_project(dst: Path) -> Path:
    for name in ("settings.ini", "setup.py", "pyproject.toml", "README.md"):
        if (REPO / name).exists(): shutil.copy(REPO / name, dst / name)
    shutil.copytree(NBS, dst / "nbs")
    shutil.copytree(REPO / "esa_adb_hier", dst / "esa_adb_hier", ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def test_there_are_notebooks():
    assert "00_core.ipynb" in NOTEBOOKS and "index.ipynb" in NOTEBOOKS, NOTEBOOKS


def test_notebooks_are_clean(tmp_path):
    "`nbdev_clean` leaves every notebook unchanged."
    proj = _copy_project(tmp_path)
    r = _run(["nbdev_clean", "--fname", "nbs"], proj)
    assert r.returncode == 0, r.stderr
    changed = [n for n in NOTEBOOKS if not filecmp.cmp(NBS / n, proj / "nbs" / n, shallow=False)]
    assert not changed, f"notebooks not clean (run nbdev_clean): {changed}"


def test_library_in_sync_with_notebooks(tmp_path):
    "`nbdev_export` leaves the library unchanged: nobody edited esa_adb_hier/*.py by hand."
    proj = _copy_project(tmp_path)
    r = _run(["nbdev_export"], proj)
    assert r.returncode == 0, r.stderr
    lib, new = REPO / "esa_adb_hier", proj / "esa_adb_hier"
    names = sorted({p.name for p in lib.glob("*.py")} | {p.name for p in new.glob("*.py")})
    differ = [n for n in names if not ((lib / n).exists() and (new / n).exists() and filecmp.cmp(lib / n, new / n,
        shallow=False))]
    assert not differ, f"library out of sync with notebooks (run nbdev_export): {differ}"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_runs(notebook):
    "Every notebook executes with `nbdev_test` (slow cells skipped)."
    r = _run(["nbdev_test", "--path", f"nbs/{notebook}", "--do_print"], REPO)
    assert r.returncode == 0, f"{notebook} failed:\n{r.stderr[-6000:]}"


def test_readme_in_sync_with_index(tmp_path):
    "README.md is rendered from nbs/index.ipynb (`make readme`): the docs home and the README never disagree."
    r = _run(["jupyter", "nbconvert", "--log-level=WARN", "--to", "markdown", str(NBS / "index.ipynb"),
              "--output-dir", str(tmp_path), "--output", "README"], REPO)
    assert r.returncode == 0, r.stderr
    rendered = (tmp_path / "README.md").read_text().replace("](images/", "](nbs/images/")    # as `make readme` does
    assert rendered == (REPO / "README.md").read_text(), \
        "README.md out of date: run `make readme`"
