"""The demo end to end: wall time, peak memory and quality on its held-out part.

Runs `esa-adb-hier demo` (default size) as a user would, in its own process, `--repeats` times (median
wall time; about 1.5 minutes a run on 2 cores, so 3 runs by default), then scores two reference detectors on the
same held-out part, measured in the same run: GlobalSTD5 and GlobalSTD3 (flag a target channel when
|z| > k with mean and standard deviation of its nominal training points; the global alarm is any
channel's). Results go to benchmarks/results/demo.json and a table is printed.

    python benchmarks/bench_demo.py [--days 60] [--seed 0] [--repeats 3]
"""
import argparse
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from esa_adb_hier.cli import DEMO_DAYS, score_predictions, metrics_dict
from esa_adb_hier.core import read_json
from esa_adb_hier.data import load_mission
from _common import write_result
from esa_adb_hier.baselines import global_std_predictions

HERE = Path(__file__).resolve().parent
KEYS = ("EW_F_0.50", "EW_precision", "EW_recall", "alarming_precision", "channel_F0.50", "subsystem_F0.50",
        "AFF_F_0.50")


def cli_command():
    exe = shutil.which("esa-adb-hier", path=str(Path(sys.executable).parent)) or shutil.which("esa-adb-hier")
    return [exe] if exe else [sys.executable, "-c", "import sys; from esa_adb_hier.cli import main; sys.exit(main())"]


def run_demo(out: Path, days: float, seed: int) -> dict:
    "One demo run in a child process: wall time and the child's peak resident memory."
    t0 = time.perf_counter()
    r = subprocess.run(cli_command() + ["demo", "--out", str(out), "--days", str(days), "--seed", str(seed),
                                        "--quiet"],
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0: raise SystemExit(f"demo failed (exit {r.returncode}):\n{r.stderr[-4000:]}")
    return {"wall_s": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "stdout": r.stdout}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=float, default=DEMO_DAYS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "results" / "demo.json"))
    a = ap.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.repeats):
            out = Path(tmp) / f"demo{i}"
            runs.append(run_demo(out, a.days, a.seed))
            print(f"run {i + 1}/{a.repeats}: {runs[-1]['wall_s']:.1f} s", flush=True)
        rec = read_json(out / "demo.run.json")
        demo_metrics = read_json(out / "metrics.json")["metrics"]
        # references on the same held-out part
        m = load_mission(out / "mission", progress=False)
        split = pd.Timestamp(rec["split"]["test"][0])
        train, test = m.slice(None, split), m.slice(split, None)
        refs = {}
        for k in (5, 3):
            t0 = time.perf_counter()
            pred = global_std_predictions(train, test, k)
            refs[f"GlobalSTD{k}"] = {"time_s": time.perf_counter() - t0,
                                     "metrics": metrics_dict(score_predictions(pred, test.labels, test))}
    walls = [r["wall_s"] for r in runs]
    result = {
        "benchmark": "demo", "command": f"esa-adb-hier demo --days {a.days} --seed {a.seed}",
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": __import__("os").cpu_count()},
        "data": rec["data"], "split": rec["split"], "repeats": a.repeats,
        "wall_s_median": statistics.median(walls), "wall_s_runs": walls,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "stage_s": rec["timings_s"], "demo_internal_wall_s": rec["wall_s"],
        "metrics": demo_metrics, "references": refs,
        "ratio_EW_F_0.50_vs_GlobalSTD5": (demo_metrics["EW_F_0.50"] / refs["GlobalSTD5"]["metrics"]["EW_F_0.50"]
                                          if refs["GlobalSTD5"]["metrics"].get("EW_F_0.50") else None),
    }
    write_result(a.out, result, vars(a))
    print(f"\ndemo ({a.days:g} days, seed {a.seed}): wall {result['wall_s_median']:.1f} s (median of {a.repeats}), "
          f"peak RSS {result['peak_rss_mb']:.0f} MB")
    print("stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in rec["timings_s"].items()))
    rows = [("demo (fast preset)", demo_metrics)] + [(k, v["metrics"]) for k, v in refs.items()]
    keys = [k for k in KEYS if k in demo_metrics]
    print(f"\n{'detector':<20}" + "".join(f"{k:>20}" for k in keys))
    for name, met in rows:
        print(f"{name:<20}" + "".join(f"{(met.get(k) if met.get(k) is not None else float('nan')):>20.3f}"
                                      for k in keys))
    print(f"\nwritten to {a.out}")


if __name__ == "__main__":
    main()
