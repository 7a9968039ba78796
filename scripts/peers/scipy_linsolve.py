#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""SciPy peers of numlab's linear solvers, on the points of a numlab config.

Methods (each once per problem of the config):
  scipy_solve    scipy.linalg.solve on the dense matrix (LAPACK gesv through
                 SciPy's BLAS/LAPACK); setup = CSR -> dense copy, as numlab's
                 gauss_elim / reference; skipped above --max-dense-gib
  scipy_spsolve  scipy.sparse.linalg.spsolve (SuperLU, COLAMD ordering);
                 setup = CSR -> CSC

The matrices follow numlab's generators (see linsys.py: the same recipe and
sizes, NumPy's random numbers; poisson2d and Matrix Market files are the same
matrices). Metrics as numlab's dense methods: setup_seconds_median,
solve_seconds_median|min|mean, gflops (2/3 N^3, scipy_solve), rel_error,
rel_residual, n_rows, nnz, density_actual, dominance_margin,
dominant_row_fraction; datasets times_seconds and setup_times_seconds.
status: solved, singular, skipped or failed (with reason).

Usage:
  scipy_linsolve.py CONFIG.yaml [-o OUT.h5] [--methods scipy_solve,scipy_spsolve]
                    [--warmup W] [--repetitions R] [--overwrite | --resume]
  scipy_linsolve.py --dense 500,2000 [--poisson 1000000] [--density 0.01]
                    [--dominance strict] [--seed 42] -o OUT.h5
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np
import scipy
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import linsys  # noqa: E402
import peer_h5  # noqa: E402

METHODS = ["scipy_solve", "scipy_spsolve"]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_point(pt, system_of, args, warmup, reps):
    try:
        a, b, x_true, note = system_of(pt["params"], pt["derived"])
    except MemoryError as e:
        return peer_h5.PointResult.failed(f"out of memory building the matrix: {e}")
    except (ValueError, OSError) as e:
        return peer_h5.PointResult.failed(f"cannot build the matrix: {e}")
    n = a.shape[0]
    diag = linsys.diagnostics(a)
    if pt["method"] == "scipy_solve":
        gib = float(n) * n * 8 / 2**30
        if gib > args.max_dense_gib:
            return peer_h5.PointResult.skipped(
                f"the dense matrix needs {gib:.1f} GiB > --max-dense-gib = {args.max_dense_gib}", **diag)
        setup = lambda: a.toarray()  # noqa: E731
        solve = lambda m: scipy.linalg.solve(m, b)  # noqa: E731
    else:
        setup = lambda: a.tocsc()  # noqa: E731
        solve = lambda m: scipy.sparse.linalg.spsolve(m, b)  # noqa: E731
    setup_t, solve_t = [], []
    x = None
    try:
        for rep in range(warmup + reps):
            m, ts = timed(setup)
            x, tv = timed(lambda: solve(m))
            del m
            if rep >= warmup:
                setup_t.append(ts)
                solve_t.append(tv)
    except np.linalg.LinAlgError as e:
        return peer_h5.PointResult("singular", str(e), diag)
    except MemoryError as e:
        return peer_h5.PointResult.failed(f"out of memory: {e}", **diag)
    r = peer_h5.PointResult("solved")
    r.metrics["setup_seconds_median"] = peer_h5.summarize(setup_t)["median"]
    r.metrics.update(peer_h5.time_metrics("solve", solve_t))
    if pt["method"] == "scipy_solve":
        med = r.metrics["solve_seconds_median"]
        r.metrics["gflops"] = (2.0 / 3.0) * float(n) ** 3 / med * 1e-9 if med > 0 else 0.0
    x = np.asarray(x, dtype=np.float64).ravel()
    if not np.all(np.isfinite(x)):
        r.status, r.reason = "singular", "the solution has non-finite entries (singular matrix)"
    r.metrics.update(linsys.accuracy(a, x, b, x_true))
    r.metrics.update(diag)
    r.metrics["matrix_note"] = note
    r.arrays["times_seconds"] = solve_t
    r.arrays["setup_times_seconds"] = setup_t
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    peer_h5.add_common_args(ap, METHODS)
    linsys.add_direct_args(ap, "scipy_linsolve", ", e.g. 500,2000", ", e.g. 1000000")
    args = ap.parse_args(argv)
    methods = peer_h5.parse_methods(args.methods, METHODS)

    try:
        if args.config:
            cfg = peer_h5.load_config_of_kind(args, "linsolve")
            problems, name, resolve, derived_of = cfg.problems, cfg.name, cfg.resolve_path, cfg.derived_of
        else:
            dense, pois = linsys.direct_sizes(ap, args, peer_h5.parse_int_list)
            cfg = None
            expanded = peer_h5.expand_problems(
                "linsolve", linsys.direct_problems(dense, pois, args.density, args.dominance, args.seed), args.numlab)
            problems = [p for p, _ in expanded]
            derived = {peer_h5.canonical_key(p): d for p, d in expanded}
            derived_of = lambda p: derived[peer_h5.canonical_key(p)]  # noqa: E731
            name, resolve = args.name or "scipy_linsolve", (lambda p: p)
        warmup, reps = peer_h5.timing_counts(args, cfg)
        args.max_dense_gib = linsys.max_dense_gib(args, args.numlab)
    except peer_h5.ConfigError as e:
        print(f"scipy_linsolve: error: {e}", file=sys.stderr)
        return 2
    points = peer_h5.peer_points(problems, methods, derived_of=derived_of)
    if args.dry_run:
        peer_h5.print_points(points)
        return 0
    out = args.output or peer_h5.default_output(name, "scipy")
    root = peer_h5.base_root_attrs("scipy", "linsolve", name, cfg, warmup, reps, len(points))
    root["scipy_version"] = scipy.__version__
    root["max_dense_gib"] = args.max_dense_gib
    try:
        pfile = peer_h5.PeerFile(out, root, peer_h5.output_mode(args))
    except FileExistsError as e:
        print(f"scipy_linsolve: error: {e}", file=sys.stderr)
        return 2

    cache = {}

    def system_of(params, derived):  # one matrix per problem, shared by the methods
        key = peer_h5.canonical_key({k: v for k, v in params.items()})
        if key not in cache:
            cache.clear()
            cache[key] = linsys.make_system(params, resolve, derived)
        return cache[key]

    warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
    rc = peer_h5.run_points(pfile, points, lambda pt: run_point(pt, system_of, args, warmup, reps), args)
    if not args.quiet:
        print(f"wrote {out} ({len(points)} points)")
    return rc


if __name__ == "__main__":
    sys.exit(main())
