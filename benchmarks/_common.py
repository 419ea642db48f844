"""What every benchmark writes with its figures: the commit, the command line, the config and the package version.

A results file must be what its benchmark prints at the commit it is stored with. `write_result` stamps a `run` block
(`commit`, `dirty`, `command`, `config`, `package_version`, `python`, `written_at`) into the payload and writes the
JSON atomically (a temporary file in the same folder, then one rename), so a crash never leaves half a file.
Benchmarks that keep entries of earlier runs in the same file (parts, presets) stamp each entry they compute with
`stamp`, so every entry says which run produced it.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent          # the repository root
RESULTS = ROOT / "benchmarks" / "results"
SMAP = ROOT.parent / "shared" / "data" / "smap"        # NASA SMAP telemetry next to the repository (see README)


def _git(*args) -> str:
    try: r = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError): return ""
    return r.stdout.strip()


def run_info(config=None) -> dict:
    "The `run` block: where the figures come from."
    import esa_adb_hier
    changed = [l for l in _git("status", "--porcelain").splitlines() if "benchmarks/results/" not in l]
    return {"commit": _git("rev-parse", "HEAD") or None, "dirty": bool(changed),
            "command": shlex.join([Path(sys.executable).name, *sys.argv]),
            "config": config, "package_version": esa_adb_hier.__version__, "python": platform.python_version(),
            "written_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


def stamp(entry: dict, config=None) -> dict:
    "`entry` with this run's `run` block (for files that keep entries of earlier runs)."
    entry["run"] = run_info(config)
    return entry


def read_result(path) -> dict:
    "A results file, or {} when there is none yet."
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else {}


def write_result(path, payload: dict, config=None) -> Path:
    "Write `payload` (a dict) with this run's `run` block to `path` as JSON, atomically; returns the path."
    if not isinstance(payload, dict):
        raise TypeError(f"write_result: payload must be a dict, got {type(payload).__name__}")
    path = Path(path)
    out = {"run": run_info(config), **{k: v for k, v in payload.items() if k != "run"}}
    text = json.dumps(out, indent=2, default=str)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f: f.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True); raise
    return path
