"""Benchmark of esa_adb_hier.features: segment features + rolling min-max pooling on one channel.

Measures, each configuration in a fresh process pinned to one thread (median of --repeats runs):
  * one channel of Mission-1 length (14.7 M float32 samples): segments 50/10 with every feature and
    pooling 200/20; segments 1000/200 with pooling 10/1; segments 2000/400 with pooling 5/1;
  * growth with length at 0.5 M, 2 M, 8 M and 14.7 M samples (50/10, 200/20);
  * the naive per-window reference (`naive_segment_features` + a per-row pooling loop), timed on a
    short series in the same run and scaled linearly to the full length (its cost is linear in the
    number of segments: one independent computation per segment);
  * that blocked processing gives exactly the one-block result on 2 M samples.
Wall-clock and CPU (process) time are both reported: on a busy machine the CPU time of the
process is the cost of the work on one core, the wall time includes waiting for the core.
Peak memory: the peak resident set size of the measuring process (interpreter, libraries and the
input series included) from resource.getrusage, and the peak of the memory allocated by the
pipeline itself during one extra run under tracemalloc (numpy reports its buffers to it).

    python benchmarks/bench_features.py            # full run, writes benchmarks/results/features.json
    python benchmarks/bench_features.py --quick    # smoke run on small sizes (not written unless --out)
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse
import json
import multiprocessing as mp
import platform
import resource
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np

MISSION1_SAMPLES = 14_700_000
RESULTS = Path(__file__).resolve().parent / "results" / "features.json"


def make_series(n: int, seed: int = 0) -> np.ndarray:
    "Telemetry-like float32 channel: offset, slow oscillation, noise, constant stretches and short bursts."
    rng = np.random.default_rng(seed)
    x = np.empty(n, dtype=np.float32)
    for a in range(0, n, 1 << 20):                        # in chunks, so making the input costs little memory
        t = np.arange(a, min(n, a + (1 << 20)), dtype=np.float64)
        x[a: a + len(t)] = 1e3 + 20 * np.sin(2 * np.pi * t / 2880) + 0.5 * rng.standard_normal(len(t))
    k = max(1, n // 50_000)                               # constant stretches (hold the value)
    starts = rng.integers(0, max(1, n - 3000), k)
    for s, ln in zip(starts, rng.integers(100, 3000, k)): x[s: s + ln] = x[s]
    for s in rng.integers(0, max(1, n - 40), k):          # high-frequency bursts
        x[s: s + 40] += (5 * np.sin(2 * np.pi * 0.4 * np.arange(min(40, n - s)))).astype(np.float32)
    return x


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # Linux: kilobytes


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def _fast_worker(conn, n, length, step, window, stride, repeats, seed):
    from esa_adb_hier.features import pool_min_max, segment_features
    x = make_series(n, seed)
    base_mb = _peak_mb()
    runs = []
    for _ in range(repeats):
        f, fw, fc = _timed(lambda: segment_features(x, length, step))
        p, pw, pc = _timed(lambda: pool_min_max(f, window, stride))
        runs.append(dict(features_wall=fw, features_cpu=fc, pool_wall=pw, pool_cpu=pc, total_wall=fw + pw,
                         total_cpu=fc + pc))
        shape = (f.shape, p.shape)
        del f, p
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    rss_peak = _peak_mb()
    tracemalloc.start()  # one more run, traced: memory allocated by the pipeline itself
    p = pool_min_max(segment_features(x, length, step), window, stride)
    traced_peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    del p
    conn.send(dict(n=n, length=length, step=step, window=window, stride=stride, repeats=repeats, median=med,
                   runs=runs, segments=shape[0][0], feature_columns=shape[0][1], pooled_rows=shape[1][0],
                   pooled_columns=shape[1][1], peak_rss_mb=rss_peak, rss_before_mb=base_mb,
                   traced_peak_mb=traced_peak))


def _naive_worker(conn, n, length, step, window, stride, repeats, seed):
    from esa_adb_hier.features import pool_min_max, segment_features
    from esa_adb_hier.testing import _naive_pool, naive_segment_features
    x = make_series(n, seed)
    naive, fast = [], []
    for _ in range(repeats):
        f, w1, c1 = _timed(lambda: naive_segment_features(x, length, step))
        _, w2, c2 = _timed(lambda: _naive_pool(f, window, stride))
        naive.append((w1 + w2, c1 + c2))
        g, w3, c3 = _timed(lambda: segment_features(x, length, step))
        _, w4, c4 = _timed(lambda: pool_min_max(g, window, stride))
        fast.append((w3 + w4, c3 + c4))
    conn.send(dict(n=n, segments=len(f), naive_wall=statistics.median(a for a, _ in naive),
                   naive_cpu=statistics.median(b for _, b in naive),
                   fast_wall=statistics.median(a for a, _ in fast), fast_cpu=statistics.median(b for _, b in fast)))


def _identity_worker(conn, n, seed):
    from esa_adb_hier.features import segment_features
    x = make_series(n, seed)
    a = segment_features(x)                       # default blocks
    b = segment_features(x, block_size=10 ** 12)  # one block
    c = segment_features(x, block_size=50 * 997)  # odd block size
    conn.send(dict(n=n, blocked_equals_unblocked=bool(a.equals(b) and c.equals(b))))


def run_in_process(target, *args):
    "Run `target(conn, *args)` in a fresh spawned process; return what it sends."
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=target, args=(child, *args))
    p.start(); child.close()
    out = parent.recv()
    p.join()
    if p.exitcode: raise RuntimeError(f"{target.__name__}{args} failed with exit code {p.exitcode}")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    full = 200_000 if a.quick else MISSION1_SAMPLES
    sizes = [20_000, 50_000, 100_000, full] if a.quick else [500_000, 2_000_000, 8_000_000, full]
    naive_n = 5_000 if a.quick else 30_000
    out_path = a.out or (None if a.quick else RESULTS)
    load_before = os.getloadavg()
    t_start = time.perf_counter()

    configs = [(50, 10, 200, 20), (1000, 200, 10, 1), (2000, 400, 5, 1)]
    main_runs = {}
    for L, S, W, P in configs:
        r = run_in_process(_fast_worker, full, L, S, W, P, a.repeats, 0)
        main_runs[f"{L}/{S} pool {W}/{P}"] = r
        print(f"  {L}/{S} pool {W}/{P}: {r['median']['total_wall']:.2f} s wall, {r['median']['total_cpu']:.2f} s cpu, "
              f"peak {r['peak_rss_mb']:.0f} MB RSS, {r['traced_peak_mb']:.0f} MB traced", flush=True)
    scaling = []
    for n in sizes:
        r = main_runs["50/10 pool 200/20"] if n == full else run_in_process(_fast_worker, n, 50, 10, 200, 20,
                                                                            a.repeats, 0)
        scaling.append(dict(n=n, wall=r["median"]["total_wall"], cpu=r["median"]["total_cpu"],
                            peak_rss_mb=r["peak_rss_mb"], traced_peak_mb=r["traced_peak_mb"],
                            ns_per_sample_cpu=1e9 * r["median"]["total_cpu"] / n,
                            ns_per_sample_wall=1e9 * r["median"]["total_wall"] / n))
        print(f"  scaling n={n:>10,}: {scaling[-1]['cpu']:.2f} s cpu", flush=True)
    ns_, cpu_ = np.log([s["n"] for s in scaling]), np.log([s["cpu"] for s in scaling])
    exponent = float(np.polyfit(ns_, cpu_, 1)[0])
    naive = run_in_process(_naive_worker, naive_n, 50, 10, 200, 20, a.repeats, 0)
    m = main_runs["50/10 pool 200/20"]
    scale = m["segments"] / naive["segments"]
    naive["scaled_to_full_wall"] = naive["naive_wall"] * scale
    naive["scaled_to_full_cpu"] = naive["naive_cpu"] * scale
    naive["ratio_same_size_cpu"] = naive["naive_cpu"] / naive["fast_cpu"]
    naive["ratio_full_cpu"] = naive["scaled_to_full_cpu"] / m["median"]["total_cpu"]
    naive["ratio_full_wall"] = naive["scaled_to_full_wall"] / m["median"]["total_wall"]
    ident = run_in_process(_identity_worker, 200_000 if a.quick else 2_000_000, 0)

    result = dict(
        benchmark="features", quick=a.quick, repeats=a.repeats,
        machine=dict(platform=platform.platform(), processor=platform.processor(), cpus=os.cpu_count(),
                     python=platform.python_version(), numpy=np.__version__, threads=1,
                     loadavg_before=load_before, loadavg_after=os.getloadavg()),
        targets=dict(total_seconds=10.0, peak_memory_mb=3072),
        configs=main_runs, scaling=scaling, scaling_exponent_cpu=exponent,
        naive_reference=dict(**naive, note="naive per-window float64 reference timed on the short series and scaled "
                                           "linearly by the number of segments"),
        identity=ident, elapsed_s=time.perf_counter() - t_start)
    rows = [("configuration", "samples", "segments", "pooled rows", "wall s", "cpu s", "peak RSS MB", "traced MB")]
    for k, r in main_runs.items():
        rows.append((k, f"{r['n']:,}", f"{r['segments']:,}", f"{r['pooled_rows']:,}",
                     f"{r['median']['total_wall']:.2f}", f"{r['median']['total_cpu']:.2f}", f"{r['peak_rss_mb']:.0f}",
                     f"{r['traced_peak_mb']:.0f}"))
    for s in scaling:
        rows.append(("50/10 pool 200/20 (scaling)", f"{s['n']:,}", "", "", f"{s['wall']:.2f}", f"{s['cpu']:.2f}",
                     f"{s['peak_rss_mb']:.0f}", f"{s['traced_peak_mb']:.0f}"))
    rows.append((f"naive reference ({naive['n']:,} samples, scaled)", f"{m['n']:,}", "", "",
                 f"{naive['scaled_to_full_wall']:.0f}", f"{naive['scaled_to_full_cpu']:.0f}", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0: print("  ".join("-" * w for w in widths))
    print(f"speed-up vs naive (cpu): {naive['ratio_full_cpu']:.0f}x at full length, "
          f"{naive['ratio_same_size_cpu']:.0f}x at {naive['n']:,} samples; "
          f"cost ~ n^{exponent:.3f}; blocked == unblocked: {ident['blocked_equals_unblocked']}; load average "
          f"{load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}")
    if out_path is not None:
        from _common import write_result
        write_result(out_path, result, {**vars(a), "configs": configs})
        print(f"wrote {out_path}")
    return result


if __name__ == "__main__":
    main()
