"""Save and load time of a fitted model directory: the fast-preset ensemble on a 20-day synthetic mission.

Fits once, then saves into fresh directories and loads them back `--repeats` times (median wall time
of each), and reports the size of the directory and its number of files. Saving includes the checksums
of every artifact, the flush to disk of every file and the staged swap; loading includes verifying every
checksum. Results go to benchmarks/results/model_io.json and a table is printed.

    python benchmarks/bench_model_io.py [--days 20] [--repeats 5] [--out results/model_io.json]
"""
import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path


import esa_adb_hier
from esa_adb_hier.ensemble import HierarchicalConfig, HierarchicalDetector
from esa_adb_hier.synthetic import make_mission

HERE = Path(__file__).resolve().parent


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(HERE / "results" / "model_io.json"))
    a = ap.parse_args()
    m = make_mission(days=a.days, seed=a.seed)
    t0 = time.perf_counter()
    det = HierarchicalDetector(HierarchicalConfig.preset("fast"), progress=False).fit(m)
    fit_s = time.perf_counter() - t0
    saves, loads = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(a.repeats):
            d = Path(tmp) / f"model_{k}"
            t0 = time.perf_counter(); det.save(d); saves.append(time.perf_counter() - t0)
            t0 = time.perf_counter(); HierarchicalDetector.load(d,
                                                                progress=False); loads.append(time.perf_counter() - t0)
        files = [p for p in d.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
    res = {"package_version": esa_adb_hier.__version__, "python": platform.python_version(),
           "mission": {"days": a.days, "seed": a.seed, "rows": len(m), "target_channels": len(m.target_channels)},
           "fit_s": round(fit_s, 2), "files": len(files), "bytes": int(size), "repeats": a.repeats,
           "save_s": round(statistics.median(saves), 4), "load_s": round(statistics.median(loads), 4),
           "save_all_s": [round(x, 4) for x in saves], "load_all_s": [round(x, 4) for x in loads]}
    sys.path.insert(0, str(HERE))
    from _common import write_result
    write_result(a.out, res, config=vars(a))
    print(f"{len(files)} files, {size / 2**20:.1f} MiB; save {res['save_s']:.3f} s, load {res['load_s']:.3f} s "
          f"(median of {a.repeats}); fit {fit_s:.1f} s")


if __name__ == "__main__":
    main()
