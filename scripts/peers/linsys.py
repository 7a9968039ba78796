# SPDX-License-Identifier: MIT
"""The linear systems of numlab's `linsolve` problems, built with NumPy/SciPy.

Same semantics as src/linsolve/generators.cpp, not the same random numbers
(numlab draws from its own mt19937_64 streams):

  random_sparse  N, density, the effective dominance factor numlab derives
                 (dominance_factor_effective of its dry run), seed: row i gets
                 Binomial(N-1, p) distinct off-diagonal columns, p = min(1, density N / (N-1)),
                 values uniform in [-1, 1), a_ii = factor * sum_j |a_ij| (1 for an empty row)
  poisson2d      5-point stencil (4 on the diagonal, -1 to the grid neighbours)
                 on an nx x ny grid, nx the largest divisor of N not above sqrt N
  matrix_market  path (and optional rhs, solution), read with scipy.io.mmread

b = A x_true with x_true uniform in [-1, 1) (seeded with seed + 1 as numlab),
unless the Matrix Market rhs is given. The problems are complete (numlab's
defaults filled in by its dry run: peer_h5.load_config / expand_problems).
"""
import math

import numpy as np
import scipy.io
import scipy.sparse as sp

GENERATOR_NOTE = {
    "random_sparse": "numlab's random_sparse recipe with NumPy's RNG: same N, density and dominance factor, "
                     "different entries",
    "poisson2d": "the same matrix as numlab (deterministic); x_true from NumPy's RNG",
    "matrix_market": "the same Matrix Market file",
}


def dominance_factor(derived):
    """The diagonal dominance factor numlab derives for the problem (its dry run's
    dominance_factor_effective)."""
    if not derived or derived.get("dominance_factor_effective") is None:
        raise ValueError("no dominance_factor_effective from numlab's expansion of the problem")
    return float(derived["dominance_factor_effective"])


def random_sparse(n, density, factor, seed):
    """CSR (float64, sorted indices) with numlab's random_sparse distribution."""
    n = int(n)
    rng = np.random.default_rng([int(seed), 0x636f756e74730001])
    m = n - 1  # off-diagonal candidates per row
    p = 0.0 if m == 0 else min(1.0, density * n / m)
    counts = rng.binomial(m, p, size=n) if m > 0 else np.zeros(n, dtype=np.int64)
    rows, cols = _distinct_columns(rng, counts, m)
    cols = cols + (cols >= rows)  # skip the diagonal column
    vals = rng.uniform(-1.0, 1.0, size=rows.size)
    off_sum = np.bincount(rows, weights=np.abs(vals), minlength=n)
    diag = np.where(off_sum == 0.0, 1.0, factor * off_sum)
    r = np.concatenate([rows, np.arange(n)])
    c = np.concatenate([cols, np.arange(n)])
    v = np.concatenate([vals, diag])
    a = sp.csr_matrix((v, (r, c)), shape=(n, n))
    a.sort_indices()
    return a


def _distinct_columns(rng, counts, m):
    """For row i, counts[i] distinct integers uniform in [0, m): (rows, cols) sorted by (row, col).

    Draws with replacement, drops repeats, redraws what is missing: every subset
    of a row's size stays equally likely. Nearly full rows are drawn by permutation."""
    n = counts.size
    if m == 0 or counts.sum() == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    dense_rows = np.nonzero(counts > m // 2)[0]
    sparse_counts = counts.copy()
    sparse_counts[dense_rows] = 0
    rows = np.repeat(np.arange(n, dtype=np.int64), sparse_counts)
    keys = rows * m + rng.integers(0, m, size=rows.size)
    while True:
        keys = np.unique(keys)
        have = np.bincount(keys // m, minlength=n)
        missing = sparse_counts - have
        if not missing.any():
            break
        extra = np.repeat(np.arange(n, dtype=np.int64), missing)
        keys = np.concatenate([keys, extra * m + rng.integers(0, m, size=extra.size)])
    parts = [keys]
    for i in dense_rows:
        parts.append(i * m + np.sort(rng.permutation(m)[: counts[i]]))
    keys = np.sort(np.concatenate(parts))
    return keys // m, keys % m


def poisson_grid(n):
    """numlab's poisson_grid_for: nx the largest divisor of N with nx <= sqrt N."""
    n = int(n)
    root = math.isqrt(n)
    for nx in range(root, 0, -1):
        if n % nx == 0:
            return nx, n // nx
    return 1, n


def poisson2d(nx, ny):
    """5-point Laplacian, row r = j nx + i, as numlab's poisson2d."""
    tx = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(nx, nx))
    ty = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(ny, ny))
    a = (sp.kron(sp.identity(ny), tx) + sp.kron(ty, sp.identity(nx))).tocsr()
    a.sort_indices()
    return a


def _read_vector(path):
    v = scipy.io.mmread(path)
    v = v.toarray() if sp.issparse(v) else np.asarray(v)
    return np.asarray(v, dtype=np.float64).ravel()


