"""The docs can be built from a clean copy of the repository: `nbdev_proc_nbs`, run from the repository root as the
docs build runs it, processes every notebook (it executes their export and import cells, so any file a notebook opens
relative to the working directory breaks it)."""
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NBS = REPO / "nbs"
COPY = ["settings.ini", "setup.py", "pyproject.toml", "README.md", "nbs", "esa_adb_hier", "tests/golden",
        "benchmarks/results"]


def _copy(dst: Path) -> Path:
    dst.mkdir(parents=True)
    for name in COPY:
        src = REPO / name
        skip = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")
        if src.is_dir(): shutil.copytree(src, dst / name, ignore=skip)
        elif src.exists(): (dst / name).parent.mkdir(parents=True, exist_ok=True); shutil.copy(src, dst / name)
    return dst


def test_proc_nbs_processes_every_notebook(tmp_path):
    proj = _copy(tmp_path / "clone")
    env = {**os.environ, "PYTHONPATH": str(proj)}
    r = subprocess.run(["nbdev_proc_nbs", "--n_workers", "1"], cwd=proj, capture_output=True, text=True, env=env,
                       timeout=1200)
    assert r.returncode == 0, f"nbdev_proc_nbs failed:\n{r.stderr[-4000:]}"
    want = sorted(p.name for p in NBS.glob("*.ipynb") if not p.name.startswith("_"))
    done = sorted(p.name for p in (proj / "_proc").glob("*.ipynb"))
    assert done == want, f"notebooks missing from _proc: {sorted(set(want) - set(done))}"
