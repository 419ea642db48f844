"""Benchmark of `esa_adb_hier.shapelets.shapelet_transform` (and mining) on one Mission-1-sized channel.

Cases: K=10 shapelets of lengths 30-40 on segments 50/10, and K=5 shapelets of length 1900 on segments 2000/400,
on a 14.7 M-sample float32 channel. Reported per case: median wall time over `--runs`, useful multiply-adds per
second (every needed window position x shapelet length, counted once) and as a fraction of the machine's peak,
measured in the same run as the median of 5 square matrix products of torch (N^3 multiply-adds / time) at the same
thread count; the ratio to the brute-force float64 reference
(`_reference_transform`) and to sktime's `RandomShapeletTransform`, both timed on fewer segments and scaled
linearly to the full channel (said so in the JSON). sktime's transform needs numba; when it cannot be imported
that comparison is recorded as missing. Peak memory via resource.getrusage. Both cases are timed with every
thread count of `--threads`; mining (3 M samples) with 1 thread. Results: benchmarks/results/shapelets.json.

    python benchmarks/bench_shapelets.py [--n 14700000] [--runs 3] [--threads 1 2]
"""
import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from esa_adb_hier.features import n_segments
from esa_adb_hier.shapelets import mine_shapelets, shapelet_transform
from esa_adb_hier.testing import _reference_transform


