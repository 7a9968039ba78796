#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""NumPy peer of numlab's standard attention, on the points of a numlab attention config.

Method (once per problem of the config):
  numpy_standard  S = scale Q K^T (one BLAS GEMM per head through NumPy's matmul), row softmax
                  in place (max subtracted), O = P V, in the point's dtype (float32 or float64;
                  other dtypes: skipped). Causal masks bottom-right aligned as numlab's (query i
                  sees keys j <= i + N_kv - N; a row without keys gives O = 0).

Metrics: forward_seconds_median|min|mean, forward_tflops (4 B H N N_kv D, halved for causal),
O_max_abs_error and O_rel_fro_error against the same computation in float64 (unless the point
says reference: false), peak_host_rss_bytes is not measured. Inputs: standard normal Q, K, V of
the point's shape from numpy.random.default_rng(seed), seed+1, seed+2 (numlab's seeding, not
numlab's numbers); inputs.path: Q, K, V from that HDF5 file, as numlab reads them.

Usage:
  numpy_attention.py CONFIG.yaml [-o OUT.h5] [--warmup W] [--repetitions R] [--overwrite | --resume]
"""
import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_h5  # noqa: E402

METHODS = ["numpy_standard"]
DTYPES = {"float32": np.float32, "float64": np.float64}


def standard_attention(q, k, v, causal):
    """O of standard attention on [B, H, N, D] arrays, in their dtype."""
    n, n_kv, d = q.shape[2], k.shape[2], q.shape[3]
    s = np.matmul(q, np.swapaxes(k, -1, -2))
    s *= q.dtype.type(1.0 / math.sqrt(d))
    if causal:
        visible = np.arange(n_kv)[None, :] <= (np.arange(n)[:, None] + (n_kv - n))
        s = np.where(visible, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    np.exp(s - m, out=s)
    total = s.sum(axis=-1, keepdims=True)
    s /= np.where(total > 0, total, 1)
    return np.matmul(s, v)


def inputs_of(params, resolve, dtype):
    if params.get("path"):
        import h5py
        with h5py.File(resolve(params["path"]), "r") as f:
            return tuple(np.asarray(f[x], dtype=dtype) for x in ("Q", "K", "V"))
    b, h, n, d = (int(params[x]) for x in ("B", "H", "N", "D"))
    n_kv = int(params.get("N_kv") or n)
    seed = int(params.get("seed", 0))
    shapes = ((b, h, n, d), (b, h, n_kv, d), (b, h, n_kv, d))
    return tuple(np.random.default_rng(seed + i).standard_normal(s).astype(dtype) for i, s in enumerate(shapes))


def error_norms(x, ref):
    d = x.astype(np.float64) - ref
    if not np.isfinite(d).all():
        return math.inf, math.inf
    rn = float(np.linalg.norm(ref))
    return float(np.abs(d).max()) if d.size else 0.0, float(np.linalg.norm(d)) / (rn if rn > 0 else 1.0)


def run_point(pt, resolve, warmup, reps):
    p = pt["params"]
    dtype = DTYPES.get(str(p.get("dtype", "float32")))
    if dtype is None:
        return peer_h5.PointResult.skipped(f"dtype {p.get('dtype')}: NumPy has no such matmul (float32, float64 only)")
    causal = bool(p.get("causal", False))
    try:
        q, k, v = inputs_of(p, resolve, dtype)
    except (OSError, KeyError, ValueError) as e:
        return peer_h5.PointResult.failed(f"cannot read or make the inputs: {e}")
    times, o = [], None
    for rep in range(warmup + reps):
        t0 = time.perf_counter()
        o = standard_attention(q, k, v, causal)
        if rep >= warmup:
            times.append(time.perf_counter() - t0)
    b, h, n, d = q.shape
    flops = peer_h5.attention_forward_flops(b, h, n, k.shape[2], d, causal)
    r = peer_h5.PointResult("ok", "", peer_h5.time_metrics("forward", times, flops))
    if o is None:
        o = standard_attention(q, k, v, causal)
    if p.get("reference", True) is not False:
        ref = standard_attention(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64), causal)
        r.metrics["O_max_abs_error"], r.metrics["O_rel_fro_error"] = error_norms(o, ref)
    r.arrays["times_seconds"] = times
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    peer_h5.add_common_args(ap, METHODS)
    args = ap.parse_args(argv)
    methods = peer_h5.parse_methods(args.methods, METHODS)
    if not args.config:
        ap.error("a numlab attention config is required")
    try:
        cfg = peer_h5.load_config_of_kind(args, "attention")
        warmup, reps = peer_h5.timing_counts(args, cfg)
    except peer_h5.ConfigError as e:
        print(f"numpy_attention: error: {e}", file=sys.stderr)
        return 2
    points = peer_h5.peer_points(cfg.problems, methods, derived_of=cfg.derived_of)
    if args.dry_run:
        peer_h5.print_points(points)
        return 0
    out = args.output or peer_h5.default_output(cfg.name, "numpy")
    root = peer_h5.base_root_attrs("numpy", "attention", cfg.name, cfg, warmup, reps, len(points))
    root["peer_label"] = "NumPy standard attention (matmul on NumPy's BLAS)"
    try:
        pfile = peer_h5.PeerFile(out, root, peer_h5.output_mode(args))
    except FileExistsError as e:
        print(f"numpy_attention: error: {e}", file=sys.stderr)
        return 2
    rc = peer_h5.run_points(pfile, points, lambda pt: run_point(pt, cfg.resolve_path, warmup, reps), args)
    if not args.quiet:
        print(f"wrote {out} ({len(points)} points)")
    return rc


if __name__ == "__main__":
    sys.exit(main())
