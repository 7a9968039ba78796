# SPDX-License-Identifier: MIT
"""The lab's view of result points, shared by the checklist (lab_checklist.py) and the
findings (lab_findings.py): where a point ran, which method it is, which problem it solves,
the rounding unit of its dtype, and log-log growth fits.

    import numlab_results as nr, lab_data
    pts = lab_data.lab_points(nr.load_files(paths))   # copies of the points with lab keys

Each returned point is a shallow copy of numlab_results' point dict with:

  platform   'host', or the GPU's name ('NVIDIA H200'): peers are compared only on the same one
  threads    the host threads of the run (root attribute kokkos_concurrency; None for peers)
  native     True for points of numlab's native CUDA path (memory_space CudaNative)
"""
import collections
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numlab_results as nr  # noqa: E402

GPU_SPACES = ("Cuda", "HIP", "SYCL", "OpenMPTarget")

# Machine epsilon (spacing of 1.0) of the dtypes numlab runs: the error models are in it.
EPS = {"float64": 2.0 ** -52, "double": 2.0 ** -52, "float32": 2.0 ** -23, "float": 2.0 ** -23,
       "bfloat16": 2.0 ** -7, "float16": 2.0 ** -10, "half": 2.0 ** -10}
BYTES = {"float64": 8, "double": 8, "float32": 4, "float": 4, "bfloat16": 2, "float16": 2, "half": 2}

FORWARD = ("standard", "tiled", "flash")
BACKWARD = ("standard_bwd", "tiled_bwd", "flash_bwd")


def platform_of(attrs):
    """'host' or the GPU's short name, from a file's root attributes."""
    space = str(attrs.get("kokkos_default_execution_space") or "")
    dev = str(attrs.get("device") or "")
    tdev = str(attrs.get("torch_device") or "")
    gpu = space in GPU_SPACES or tdev.startswith("cuda") or dev.startswith(("NVIDIA", "AMD Instinct", "Intel(R) Data"))
    if not gpu:
        return "host"
    return dev.split(" (")[0].strip() or "gpu"


def lab_points(files):
    """Copies of every point of the files with the keys platform, threads, native."""
    out = []
    for f in files:
        plat = platform_of(f.attrs)
        threads = nr.number(f.attrs, "kokkos_concurrency") if not f.is_peer else None
        for p in f.points:
            q = dict(p)
            q["platform"] = plat
            q["threads"] = int(threads) if threads else None
            q["native"] = str(p.get("memory_space", "")) == "CudaNative" or str(p.get("backend", "")) == "cuda_native"
            out.append(q)
    return out


def method(p):
    return str(p.get("method", ""))


def valid(p, metric=None):
    """The point is a result (ok / solved / converged) and, if given, has a finite metric."""
    return nr.is_valid(p) and (metric is None or nr.number(p, metric) is not None)


def numlab(points, *methods, kind=None):
    return [p for p in points if not p.get("is_peer") and (not methods or method(p) in methods)
            and (kind is None or p.get("kind") == kind)]


def peers(points, kind=None):
    return [p for p in points if p.get("is_peer") and (kind is None or p.get("kind") == kind)]


def dtype_of(p):
    return str(p.get("dtype") or "float64").lower()


def eps_of(p):
    return EPS.get(dtype_of(p))


def n_kv(p):
    v = nr.problem_value(p, "N_kv")
    return v if v is not None else nr.number(p, "N")


def attention_problem(p):
    """What makes two attention points the same problem (tiles and method excluded)."""
    causal = nr.problem_value(p, "causal")
    return (p.get("platform"), nr.number(p, "B"), nr.number(p, "H"), nr.number(p, "N"), n_kv(p),
            nr.number(p, "D"), dtype_of(p), bool(causal))


def tiles(p):
    """(tile_q, tile_k) the kernel ran with (tile_*_run), else as asked; None where it has none."""
    def one(k):
        v = nr.number(p, k + "_run")
        if v is None or v == 0:
            v = nr.number(p, k)
        return int(v) if v else None
    return one("tile_q"), one("tile_k")


def linsolve_problem(p):
    return (p.get("platform"), str(p.get("generator") or ""), nr.number(p, "N"), nr.number(p, "density"),
            nr.effective_dominance(p), nr.number(p, "seed"))


def by(points, keyfn):
    out = collections.OrderedDict()
    for p in points:
        out.setdefault(keyfn(p), []).append(p)
    return out


def best(points, metric):
    """The point with the smallest finite metric among the valid ones, or None."""
    good = [p for p in points if valid(p, metric)]
    return min(good, key=lambda p: nr.number(p, metric)) if good else None


def gs_label(p):
    """'gauss_seidel sequential' / '... symmetric' / 'gauss_elim': a method and its variant."""
    m = method(p)
    if m != "gauss_seidel":
        return m
    lab = f"{m} {p.get('variant') or ''}".strip()
    if p.get("direction") not in (None, "", "forward"):
        lab += f" {p['direction']}"
    return lab


def loglog_slope(xs, ys):
    """Least-squares slope of log y against log x (the growth exponent), or None with fewer than
    two distinct positive x."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0]
    if len({a for a, _ in pts}) < 2:
        return None
    a = np.array(pts)
    return float(np.polyfit(a[:, 0], a[:, 1], 1)[0])


def g3(v):
    """Three significant digits, no exponent for ordinary magnitudes."""
    if v is None:
        return "–"
    if v == 0:
        return "0"
    if float(v).is_integer() and abs(v) < 1e7:
        return str(int(v))
    if 1e-3 <= abs(v) < 1e5:
        return f"{v:.3g}"
    return f"{v:.2e}"


def fmt_time(s):
    if s is None:
        return "–"
    if s < 1e-3:
        return f"{s * 1e6:.3g} µs"
    if s < 1.0:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def fmt_bytes(b):
    if b is None:
        return "–"
    for unit, scale in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if abs(b) >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b:.0f} B"