def telemetry(n, seed=0):
    "Telemetry-like float32 channel: offset, slow oscillation, random walk, quantisation, flat stretches."
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = 1.2e3 + 3 * np.sin(t / 2000) + np.cumsum(rng.standard_normal(n)) * 0.002 + 0.05 * rng.standard_normal(n)
    x = np.round(x, 2)
    flat = (t // 50_000) % 7 == 3
    x[flat] = x[flat][0] if flat.any() else 0.0
    return x.astype(np.float32)


def shapelet_bank(lengths, seed=1):
    rng = np.random.default_rng(seed)
    return [(lambda s: (s - s.mean()) / s.std())(np.cumsum(rng.standard_normal(int(L)))) for L in lengths]


def median_time(f, runs):
    ts = []
    for _ in range(runs):
        t = time.perf_counter(); out = f(); ts.append(time.perf_counter() - t)
    return float(np.median(ts)), ts, out


def peak_macs(dtype, n=4096, runs=5):
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    med, _, _ = median_time(lambda: a @ b, runs)
    return n ** 3 / med


def sktime_seconds_per_segment(x, length, step, lengths, k, m, seed=0):
    "sktime RandomShapeletTransform: fit on a small labelled panel of segments, time transform of m segments."
    try:
        from sktime.transformations.panel.shapelet_transform import RandomShapeletTransform
    except Exception as e:                                      # pragma: no cover - depends on numba being importable
        return None, f"unavailable: {type(e).__name__}: {str(e)[:120]}"
    idx = np.arange(n_segments(len(x), length, step))[:: max(1, n_segments(len(x), length, step) // (m + 60))]
    segs = np.stack([x[i * step:i * step + length] for i in idx]).astype(np.float64)[:, None, :]
    fit, test = segs[:60], segs[60:60 + m]
    rst = RandomShapeletTransform(n_shapelet_samples=400, max_shapelets=k, min_shapelet_length=min(lengths),
                                  max_shapelet_length=max(max(lengths), min(lengths) + 1), random_state=seed)
    rst.fit(fit, np.arange(len(fit)) % 2)
    rst.transform(test[:5])                                     # compile
    med, _, out = median_time(lambda: rst.transform(test), 1)
    found = len(rst.shapelets)                                  # it drops self-similar ones: scale to k shapelets
    return med / len(test) * k / found, (f"{found} shapelets of lengths {sorted({s[1] for s in rst.shapelets})}, "
                                         "timed on "
                                         f"{len(test)} segments, scaled x{k / found:.2f} to {k} shapelets, 1 feature "
                                         "per shapelet")


def run_case(name, x, shp, length, step, runs, threads, ref_segments, sk_segments):
    n, K = len(x), len(shp)
    lens = np.array([len(s) for s in shp])
    nseg = n_segments(n, length, step)
    P = length - lens + 1
    positions = np.minimum((nseg - 1) * step + P, n - lens + 1) if (P > step).all() else nseg * P
    useful = float((positions * lens).sum())
    rows = {}
    for th in threads:
        torch.set_num_threads(th)
        pk32, pk64 = peak_macs(torch.float32), peak_macs(torch.float64, 2048)
        med, ts, out = median_time(lambda: shapelet_transform(x, shp, length=length, step=step), runs)
        prec = "float32" if lens.max() <= 256 else "float64"
        pk = pk32 if prec == "float32" else pk64
        rows[th] = dict(threads=th, seconds_median=med, seconds_all=ts, useful_macs=useful, macs_per_s=useful / med,
                        peak_macs_per_s_float32=pk32, peak_macs_per_s_float64=pk64, gemm_precision=prec,
                        fraction_of_peak=useful / med / pk, shape=list(out.shape))
        print(f"  {name} threads={th}: {med:.2f} s ({useful / med / 1e9:.2f} GMAC/s useful, "
              f"{100 * useful / med / pk:.1f} % of {prec} peak {pk / 1e9:.1f} GMAC/s)", flush=True)
    best = min(rows.values(), key=lambda r: r["seconds_median"])
    torch.set_num_threads(best["threads"])
    # brute force on the first ref_segments segments, scaled linearly
    xr = x[: (ref_segments - 1) * step + length]
    tr, _, ref = median_time(lambda: _reference_transform(xr, shp, length=length, step=step), 1)
    ours_small = shapelet_transform(xr, shp, length=length, step=step)
    ref_full = tr * nseg / ref_segments
    try: sk_per_seg, sk_note = sktime_seconds_per_segment(x, length, step, lens, K, sk_segments)
    except Exception as e: sk_per_seg, sk_note = None, f"failed: {type(e).__name__}: {str(e)[:160]}"
    res = dict(case=name, n_samples=n, n_segments=nseg, K=K, lengths=lens.tolist(), length=length, step=step,
               runs=runs, by_threads=list(rows.values()), best_threads=best["threads"], seconds=best["seconds_median"],
               max_abs_error_vs_reference=float(np.nanmax(np.abs(ours_small - ref))),
               reference_seconds_scaled=ref_full, reference_note=f"brute force float64 timed on {ref_segments} "
                                                                 f"segments, scaled x{nseg / ref_segments:.0f}",
               speedup_vs_reference=ref_full / best["seconds_median"])
    if sk_per_seg is not None:
        res.update(sktime_seconds_scaled=sk_per_seg * nseg, sktime_note=sk_note + f", scaled to {nseg} segments",
                   speedup_vs_sktime=sk_per_seg * nseg / best["seconds_median"])
    else:
        res.update(sktime_seconds_scaled=None, sktime_note=sk_note)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=14_700_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "shapelets.json"))
    a = ap.parse_args(argv)
    x = telemetry(a.n)
    results = dict(machine=dict(platform=platform.platform(), processor=platform.processor(), cpus=os.cpu_count(),
                                torch=torch.__version__, load_average_at_start=os.getloadavg(),
                                gpu="none available in this run" if not torch.cuda.is_available()
                                else torch.cuda.get_device_name()),
                   peak_method="median of 5 torch square matmuls (float32 n=4096, float64 n=2048) at the same thread "
                               "count, n^3 multiply-adds / time",
                   cases=[])
    print(f"channel of {a.n:,} samples; load average {os.getloadavg()}", flush=True)
    short = shapelet_bank(np.linspace(30, 40, 10).round())
    results["cases"].append(run_case("K=10 L=30-40 segments 50/10", x, short, 50, 10, a.runs, a.threads, 20_000,
                                     2_000))
    long = shapelet_bank([1900] * 5, seed=2)
    results["cases"].append(run_case("K=5 L=1900 segments 2000/400", x, long, 2000, 400, a.runs, a.threads, 40, 40))
    # mining on a 3 M-sample block with a few hundred anomalous segments
    n = 3_000_000
    xm = telemetry(n, seed=5).astype(np.float64)
    y = np.zeros(n, np.uint8)
    rng = np.random.default_rng(6)
    for s in np.sort(rng.choice(np.arange(1000, n - 1000, 5000), 60, replace=False)):
        L = int(rng.integers(20, 60)); xm[s:s + L] += np.where(np.arange(L) < L // 2, 0.5, -0.5); y[s:s + L] = 1
    torch.set_num_threads(1)
    tm, _, (sh, info) = median_time(lambda: mine_shapelets(xm, y, k=10, return_info=True), 1)
    results["mining"] = dict(n_samples=n, seconds=tm, threads=1, **{k: int(v) if isinstance(v, (int, np.integer))
                                                                    else v for k, v in info.attrs.items()})
    print(f"  mining 3 M samples: {tm:.2f} s ({info.attrs})", flush=True)
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["load_average_at_end"] = os.getloadavg()
    from _common import write_result
    write_result(a.out, results, vars(a))
    print(f"\n{'case':32s} {'threads':>7s} {'seconds':>8s} {'GMAC/s':>7s} {'% peak':>7s} {'x brute':>8s} "
          f"{'x sktime':>9s} {'max err':>8s}")
    for c in results["cases"]:
        for r in c["by_threads"]:                               # ratios against each thread count's own time
            sec = r["seconds_median"]
            sk = f"{c['sktime_seconds_scaled'] / sec:9.0f}" if c.get("sktime_seconds_scaled") else f"{'n/a':>9s}"
            print(f"{c['case']:32s} {r['threads']:7d} {sec:8.2f} {r['macs_per_s'] / 1e9:7.2f} "
                  f"{100 * r['fraction_of_peak']:7.1f} "
                  f"{c['reference_seconds_scaled'] / sec:8.0f} {sk} {c['max_abs_error_vs_reference']:8.1e}")
    print(f"peak RSS {results['peak_rss_mb']:.0f} MB -> {a.out}")


if __name__ == "__main__":
    main()
