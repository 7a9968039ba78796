#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""PyTorch (GPU) peers of numlab's linear solvers; writes numlab's HDF5 schema
(peer = 'torch').

Methods:
  torch_solve    torch.linalg.solve in fp64 on the GPU (cuSOLVER getrf/getrs) on
                 the dense matrix of the problem, as numlab's `reference` method
                 on CUDA: setup = sparse CSR -> dense on the GPU (to_dense), solve
                 = factor + solve; both timed with CUDA events every repetition.
                 Metrics: setup_seconds_median, solve_seconds_median|min|mean,
                 gflops (2/3 N^3), rel_error, rel_residual (host, fp64); status
                 solved / singular / skipped (above --max-dense-gib) / failed.
  cusparse_spmv  one y = A x with A a torch.sparse_csr_tensor on the GPU (fp64
                 values, int32 indices where they fit: cuSPARSE SpMV), the
                 yardstick for numlab's Gauss-Seidel sweeps. Metrics:
                 spmv_seconds_median|min|mean, bytes_per_spmv (values + column
                 indices + row offsets + x read + y written), spmv_bandwidth_GBps,
                 spmv_gflops (2 nnz), spmv_rel_error (vs SciPy's A x on the host).
Datasets: times_seconds (solve or SpMV), setup_times_seconds (torch_solve).

Problems: every problem of a linsolve config (matrices as numlab's generators,
see linsys.py: same recipe, NumPy's random numbers; poisson2d and Matrix Market
are the same matrices), or the direct mode: --dense sizes (random_sparse,
torch_solve only) and --poisson sizes (poisson2d, cusparse_spmv only).

Usage:
  torch_linsolve.py CONFIG.yaml [-o OUT.h5] [--methods torch_solve,cusparse_spmv]
                    [--warmup W] [--repetitions R] [--overwrite | --resume]
  torch_linsolve.py --dense 2000,8192,16384 --poisson 1000000,10000000 -o OUT.h5
Exit codes: 0 done, 2 usage / no CUDA / no torch, 3 some point failed.
"""
import argparse
import gc
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import linsys  # noqa: E402
import peer_h5  # noqa: E402

try:
    import torch
    _TORCH_IMPORT_ERROR = None
except ImportError as _e:
    torch = None
    _TORCH_IMPORT_ERROR = _e

METHODS = ["torch_solve", "cusparse_spmv"]
DEVICE = None  # torch.device; 'cpu' only to test the script without a GPU (hidden --device cpu)


def on_cuda():
    return DEVICE is None or DEVICE.type == "cuda"


def is_oom(e):
    oom = getattr(torch.cuda, "OutOfMemoryError", None) or getattr(torch, "OutOfMemoryError", None)
    return (oom is not None and isinstance(e, oom)) or "out of memory" in str(e).lower()


def free_memory():
    gc.collect()
    if on_cuda():
        torch.cuda.empty_cache()


def timed(fn):
    """(result, seconds) of fn(): CUDA events on the GPU, perf_counter on the CPU test device."""
    if not on_cuda():
        t0 = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - t0
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    out = fn()
    end.record()
    end.synchronize()
    return out, start.elapsed_time(end) * 1e-3


def to_torch_csr(a):
    """scipy CSR -> torch CSR on DEVICE (int32 indices where they fit)."""
    idx = np.int32 if a.nnz < 2**31 and a.shape[0] < 2**31 else np.int64
    crow = torch.from_numpy(np.ascontiguousarray(a.indptr, dtype=idx))
    col = torch.from_numpy(np.ascontiguousarray(a.indices, dtype=idx))
    val = torch.from_numpy(np.ascontiguousarray(a.data, dtype=np.float64))
    t = torch.sparse_csr_tensor(crow, col, val, size=a.shape, dtype=torch.float64)
    return t.to(DEVICE), np.dtype(idx).itemsize


def spmv_op(A, x):
    """(name, fn) of the first SpMV form this torch runs: torch.mv (addmv: cuSPARSE
    SpMV on CUDA), else a one-column sparse @ dense (SpMM)."""
    ops = (("torch.mv", lambda: torch.mv(A, x)),
           ("A @ x[:, None]", lambda: (A @ x.unsqueeze(1)).squeeze(1)))
    errors = []
    for name, fn in ops:
        try:
            fn()
            return name, fn
        except RuntimeError as e:
            if is_oom(e):
                raise
            errors.append(f"{name}: {e}")
    raise RuntimeError("no sparse CSR matrix-vector product runs here: " + " | ".join(errors))


def run_solve(a, b, x_true, diag, args, warmup, reps):
    n = a.shape[0]
    gib = float(n) * n * 8 / 2**30
    if gib > args.max_dense_gib:
        return peer_h5.PointResult.skipped(
            f"the dense matrix needs {gib:.1f} GiB > --max-dense-gib = {args.max_dense_gib}", **diag)
    A, _ = to_torch_csr(a)
    bt = torch.from_numpy(np.asarray(b, dtype=np.float64)).to(DEVICE)
    lin_err = getattr(torch.linalg, "LinAlgError", None)
    setup_t, solve_t, x = [], [], None
    try:
        for rep in range(warmup + reps):
            Ad, ts = timed(lambda: A.to_dense())
            x, tv = timed(lambda: torch.linalg.solve(Ad, bt))
            del Ad
            if rep >= warmup:
                setup_t.append(ts)
                solve_t.append(tv)
    except RuntimeError as e:
        if lin_err is not None and isinstance(e, lin_err) or "singular" in str(e).lower():
            return peer_h5.PointResult("singular", str(e)[:2000], diag)
        raise
    r = peer_h5.PointResult("solved")
    r.metrics["setup_seconds_median"] = peer_h5.summarize(setup_t)["median"]
    r.metrics.update(peer_h5.time_metrics("solve", solve_t))
    med = r.metrics["solve_seconds_median"]
    r.metrics["gflops"] = (2.0 / 3.0) * float(n) ** 3 / med * 1e-9 if med > 0 else 0.0
    xh = x.cpu().numpy().astype(np.float64)
    if not np.all(np.isfinite(xh)):
        r.status, r.reason = "singular", "the solution has non-finite entries (singular matrix)"
    r.metrics.update(linsys.accuracy(a, xh, b, x_true))
    r.metrics.update(diag)
    r.arrays["times_seconds"] = solve_t
    r.arrays["setup_times_seconds"] = setup_t
    return r


def run_spmv(a, diag, warmup, reps):
    n = a.shape[0]
    A, isz = to_torch_csr(a)
    xh = np.random.default_rng(0).uniform(-1.0, 1.0, size=n)
    x = torch.from_numpy(xh).to(DEVICE)
    op_name, op = spmv_op(A, x)
    times, y = [], None
    for rep in range(warmup + reps):
        y = None
        y, t = timed(op)
        if rep >= warmup:
            times.append(t)
    r = peer_h5.PointResult("ok")
    r.metrics.update(peer_h5.time_metrics("spmv", times))
    nbytes = a.nnz * (8 + isz) + (n + 1) * isz + 2 * n * 8
    med = r.metrics["spmv_seconds_median"]
    r.metrics["bytes_per_spmv"] = int(nbytes)
    r.metrics["spmv_bandwidth_GBps"] = nbytes / med * 1e-9 if med > 0 else 0.0
    r.metrics["spmv_gflops"] = 2.0 * a.nnz / med * 1e-9 if med > 0 else 0.0
    r.metrics["index_bytes"] = int(isz)
    r.metrics["spmv_op"] = op_name
    ref = a @ xh
    rn = np.linalg.norm(ref)
    err = np.linalg.norm(y.cpu().numpy() - ref)
    r.metrics["spmv_rel_error"] = float(err / rn if rn > 0 else err)
    r.metrics.update(diag)
    r.arrays["times_seconds"] = times
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    peer_h5.add_common_args(ap, METHODS)
    linsys.add_direct_args(ap, "torch_linsolve", " for torch_solve, e.g. 2000,16384",
                           " for cusparse_spmv, e.g. 1e6,1e7")
    ap.add_argument("--device", default="cuda", help=argparse.SUPPRESS)  # cpu: tests without a GPU
    args = ap.parse_args(argv)
    methods = peer_h5.parse_methods(args.methods, METHODS)
    try:
        if args.config:
            cfg = peer_h5.load_config_of_kind(args, "linsolve")
            name, resolve = cfg.name, cfg.resolve_path
            points = peer_h5.peer_points(cfg.problems, methods, derived_of=cfg.derived_of)
        else:
            dense, pois = linsys.direct_sizes(ap, args, peer_h5.parse_int_list)
            cfg, name, resolve = None, args.name or "torch_linsolve", (lambda p: p)
            points = []
            for probs, ms in ((linsys.direct_problems(dense, (), args.density, args.dominance, args.seed),
                               [m for m in methods if m == "torch_solve"]),
                              (linsys.direct_problems((), pois, seed=args.seed),
                               [m for m in methods if m == "cusparse_spmv"])):
                expanded = peer_h5.expand_problems("linsolve", probs, args.numlab) if probs and ms else []
                derived = {peer_h5.canonical_key(p): d for p, d in expanded}
                for p in peer_h5.peer_points([p for p, _ in expanded], ms,
                                             derived_of=lambda p: derived[peer_h5.canonical_key(p)]):
                    p["index"] = len(points)
                    points.append(p)
        warmup, reps = peer_h5.timing_counts(args, cfg)
        args.max_dense_gib = linsys.max_dense_gib(args, args.numlab)
    except peer_h5.ConfigError as e:
        print(f"torch_linsolve: error: {e}", file=sys.stderr)
        return 2

    if args.dry_run:
        peer_h5.print_points(points)
        return 0
    if torch is None:
        print(f"torch_linsolve: PyTorch is not importable ({_TORCH_IMPORT_ERROR})", file=sys.stderr)
        return 2
    global DEVICE
    DEVICE = torch.device(args.device)
    if on_cuda() and not torch.cuda.is_available():
        print("torch_linsolve: no CUDA device visible to PyTorch", file=sys.stderr)
        return 2

    root = peer_h5.base_root_attrs("torch", "linsolve", name, cfg, warmup, reps, len(points))
    if on_cuda():
        root["device"] = torch.cuda.get_device_name()
        root["device_memory_bytes"] = int(torch.cuda.get_device_properties(0).total_memory)
    else:
        root["torch_device"] = "cpu (test run)"
    root["torch_version"] = torch.__version__
    root["cuda_version"] = str(torch.version.cuda)
    root["max_dense_gib"] = args.max_dense_gib
    root["timing"] = "CUDA events around each call; warmup untimed runs, then repetitions"
    out = args.output or peer_h5.default_output(name, "torch")
    try:
        pfile = peer_h5.PeerFile(out, root, peer_h5.output_mode(args))
    except FileExistsError as e:
        print(f"torch_linsolve: error: {e}", file=sys.stderr)
        return 2

    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    cache = {}

    def one(pt):
        key = peer_h5.canonical_key(pt["params"])
        try:
            if key not in cache:
                cache.clear()
                free_memory()
                a, b, x_true, note = linsys.make_system(pt["params"], resolve, pt["derived"])
                cache[key] = (a, b, x_true, note, linsys.diagnostics(a))
            a, b, x_true, note, diag = cache[key]
            if pt["method"] == "torch_solve":
                r = run_solve(a, b, x_true, diag, args, warmup, reps)
            else:
                r = run_spmv(a, diag, warmup, reps)
            r.metrics["matrix_note"] = note
            return r
        except MemoryError as e:
            return peer_h5.PointResult.failed(f"out of host memory: {e}")
        except Exception as e:  # noqa: BLE001 - recorded as the point's reason; the sweep goes on
            if torch is not None and is_oom(e):
                free_memory()
                return peer_h5.PointResult.failed(f"out of memory: {str(e)[:2000]}")
            return peer_h5.PointResult.failed(f"{type(e).__name__}: {str(e)[:2000]}")

    rc = peer_h5.run_points(pfile, points, one, args)
    if not args.quiet:
        print(f"wrote {out} ({len(points)} points)")
    return rc


if __name__ == "__main__":
    sys.exit(main())
