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
    # nbdev_proc_nbs installs Quarto and then `pip install -e` the project it runs in when `quarto` is not on PATH;
    # processing the notebooks needs neither, so a stand-in `quarto` keeps the test from touching the environment
    bin_dir = tmp_path / "bin"; bin_dir.mkdir()
    (bin_dir / "quarto").write_text("#!/bin/sh\nexit 0\n"); (bin_dir / "quarto").chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(proj), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    r = subprocess.run(["nbdev_proc_nbs", "--n_workers", "1"], cwd=proj, capture_output=True, text=True, env=env,
                       timeout=1200)
    assert r.returncode == 0, f"nbdev_proc_nbs failed:\n{r.stderr[-4000:]}"
    want = sorted(p.name for p in NBS.glob("*.ipynb") if not p.name.startswith("_"))
    done = sorted(p.name for p in (proj / "_proc").glob("*.ipynb"))
    assert done == want, f"notebooks missing from _proc: {sorted(set(want) - set(done))}"
    import esa_adb_hier
    assert Path(esa_adb_hier.__file__).resolve().is_relative_to(REPO), "the docs build reinstalled the package"