def make_system(problem, resolve=lambda p: p, derived=None):
    """(A as CSR float64, b, x_true or None, note) for a complete linsolve problem dict and
    numlab's derived values of it."""
    gen = problem["generator"]
    seed = int(problem["seed"])
    x_true = None
    if gen == "matrix_market":
        a = scipy.io.mmread(resolve(problem["path"]))
        a = sp.csr_matrix(a, dtype=np.float64)
        if a.shape[0] != a.shape[1]:
            raise ValueError(f"Matrix Market matrix is not square: {a.shape[0]} x {a.shape[1]}")
        a.sort_indices()
        if problem.get("rhs"):
            b = _read_vector(resolve(problem["rhs"]))
            if problem.get("solution"):
                x_true = _read_vector(resolve(problem["solution"]))
            if b.size != a.shape[0] or (x_true is not None and x_true.size != a.shape[0]):
                raise ValueError("rhs / solution length does not match the matrix size")
            return a, b, x_true, GENERATOR_NOTE[gen]
        xseed = seed
    elif gen == "poisson2d":
        a = poisson2d(*poisson_grid(problem["N"]))
        xseed = seed + 1
    elif gen == "random_sparse":
        a = random_sparse(problem["N"], float(problem["density"]), dominance_factor(derived), seed)
        xseed = seed + 1
    else:
        raise ValueError(f"unknown generator {gen!r}")
    x_true = np.random.default_rng([xseed, 0x736f6c7574690003]).uniform(-1.0, 1.0, size=a.shape[0])
    b = a @ x_true
    return a, b, x_true, GENERATOR_NOTE[gen]


def diagnostics(a):
    """numlab's matrix diagnostics: n_rows, nnz, density_actual, dominance_margin, dominant_row_fraction."""
    a = sp.csr_matrix(a)
    n = a.shape[0]
    diag = np.abs(a.diagonal())
    abs_rows = np.asarray(abs(a).sum(axis=1)).ravel()
    off = abs_rows - diag
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = np.where(diag == 0.0, -np.inf, (diag - off) / diag)
    return {
        "n_rows": int(n),
        "nnz": int(a.nnz),
        "density_actual": float(a.nnz) / (float(n) * n) if n else 0.0,
        "dominance_margin": float(margin.min()) if n else math.inf,
        "dominant_row_fraction": float(np.mean(diag > off)) if n else 0.0,
    }


def accuracy(a, x, b, x_true):
    """rel_residual ||b - A x|| / ||b|| and rel_error ||x - x_true|| / ||x_true|| (host, float64)."""
    m = {}
    bn = np.linalg.norm(b)
    rn = np.linalg.norm(b - a @ x)
    m["rel_residual"] = float(rn / bn if bn > 0 else rn)
    if x_true is not None and x_true.size == x.size:
        tn = np.linalg.norm(x_true)
        en = np.linalg.norm(x - x_true)
        m["rel_error"] = float(en / tn if tn > 0 else en)
    return m


def add_direct_args(ap, peer, dense_help, poisson_help):
    """The direct-mode options (no CONFIG) of a linear-systems peer script named `peer`; a problem
    parameter left out takes numlab's default."""
    ap.add_argument("--dense", default="", help=f"direct mode: random_sparse sizes{dense_help}")
    ap.add_argument("--poisson", default="", help=f"direct mode: poisson2d sizes{poisson_help}")
    ap.add_argument("--density", type=float, help="direct mode: density of random_sparse (default: numlab's)")
    ap.add_argument("--dominance", help="direct mode: dominance of random_sparse (default: numlab's)")
    ap.add_argument("--seed", type=int, help="direct mode: seed (default: numlab's)")
    ap.add_argument("--name", default=None, help=f"direct mode: the file's name attribute (default {peer})")
    ap.add_argument("--max-dense-gib", type=float, default=None,
                    help="skip the dense solve where the dense matrix needs more (default: numlab's "
                         "max_dense_gib of its reference method)")


def max_dense_gib(args, numlab=None):
    """--max-dense-gib, else the default of numlab's max_dense_gib option (`--list --format json`)."""
    if args.max_dense_gib is not None:
        return float(args.max_dense_gib)
    import peer_h5
    nl = peer_h5.numlab_binary(numlab, "the default max_dense_gib")
    known, default = peer_h5.numlab_schema(nl).option_default("linsolve", "reference", "max_dense_gib")
    if not known or default is None:
        raise SystemExit("numlab's reference method has no max_dense_gib default; pass --max-dense-gib")
    return float(default)


def direct_sizes(ap, args, parse_int_list):
    """(dense sizes, poisson sizes) of direct mode; an argparse error when both are empty."""
    dense = parse_int_list(args.dense, "--dense")
    pois = parse_int_list(args.poisson, "--poisson")
    if not dense and not pois:
        ap.error("give a CONFIG, or --dense / --poisson sizes")
    return dense, pois


def direct_problems(dense_sizes=(), poisson_sizes=(), density=None, dominance=None, seed=None):
    """Problem dicts for the direct (config-less) mode: random_sparse at dense_sizes, poisson2d at
    poisson_sizes; None values are left out (numlab's defaults: peer_h5.expand_problems fills them)."""
    probs = []
    for n in dense_sizes:
        probs.append({"generator": "random_sparse", "N": int(n), "density": density, "dominance": dominance,
                      "seed": seed})
    for n in poisson_sizes:
        probs.append({"generator": "poisson2d", "N": int(n), "seed": seed})
    return [{k: v for k, v in p.items() if v is not None} for p in probs]
