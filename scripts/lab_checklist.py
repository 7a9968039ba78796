# SPDX-License-Identifier: MIT
"""The lab checklist: every item of the lab assignment (seeds/lab-assignment.md, Task 1 and
Task 2, plus the GPU items numlab adds), each with its figure or table and a verdict computed
from the result points.

    items = lab_checklist.checklist(lab_data.lab_points(files))
    blocks = lab_checklist.report_blocks(items, figures, headings, outdir, slug)

A verdict states what the lab (or the theory behind it) expects and whether the data confirm
it: "peak memory standard > tiled > flash at every problem: yes (9/9)". Item.ok is True (the
data confirm it), False (they contradict it), or None (a measurement without a claim, or not
run: then the verdict names the config that runs it).
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab_data as ld  # noqa: E402
import numlab_results as nr  # noqa: E402

EPS64 = 2.0 ** -52

# What runs an item's data (the verdict of an item without data names it).
RUNS = {
    "linsolve": "configs/linsolve_sweep.yaml",
    "nondominant": "configs/linsolve_nondominant.yaml",
    "scipy": "scripts/peers/scipy_linsolve.py configs/linsolve_sweep.yaml",
    "attention": "configs/attn_sweep.yaml",
    "vs_standard": "configs/attn_host_baselines.yaml (vs_standard: always)",
    "memory": "configs/attn_memory.yaml",
    "torch": "scripts/peers/torch_attention.py configs/attn_host_baselines.yaml --device cpu",
    "bf16": "configs/attn_gpu_bf16_lab.yaml and scripts/peers/torch_attention.py configs/attn_gpu_bf16_lab.yaml "
            "--methods torch_standard,sdpa_math,sdpa_flash,sdpa_cudnn,flash_attn (on a GPU)",
    "tensor_cores": "configs/attn_cuda_accuracy.yaml and configs/attn_cuda_bench.yaml (on a GPU)",
    "dense_gpu": "configs/linsolve_gpu.yaml (on a GPU)",
}

# Figures by what their file name holds (any alternative whose words all occur), so a renamed
# or split figure is still found; tables by the report's headings (prefixes).
FIGURES = {
    "linsolve_time": (("linsolve", "time"),),
    "linsolve_accuracy": (("linsolve", "accuracy"), ("linsolve", "error")),
    "gs_iterations": (("iterations",),),
    "residuals": (("residual",),),
    "spectral": (("spectral",),),
    "dense_ge": (("dense",), ("gauss_elim",), ("tflops", "linsolve")),
    "attn_forward": (("attention", "forward", "time"),),
    "attn_backward": (("attention", "backward", "time"),),
    "attn_memory": (("attention", "memory"),),
    "attn_error": (("attention", "error"),),
    "attn_ratio": (("attention", "ratio"), ("attention", "peer")),
    "linsolve_ratio": (("linsolve", "ratio"), ("linsolve", "peer")),
    "attn_tflops": (("attention", "tflops"),),
}
TABLES = {
    "solve_time": ("Median solve time",),
    "rel_error": ("Relative error",),
    "gs_iterations": ("Gauss-Seidel iterations",),
    "spectral": ("Spectral radius estimate",),
    "scipy_ratio": ("numlab / scipy",),
    "forward_time": ("Forward time",),
    "backward_time": ("Backward time",),
    "memory": ("Peak memory",),
    "attn_errors": ("Errors against the fp64 reference",),
    "torch_ratio": ("numlab / torch",),
    "no_result": ("Points without a result",),
}


class Item:
    """One row of the checklist."""

    def __init__(self, task, what, verdict, ok=None, figures=(), tables=(), run=None):
        self.task, self.what, self.verdict, self.ok = task, what, verdict, ok
        self.figures, self.tables, self.run = tuple(figures), tuple(tables), run

    @property
    def state(self):
        if self.run is not None:
            return "not run"
        return {True: "yes", False: "no", None: "measured"}[self.ok]

    def __repr__(self):
        return f"Item({self.task!r}, {self.what!r}, {self.state}: {self.verdict!r})"


def yes(ok):
    return "yes" if ok else "no"


def not_run(task, what, run_key, why="no data", figures=(), tables=()):
    return Item(task, what, f"not run ({why}): {RUNS[run_key]}", None, figures, tables, run=RUNS[run_key])


def count_text(k, n):
    return f"{k}/{n}"


def span(vals, fmt=ld.g3, unit=""):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "–"
    lo, hi = min(vals), max(vals)
    return f"{fmt(lo)}{unit}" if math.isclose(lo, hi, rel_tol=1e-9) else f"{fmt(lo)}–{fmt(hi)}{unit}"


def ns_text(points):
    ns = sorted({int(nr.number(p, "N")) for p in points if nr.number(p, "N") is not None})
    return "N = " + ", ".join(str(n) for n in ns) if ns else ""


# ============================================================ Task 1: linear systems

DIRECT = ("gauss_elim", "reference", "scipy_solve", "scipy_spsolve", "scipy.linalg.solve",
          "scipy.sparse.linalg.spsolve", "torch_solve")


def rounding_level(p):
    """A direct solve is backward stable: relative residual <= N eps (fp64)."""
    r, n = nr.number(p, "rel_residual"), nr.number(p, "N")
    return r is not None and n is not None and r <= n * EPS64


def at_tolerance(p):
    """An iterative solve stopped at its tolerance: relative residual <= tol."""
    r, t = nr.number(p, "rel_residual"), nr.number(p, "tol")
    return r is not None and t is not None and r <= t


def dominant(p):
    f = nr.effective_dominance(p)
    return f is not None and f > 1.0


def non_dominant(p):
    f = nr.effective_dominance(p)
    return f is not None and f < 1.0


def item_gauss_elim(pts):
    task, what = "Task 1", "Gaussian elimination (with partial pivoting)"
    ge = [p for p in ld.numlab(pts, "gauss_elim", kind="linsolve")]
    figs, tabs = ("linsolve_time", "dense_ge", "linsolve_accuracy"), ("solve_time", "rel_error")
    if not ge:
        return not_run(task, what, "linsolve", figures=figs, tables=tabs)
    solved = [p for p in ge if ld.valid(p, "rel_residual")]
    stable = [p for p in solved if rounding_level(p)]
    ok = len(solved) == len(ge) and len(stable) == len(solved)
    worst = max((nr.number(p, "rel_residual") / (nr.number(p, "N") * EPS64) for p in solved), default=None)
    return Item(task, what,
                f"solved at {count_text(len(solved), len(ge))} points ({ns_text(ge)}), relative residual "
                f"≤ N·ε (backward stable) at {count_text(len(stable), len(solved))}: {yes(ok)}"
                + (f" (worst {ld.g3(worst)} of the bound)" if worst is not None else ""),
                ok, figs, tabs)


def item_gauss_seidel(pts):
    task, what = "Task 1", "Gauss-Seidel iteration"
    gs = ld.numlab(pts, "gauss_seidel", kind="linsolve")
    figs, tabs = ("gs_iterations", "linsolve_time"), ("gs_iterations", "solve_time")
    if not gs:
        return not_run(task, what, "linsolve", figures=figs, tables=tabs)
    dom = [p for p in gs if dominant(p)]
    if not dom:
        st = sorted({nr.status_of(p) for p in gs})
        return Item(task, what, f"ran at {len(gs)} points, none on a strictly diagonally dominant matrix "
                                f"(statuses: {', '.join(st)}); the lab's dominant sweep: {RUNS['linsolve']}",
                    None, figs, tabs)
    conv = [p for p in dom if nr.status_of(p) == "converged"]
    at_tol = [p for p in conv if at_tolerance(p)]
    ok = len(conv) == len(dom) and len(at_tol) == len(conv)
    its = [nr.number(p, "iterations") for p in conv]
    return Item(task, what,
                f"converged on every strictly diagonally dominant matrix (the sufficient condition): {yes(ok)} "
                f"({count_text(len(conv), len(dom))}; relative residual ≤ tol at {count_text(len(at_tol), len(conv))}; "
                f"{span(its, lambda v: f'{v:.0f}')} sweeps)", ok, figs, tabs)


def item_scipy(pts):
    task, what = "Task 1", "SciPy reference solve"
    sp = [p for p in ld.peers(pts, "linsolve") if str(p.get("peer")) == "scipy"]
    figs, tabs = ("linsolve_ratio", "linsolve_time", "linsolve_accuracy"), ("scipy_ratio", "solve_time")
    if not sp:
        ref = [p for p in ld.numlab(pts, "reference", kind="linsolve") if ld.valid(p)]
        why = "no SciPy peer file" + (f"; numlab's library solve `reference` ran at {len(ref)} points" if ref else "")
        return not_run(task, what, "scipy", why, figs, tabs)
    dense = [q for q in sp if ld.method(q) in ("scipy_solve", "scipy.linalg.solve")]
    ge = [p for p in ld.numlab(pts, "gauss_elim", kind="linsolve") if ld.valid(p)]
    pairs = []
    for q in dense:
        for p in ge:
            if p["platform"] == q["platform"] and nr.problems_match(p, q, "linsolve"):
                pairs.append((p, q))
                break
    solved = [q for q in sp if ld.valid(q)]
    with_res = [q for q in solved if nr.number(q, "rel_residual") is not None]
    stable = [q for q in with_res if rounding_level(q)]
    compared = [(p, q) for p, q in pairs if nr.number(q, "rel_error") is not None and nr.number(p, "rel_error") is not None]
    agree = [(p, q) for p, q in compared
             if nr.number(p, "rel_error") <= 10 * nr.number(q, "rel_error") + nr.number(p, "N") * EPS64]
    ratios = [nr.number(p, "solve_seconds_median") / nr.number(q, "solve_seconds_median") for p, q in pairs
              if ld.valid(q, "solve_seconds_median") and nr.number(p, "solve_seconds_median")]
    faster = sum(1 for r in ratios if r < 1)
    times = (f"GE / scipy.linalg.solve time {span(ratios, unit='×')}, GE faster at {count_text(faster, len(ratios))}"
             if ratios else "no scipy.linalg.solve point matches a numlab GE problem")
    if not with_res and not compared:  # an older peer file: times only
        return Item(task, what, f"SciPy solved {count_text(len(solved), len(sp))} points; the file records no errors "
                                f"(times only; rerun {RUNS['scipy']}); {times}", None, figs, tabs)
    ok = len(solved) == len(sp) and len(stable) == len(with_res) and len(agree) == len(compared) and bool(compared)
    return Item(task, what,
                f"SciPy solved {count_text(len(solved), len(sp))} points at rounding level "
                f"({count_text(len(stable), len(with_res))}), numlab GE's error ≤ 10× scipy.linalg.solve's + N·ε at "
                f"{count_text(len(agree), len(compared))} matched problems: {yes(ok)}; {times}", ok, figs, tabs)


def lab_sweep(pts):
    """The lab's linear-systems sweep: random sparse, strictly dominant points of the numlab files
    that sweep density (configs/linsolve_sweep.yaml; all such files where none does), and the peer
    points of the same problems."""
    cand = [p for p in pts if p.get("kind") == "linsolve" and str(p.get("generator") or "random_sparse") == "random_sparse"
            and dominant(p)]
    mine = [p for p in cand if not p.get("is_peer")]
    sources = {s for s, ps in ld.by(mine, lambda p: p.get("source")).items()
               if len({nr.number(p, "density") for p in ps}) >= 2}
    mine = [p for p in mine if p.get("source") in sources] if sources else mine
    others = [q for q in cand if q.get("is_peer") and any(q["platform"] == p["platform"] and nr.problems_match(p, q, "linsolve")
                                                          for p in mine)]
    return mine + others


def item_accuracy_time(pts):
    task, what = "Task 1", "accuracy and time of the three methods"
    sw = lab_sweep(pts)
    figs, tabs = ("linsolve_accuracy", "linsolve_time"), ("rel_error", "solve_time")
    if not sw:
        return not_run(task, what, "linsolve", figures=figs, tables=tabs)
    direct = [p for p in sw if ld.method(p) in DIRECT and ld.valid(p, "rel_residual")]
    gs = [p for p in sw if ld.method(p) == "gauss_seidel"]
    d_ok = [p for p in direct if rounding_level(p)]
    g_ok = [p for p in gs if nr.status_of(p) == "converged" and at_tolerance(p)]
    ok = len(d_ok) == len(direct) and len(g_ok) == len(gs) and bool(direct or gs)
    # Fastest per problem (numlab and peers on the same platform).
    wins = {}
    probs = ld.by([p for p in sw if ld.valid(p, "solve_seconds_median")], ld.linsolve_problem)
    for _, ps in probs.items():
        b = ld.best(ps, "solve_seconds_median")
        lab = ld.gs_label(b) + (f" [{b['peer']}]" if b.get("is_peer") else "")
        wins[lab] = wins.get(lab, 0) + 1
    win_text = ", ".join(f"{k} at {count_text(v, len(probs))}" for k, v in sorted(wins.items(), key=lambda kv: -kv[1]))
    gs_err = [nr.number(p, "rel_error") for p in g_ok]
    d_err = [nr.number(p, "rel_error") for p in d_ok]
    return Item(task, what,
                f"direct solves at rounding level (relative residual ≤ N·ε) {count_text(len(d_ok), len(direct))}, "
                f"Gauss-Seidel at its tolerance {count_text(len(g_ok), len(gs))}: {yes(ok)} (errors: direct "
                f"{span(d_err)}, GS {span(gs_err)}); fastest: {win_text or '–'}", ok, figs, tabs)


def item_grid(pts):
    task, what = "Task 1", "N × density sensitivity"
    sw = [p for p in lab_sweep(pts) if not p.get("is_peer")]
    figs, tabs = ("linsolve_time", "linsolve_accuracy"), ("solve_time",)
    if not sw:
        return not_run(task, what, "linsolve", figures=figs, tables=tabs)
    ns = sorted({nr.number(p, "N") for p in sw})
    ds = sorted({nr.number(p, "density") for p in sw if nr.number(p, "density") is not None})
    labels = sorted({ld.gs_label(p) for p in sw})
    full = len(ns) * len(ds) * len(labels)
    have = {(ld.gs_label(p), nr.number(p, "N"), nr.number(p, "density")) for p in sw if ld.valid(p)}
    grid_ok = len(have) == full and len(ns) >= 2 and len(ds) >= 2
    # At the largest N, a sparse sweep (O(nnz) = O(density N^2), a few dozen sweeps) must beat the
    # dense O(N^3) elimination at every density; the growth exponents are shown beside it.
    ge, gs = "gauss_elim", "gauss_seidel sequential"
    wins, slopes = [], {ge: [], gs: []}
    for d in ds:
        at = {lab: [p for p in sw if ld.gs_label(p) == lab and nr.number(p, "density") == d
                    and ld.valid(p, "solve_seconds_median")] for lab in slopes}
        for lab, pp in at.items():
            e = ld.loglog_slope([nr.number(p, "N") for p in pp], [nr.number(p, "solve_seconds_median") for p in pp])
            if e is not None:
                slopes[lab].append(e)
        top = {lab: [nr.number(p, "solve_seconds_median") for p in pp if nr.number(p, "N") == ns[-1]] for lab, pp in at.items()}
        if top[ge] and top[gs]:
            wins.append(min(top[ge]) / min(top[gs]))
    win_text = ""
    if wins:
        win_text = (f"; sequential GS faster than GE at N = {ld.g3(ns[-1])} at every density: {yes(all(w > 1 for w in wins))} "
                    f"({count_text(sum(w > 1 for w in wins), len(wins))}, GE / GS {span(wins, unit='×')}; time exponents "
                    f"GE {span(slopes[ge])}, GS {span(slopes[gs])})")
    ok = grid_ok and all(w > 1 for w in wins)
    return Item(task, what,
                f"{len(ns)} N ({', '.join(ld.g3(n) for n in ns)}) × {len(ds)} densities ({', '.join(ld.g3(d) for d in ds)}) "
                f"complete for {len(labels)} methods: {yes(grid_ok)} ({count_text(len(have), full)} valid){win_text}",
                ok, figs, tabs)


def item_nondominant(pts):
    task, what = "Task 1", "Gauss-Seidel on non-dominant matrices"
    gs = [p for p in ld.numlab(pts, "gauss_seidel", kind="linsolve") if nr.number(p, "spectral_radius_estimate") is not None
          and nr.status_of(p) in ("converged", "diverged")]
    figs, tabs = ("residuals", "spectral"), ("spectral", "gs_iterations")
    nondom = [p for p in gs if non_dominant(p)]
    if not nondom:
        return not_run(task, what, "nondominant", "no Gauss-Seidel point on a non-dominant matrix with a spectral radius",
                       figs, tabs)
    div = [p for p in gs if nr.status_of(p) == "diverged"]
    conv = [p for p in gs if nr.status_of(p) == "converged"]
    div_ok = [p for p in div if nr.number(p, "spectral_radius_estimate") > 1.0]
    conv_ok = [p for p in conv if nr.number(p, "spectral_radius_estimate") < 1.0]
    ok = len(div_ok) == len(div) and len(conv_ok) == len(conv) and bool(div)
    nd_conv = sum(1 for p in nondom if nr.status_of(p) == "converged")
    rho_div = [nr.number(p, "spectral_radius_estimate") for p in div]
    rho_conv = [nr.number(p, "spectral_radius_estimate") for p in conv]
    return Item(task, what,
                f"diverged exactly where ρ > 1: {yes(ok)} (diverged {count_text(len(div_ok), len(div))} with ρ > 1, "
                f"ρ {span(rho_div)}; converged {count_text(len(conv_ok), len(conv))} with ρ < 1, ρ {span(rho_conv)}); "
                f"non-dominant matrices still converging: {count_text(nd_conv, len(nondom))}", ok, figs, tabs)


# ============================================================ Task 2: attention

def two_times_standard(p, std):
    """The official library's rule: 2x standard attention's error in the same precision, eps(T)
    where that happens to be exact (as tests/unit/test_attention_forward.cpp)."""
    return 2.0 * std if std > 0 else (ld.eps_of(p) or 0.0)


def error_bound(p, x):
    """Bound on X's relative Frobenius error vs fp64: the error model of the kernels' tests,
    eps(T) (sqrt(D) + sqrt(max(N, N_kv))) (tests/unit/test_attention_forward.cpp), or, where a
    method other than standard records standard attention's error in the same precision (native
    CUDA), the official library's rule: at most 2x that."""
    std = nr.number(p, f"{x}_rel_fro_error_standard_same_precision")
    if std is not None and ld.method(p) not in ("standard", "standard_bwd"):  # standard itself: the model
        return two_times_standard(p, std)
    eps = ld.eps_of(p)
    d, n = nr.number(p, "D"), max(nr.number(p, "N") or 0, ld.n_kv(p) or 0)
    if eps is None or d is None or not n:
        return None
    return eps * (math.sqrt(d) + math.sqrt(n))


def within_bounds(points, xs):
    """(checked, ok, worst fraction of the bound) over the points' error metrics X in xs."""
    checked = ok = 0
    worst = 0.0
    for p in points:
        for x in xs:
            e, b = nr.number(p, f"{x}_rel_fro_error"), error_bound(p, x)
            if e is None or b is None:
                continue
            checked += 1
            ok += e <= b
            worst = max(worst, e / b)
    return checked, ok, worst


def item_method(pts, m, what, xs, figs, tabs):
    task = "Task 2"
    mp = [p for p in ld.numlab(pts, m, kind="attention")]
    if not mp:
        return not_run(task, what, "attention", figures=figs, tables=tabs)
    good = [p for p in mp if ld.valid(p)]
    skipped = [p for p in mp if not ld.valid(p)]
    checked, okc, worst = within_bounds(good, xs)
    ran = f"ran at {count_text(len(good), len(mp))} points ({ns_text(mp)})"
    if skipped:
        st = sorted({nr.status_of(p) for p in skipped})
        ran += f", {len(skipped)} {'/'.join(st)}"
    if not checked:
        return Item(task, what, f"{ran}; no error against fp64 recorded (reference: false); the errors: "
                                f"{RUNS['attention']}", None, figs, tabs)
    ok = okc == checked
    return Item(task, what,
                f"{ran}; {', '.join(xs)} within the error bound vs fp64 at {count_text(okc, checked)}: {yes(ok)} "
                f"(worst {ld.g3(worst)} of the bound)", ok, figs, tabs)


def best_by_problem(points, metric):
    """{problem: best point over tile sizes and kernels} of valid points with the metric."""
    return {k: ld.best(ps, metric) for k, ps in ld.by([p for p in points if ld.valid(p, metric)], ld.attention_problem).items()}


def faster_count(a_pts, b_pts, metric):
    """(a faster than b at k problems, n problems in both, ratios a/b)."""
    a, b = best_by_problem(a_pts, metric), best_by_problem(b_pts, metric)
    common = [k for k in a if k in b]
    ratios = [nr.number(a[k], metric) / nr.number(b[k], metric) for k in common]
    return sum(1 for r in ratios if r < 1), len(common), ratios


def item_times(pts):
    task, what = "Task 2", "forward and backward times"
    att = ld.numlab(pts, kind="attention")
    figs, tabs = ("attn_forward", "attn_backward", "attn_tflops"), ("forward_time", "backward_time")
    fwd = [p for p in att if ld.method(p) in ld.FORWARD and ld.valid(p, "forward_seconds_median")]
    bwd = [p for p in att if ld.method(p) in ld.BACKWARD and ld.valid(p, "backward_seconds_median")]
    if not fwd and not bwd:
        return not_run(task, what, "attention", figures=figs, tables=tabs)
    parts, oks = [], []
    k, n, r = faster_count([p for p in fwd if ld.method(p) == "flash"], [p for p in fwd if ld.method(p) == "standard"],
                           "forward_seconds_median")
    if n:
        oks.append(k == n)
        parts.append(f"flash forward faster than standard at every problem: {yes(k == n)} ({count_text(k, n)}, "
                     f"flash / standard {span(r, unit='×')})")
    k, n, r = faster_count([p for p in bwd if ld.method(p) == "flash_bwd"], [p for p in bwd if ld.method(p) == "tiled_bwd"],
                           "backward_seconds_median")
    if n:
        oks.append(k == n)
        parts.append(f"flash_bwd faster than tiled_bwd: {yes(k == n)} ({count_text(k, n)}, {span(r, unit='×')})")
    if not parts:
        ms = sorted({ld.method(p) for p in fwd + bwd})
        return Item(task, what, f"timed {', '.join(ms)} at {len(fwd) + len(bwd)} points ({ns_text(fwd + bwd)}); "
                                f"no pair of methods to compare", None, figs, tabs)
    return Item(task, what, "; ".join(parts), all(oks), figs, tabs)


def fwd_memory(p):
    return nr.number(p, "peak_device_bytes") if ld.valid(p) else None


def item_memory_order(pts):
    task, what = "Task 2", "peak memory: standard > tiled > flash"
    att = [p for p in ld.numlab(pts, "standard", "tiled", "flash", kind="attention") if fwd_memory(p)]
    figs, tabs = ("attn_memory",), ("memory",)
    probs = ld.by(att, lambda p: (p.get("source"), ld.attention_problem(p)))  # one run: the same inputs
    rows = []
    for key, ps in probs.items():
        std = [fwd_memory(p) for p in ps if ld.method(p) == "standard"]
        til = {ld.tiles(p): fwd_memory(p) for p in ps if ld.method(p) == "tiled"}
        fla = {ld.tiles(p): fwd_memory(p) for p in ps if ld.method(p) == "flash"}
        if not std or not til or not fla:
            continue
        pairs = [(til[t], fla[t]) for t in til if t in fla] or [(max(til.values()), min(fla.values()))]
        rows.append((min(std) > max(til.values()), all(t > f for t, f in pairs), all(t == f for t, f in pairs), ps))
    if not rows:
        return not_run(task, what, "memory", "no problem with standard, tiled and flash peaks", figs, tabs)
    ok = all(a and b for a, b, _, _ in rows)
    both = sum(a and b for a, b, _, _ in rows)
    text = (f"peak memory standard > tiled > flash at every problem: {yes(ok)} ({count_text(both, len(rows))}"
            f"; standard > tiled {count_text(sum(a for a, _, _, _ in rows), len(rows))}, tiled > flash at equal tiles "
            f"{count_text(sum(b for _, b, _, _ in rows), len(rows))})")
    equal = [ps for _, _, e, ps in rows if e]
    if equal and all(nr.number(p, "forward_workspace_bytes") == 0 for ps in equal for p in ps if ld.method(p) == "tiled"):
        text += f"; tiled = flash at {count_text(len(equal), len(rows))}: this tiled kernel keeps no score block " \
                f"(forward_workspace_bytes 0: two passes, S recomputed)"
    return Item(task, what, text, ok, figs, tabs)


def vs_standard_ok(p, x):
    """X of the point within twice the fp64 error bound of standard (both are within it)."""
    d, b = nr.number(p, f"{x}_rel_fro_vs_standard"), error_bound(p, x)
    return None if d is None or b is None else d <= 2 * b


def item_agreement(pts):
    task, what = "Task 2", "agreement with standard attention (forward and gradients)"
    figs, tabs = ("attn_error",), ("attn_errors",)
    fwd = [p for p in ld.numlab(pts, "tiled", "flash", kind="attention") if ld.valid(p)]
    bwd = [p for p in ld.numlab(pts, "tiled_bwd", "flash_bwd", kind="attention") if ld.valid(p)]
    if not fwd and not bwd:
        return not_run(task, what, "attention", figures=figs, tables=tabs)
    parts, oks = [], []
    for pp, xs, name in ((fwd, ("O",), "O of tiled and flash"),
                         (bwd, ("dQ", "dK", "dV"), "dQ, dK, dV of tiled_bwd and flash_bwd")):
        checks = [vs_standard_ok(p, x) for p in pp for x in xs]
        checks = [c for c in checks if c is not None]
        if checks:
            oks.append(all(checks))
            parts.append(f"{name} vs standard within 2× the error bound: {yes(all(checks))} "
                         f"({count_text(sum(checks), len(checks))})")
            continue
        checked, okc, _ = within_bounds(pp, xs)  # no vs_standard: both within the bound vs fp64
        if checked:
            oks.append(okc == checked)
            parts.append(f"{name} within the error bound vs fp64 (no vs_standard errors; {RUNS['vs_standard']}): "
                         f"{yes(okc == checked)} ({count_text(okc, checked)})")
    if not parts:
        return Item(task, what, f"no errors recorded (reference: false); {RUNS['attention']}", None, figs, tabs)
    return Item(task, what, "; ".join(parts), all(oks), figs, tabs)


def item_tiled_closer(pts):
    task, what = "Task 2", "tiled (no online softmax) closer to standard than flash"
    figs, tabs = ("attn_error",), ("attn_errors",)
    att = [p for p in ld.numlab(pts, "tiled", "flash", kind="attention")
           if ld.valid(p, "O_rel_fro_vs_standard")]
    pairs = ld.by(att, lambda p: (p.get("source"), ld.attention_problem(p), ld.tiles(p)))  # one run: the same inputs
    rows = []
    for key, ps in pairs.items():
        t = [nr.number(p, "O_rel_fro_vs_standard") for p in ps if ld.method(p) == "tiled"]
        f = [nr.number(p, "O_rel_fro_vs_standard") for p in ps if ld.method(p) == "flash"]
        if t and f:
            rows.append((t[0], f[0], nr.number(ps[0], "N")))
    if not rows:  # native tiled and flash have different default tiles: compare per problem
        for key, ps in ld.by(att, lambda p: (p.get("source"), ld.attention_problem(p))).items():
            t = [nr.number(p, "O_rel_fro_vs_standard") for p in ps if ld.method(p) == "tiled"]
            f = [nr.number(p, "O_rel_fro_vs_standard") for p in ps if ld.method(p) == "flash"]
            if t and f:
                rows.append((max(t), min(f), nr.number(ps[0], "N")))
    if not rows:
        return not_run(task, what, "vs_standard", "no tiled and flash errors against standard", figs, tabs)
    k = sum(1 for t, f, _ in rows if t < f)
    worse = sorted({int(n) for t, f, n in rows if t >= f and n})
    return Item(task, what,
                f"tiled's O error vs standard below flash's at every point: {yes(k == len(rows))} ({count_text(k, len(rows))}"
                + (f"; not at N = {', '.join(map(str, worse))}" if worse else "")
                + f"; tiled / flash {span([t / f for t, f, _ in rows if f], unit='×')})", k == len(rows), figs, tabs)


def item_peers(pts):
    task, what = "Task 2", "PyTorch and FlashAttention comparison"
    figs, tabs = ("attn_ratio", "attn_forward"), ("torch_ratio",)
    tp = [q for q in ld.peers(pts, "attention") if str(q.get("peer")) == "torch"]
    if not tp:
        return not_run(task, what, "torch", "no PyTorch peer file", figs, tabs)
    mine = [p for p in ld.numlab(pts, kind="attention") if ld.valid(p)]
    parts = []
    for metric, ms, name in (("forward_seconds_median", ld.FORWARD, "forward"),
                             ("backward_seconds_median", ld.BACKWARD, "backward")):
        ours = best_by_problem([p for p in mine if ld.method(p) in ms], metric)
        theirs = [q for q in tp if ld.valid(q, metric)]
        ratios = []
        for key, p in ours.items():
            match = [q for q in theirs if q["platform"] == p["platform"] and nr.problems_match(p, q, "attention")]
            b = ld.best(match, metric)
            if b is not None:
                ratios.append((nr.number(p, metric) / nr.number(b, metric), ld.method(p), ld.method(b)))
        if ratios:
            k = sum(1 for r, _, _ in ratios if r < 1)
            parts.append(f"{name}: numlab's fastest faster than PyTorch's fastest at {count_text(k, len(ratios))} problems "
                         f"(numlab / PyTorch {span([r for r, _, _ in ratios], unit='×')})")
    fa = [q for q in tp if ld.method(q) == "flash_attn"]
    if fa and any(ld.valid(q) for q in fa):
        parts.append(f"official flash-attn ran at {sum(ld.valid(q) for q in fa)} points")
    elif fa:
        why = str(fa[0].get("reason") or "no reason recorded").split(" (")[0]
        parts.append(f"official flash-attn: {nr.status_of(fa[0])} ({why})")
    elif all(p["platform"] == "host" for p in tp):
        parts.append("official flash-attn: not run (CUDA only)")
    if not parts:
        return Item(task, what, "PyTorch peer points match no numlab problem", None, figs, tabs)
    return Item(task, what, "; ".join(parts), None, figs, tabs)


def tiled_workspace_bytes(p, threads):
    """The score-block workspace tiled_forward allocates on a host backend (tiled_attention.hpp):
    G x tile_q x ceil(N_kv / tile_k) tile_k elements, G = min(threads, B H ceil(N / tile_q)) teams
    at a time (tiled_forward_concurrent_teams); the zero padding of tile_q / tile_k to the register
    block is left out (lab tiles are multiples of it)."""
    tq, tk = ld.tiles(p)
    b, h, n, nkv = nr.number(p, "B"), nr.number(p, "H"), nr.number(p, "N"), ld.n_kv(p)
    size = ld.BYTES.get(ld.dtype_of(p))
    if None in (tq, tk, b, h, n, nkv, size) or not threads:
        return None
    g = min(threads, b * h * math.ceil(n / tq))
    return g * tq * math.ceil(nkv / tk) * tk * size


def item_online_softmax_share(pts):
    task, what = "Task 2", "online softmax's share of peak memory"
    figs, tabs = ("attn_memory",), ("memory",)
    att = [p for p in ld.numlab(pts, "tiled", "flash", kind="attention") if fwd_memory(p)]
    rows = []  # (tiled - flash, predicted, tiled peak, formula)
    for key, ps in ld.by(att, lambda p: (p.get("source"), ld.attention_problem(p),
                                         ld.tiles(p) if not p["native"] else None)).items():
        t = [p for p in ps if ld.method(p) == "tiled"]
        f = [p for p in ps if ld.method(p) == "flash"]
        if not t or not f:
            continue
        t, f = t[0], f[0]
        if t["native"]:
            pred = nr.number(t, "forward_workspace_bytes")
            formula = "tiled's forward_workspace_bytes"
        elif t["platform"] == "host":
            pred = tiled_workspace_bytes(t, t.get("threads"))
            formula = "G·tile_q·⌈N_kv/tile_k⌉·tile_k·s"
        else:
            continue  # Kokkos GPU teams: G depends on the team size, not modelled here
        if pred is not None:
            rows.append((fwd_memory(t) - fwd_memory(f), pred, fwd_memory(t), formula, t))
    if not rows:
        return not_run(task, what, "memory", "no tiled and flash peaks on the same problem and tiles", figs, tabs)
    within = [r for r in rows if abs(r[0] - r[1]) <= 0.01 * r[1]]  # a prediction of 0 must hold exactly
    ok = len(within) == len(rows)
    formulas = sorted({r[3] for r in rows})
    shares = [r[0] / r[2] for r in rows if r[2]]
    big = max(rows, key=lambda r: (nr.number(r[4], "N"), r[0]))
    text = (f"tiled − flash peak = {' / '.join(formulas)}: {yes(ok)}, within 1% at {count_text(len(within), len(rows))}")
    if any(r[3].startswith("G") for r in rows):
        text += " (G = min(threads, B·H·⌈N/tile_q⌉) score blocks at a time, s = bytes of the dtype)"
    text += (f"; the score block online softmax removes is {span([100 * s for s in shares], lambda v: f'{v:.0f}')}% of "
             f"tiled's peak ({ld.fmt_bytes(big[0])} of {ld.fmt_bytes(big[2])} at N = {ld.g3(nr.number(big[4], 'N'))})")
    return Item(task, what, text, ok, figs, tabs)


EXPECTED_GROWTH = {"standard": 2.0, "tiled": 1.0, "flash": 1.0}


def memory_exponents(pts, platform="host"):
    """{method: (exponent, N values)} of peak memory vs N: per series (method, tiles, B, H, D,
    dtype, causal) with at least three N, the series with the most N values."""
    att = [p for p in ld.numlab(pts, "standard", "tiled", "flash", kind="attention")
           if fwd_memory(p) and p["platform"] == platform]
    out = {}
    for key, ps in ld.by(att, lambda p: (ld.method(p), ld.tiles(p), str(p.get("kernel_run") or p.get("kernel") or ""))
                         + ld.attention_problem(p)[1:3] + ld.attention_problem(p)[5:]).items():
        ns = sorted({nr.number(p, "N") for p in ps})
        if len(ns) < 3:
            continue
        s = ld.loglog_slope([nr.number(p, "N") for p in ps], [fwd_memory(p) for p in ps])
        m = key[0]
        if m not in out or len(ns) > len(out[m][1]):
            out[m] = (s, ns)
    return out


def item_memory_growth(pts):
    task, what = "Task 2", "CPU memory growth with N"
    figs, tabs = ("attn_memory",), ("memory",)
    ex = memory_exponents(pts, "host")
    if not ex:
        return not_run(task, what, "memory", "no host forward peaks at three or more N", figs, tabs)
    checks = {m: abs(s - EXPECTED_GROWTH[m]) <= 0.25 for m, (s, _) in ex.items()}
    ok = all(checks.values())
    parts = [f"{m} N^{ex[m][0]:.2f} (N = {ld.g3(min(ex[m][1]))}–{ld.g3(max(ex[m][1]))})" for m in ("standard", "tiled", "flash")
             if m in ex]
    return Item(task, what,
                f"peak memory grows as N² (standard) and N (tiled, flash), log-log fit within ±0.25: {yes(ok)} "
                f"({', '.join(parts)})", ok, figs, tabs)


# ============================================================ GPU items

def item_gpu_bf16(pts):
    task, what = "GPU", "bf16 / fp16 comparison vs PyTorch SDPA (FlashAttention-2, cuDNN) and flash-attn"
    figs, tabs = ("attn_ratio", "attn_forward"), ("torch_ratio",)
    ours = [p for p in ld.numlab(pts, "flash", "flash_bwd", kind="attention") if p["native"] and ld.valid(p)
            and ld.dtype_of(p) in ("bfloat16", "float16")]
    sdpa = [q for q in ld.peers(pts, "attention") if ld.method(q) in ("sdpa_flash", "sdpa_cudnn", "flash_attn") and ld.valid(q)]
    if not ours or not sdpa:
        return not_run(task, what, "bf16", "no native low-precision flash beside SDPA peers", figs, tabs)
    parts, oks = [], []
    for metric, m, name in (("forward_seconds_median", "flash", "forward"), ("backward_seconds_median", "flash_bwd", "backward")):
        mine = best_by_problem([p for p in ours if ld.method(p) == m], metric)
        for peer_m in ("sdpa_flash", "sdpa_cudnn", "flash_attn"):
            ratios = []
            for key, p in mine.items():
                match = [q for q in sdpa if ld.method(q) == peer_m and q["platform"] == p["platform"]
                         and nr.problems_match(p, q, "attention") and ld.valid(q, metric)]
                if match:
                    ratios.append(nr.number(p, metric) / nr.number(ld.best(match, metric), metric))
            if not ratios:
                continue
            k = sum(1 for r in ratios if r <= 1)
            if peer_m == "sdpa_flash":
                oks.append(k == len(ratios))
                parts.append(f"{name} at least as fast as SDPA flash: {yes(k == len(ratios))} ({count_text(k, len(ratios))}, "
                             f"numlab / SDPA flash {span(ratios, unit='×')})")
            else:
                parts.append(f"{name} vs {peer_m}: faster at {count_text(k, len(ratios))} ({span(ratios, unit='×')})")
    if not parts:
        return not_run(task, what, "bf16", "the SDPA peers match no native problem", figs, tabs)
    return Item(task, what, "; ".join(parts), all(oks) if oks else None, figs, tabs)


def item_gpu_tensor_cores(pts):
    task, what = "GPU", "tensor-core kernels: the official library's accuracy rule, TFLOP/s"
    figs, tabs = ("attn_tflops", "attn_error"), ("attn_errors",)
    nat = [p for p in ld.numlab(pts, kind="attention") if p["native"] and ld.valid(p)]
    if not nat:
        return not_run(task, what, "tensor_cores", "no native CUDA points", figs, tabs)
    checks = []
    for p in nat:
        if ld.method(p) in ("standard", "standard_bwd"):
            continue  # the baseline of the rule itself
        for x in ("O", "dQ", "dK", "dV"):
            e, s = nr.number(p, f"{x}_rel_fro_error"), nr.number(p, f"{x}_rel_fro_error_standard_same_precision")
            if e is not None and s is not None:
                checks.append(e <= two_times_standard(p, s))
    tf = {}
    for p in nat:
        for metric in ("forward_tflops", "backward_tflops"):
            v = nr.number(p, metric)
            if v is not None:
                k = (metric.split("_")[0], str(p.get("kernel_run") or ld.method(p)), ld.dtype_of(p))
                tf[k] = max(tf.get(k, 0.0), v)
    top = sorted(tf.items(), key=lambda kv: -kv[1])[:3]
    peak = ", ".join(f"{d} {w} {k}: {v:.0f}" for (w, k, d), v in top)
    if not checks:
        return Item(task, what, f"no errors against standard in the same precision; peak TFLOP/s {peak}; the accuracy run: "
                                f"{RUNS['tensor_cores']}", None, figs, tabs)
    ok = all(checks)
    return Item(task, what,
                f"error vs fp64 ≤ 2× standard's in the same precision: {yes(ok)} ({count_text(sum(checks), len(checks))}); "
                f"peak TFLOP/s {peak or '–'}", ok, figs, tabs)


def item_gpu_dense(pts):
    task, what = "GPU", "dense Gaussian elimination vs the vendor library (cuSOLVER)"
    figs, tabs = ("dense_ge", "linsolve_time"), ("solve_time",)
    gpu = [p for p in ld.numlab(pts, "gauss_elim", "reference", kind="linsolve") if p["platform"] != "host"
           and ld.valid(p, "solve_seconds_median")]
    rows = []
    for key, ps in ld.by(gpu, ld.linsolve_problem).items():
        ge = ld.best([p for p in ps if ld.method(p) == "gauss_elim"], "solve_seconds_median")
        ref = ld.best([p for p in ps if ld.method(p) == "reference"], "solve_seconds_median")
        if ge and ref:
            rows.append((nr.number(ge, "N"), nr.number(ge, "solve_seconds_median") / nr.number(ref, "solve_seconds_median"),
                         ge["platform"]))
    if not rows:
        return not_run(task, what, "dense_gpu", "no GPU gauss_elim beside reference", figs, tabs)
    n_max = max(n for n, _, _ in rows)
    top = sorted((r, dev) for n, r, dev in rows if n == n_max)
    ok = all(r <= 1.1 for r, _ in top)
    return Item(task, what,
                f"at cuSOLVER speed (≤ 1.1×) at the largest N = {ld.g3(n_max)}: {yes(ok)} (GE / cuSOLVER "
                f"{', '.join(f'{r:.2f}× on {dev}' for r, dev in top)}; {span([r for _, r, _ in rows], unit='×')} over "
                f"{len(rows)} problems, the fastest GE variant each)", ok, figs, tabs)


# ============================================================ the list

def checklist(points):
    """Every item of the lab assignment with its verdict (lab_data.lab_points(files) in)."""
    pts = points
    return [
        item_gauss_elim(pts), item_gauss_seidel(pts), item_scipy(pts), item_accuracy_time(pts), item_grid(pts),
        item_nondominant(pts),
        item_method(pts, "standard", "standard attention forward", ("O",), ("attn_forward", "attn_error"),
                    ("forward_time", "attn_errors")),
        item_method(pts, "tiled", "tiled forward without online softmax", ("O",), ("attn_forward", "attn_error"),
                    ("forward_time", "attn_errors")),
        item_method(pts, "flash", "flash forward (online softmax)", ("O",), ("attn_forward", "attn_error"),
                    ("forward_time", "attn_errors")),
        item_method(pts, "tiled_bwd", "tiled backward", ("dQ", "dK", "dV"), ("attn_backward", "attn_error"),
                    ("backward_time", "attn_errors")),
        item_times(pts), item_memory_order(pts), item_agreement(pts), item_tiled_closer(pts), item_peers(pts),
        item_online_softmax_share(pts), item_memory_growth(pts),
        item_gpu_bf16(pts), item_gpu_tensor_cores(pts), item_gpu_dense(pts),
    ]


def find_figure(figures, key):
    for alt in FIGURES.get(key, ()):
        for f in figures:
            if all(w in f.name.lower() for w in alt):
                return f
    return None


def find_heading(headings, key):
    for pre in TABLES.get(key, ()):
        for h in headings:
            if h.startswith(pre):
                return h
    return None


def link_text(text):
    """Brackets inside a link's text would end it early (report.py's inline Markdown)."""
    return text.replace("[", "(").replace("]", ")")


def links(item, figures, headings, outdir, slug):
    """Markdown links of the item's figures (PNG, relative to outdir) and tables (anchors) that
    the report holds."""
    out, seen = [], set()
    for key in item.figures:
        f = find_figure(figures, key)
        if f is not None and f.path not in seen:
            seen.add(f.path)
            out.append(f"[{link_text(f.title)}]({os.path.relpath(f.path, outdir).replace(os.sep, '/')})")
    for key in item.tables:
        h = find_heading(headings, key)
        if h is not None and h not in seen:
            seen.add(h)
            out.append(f"[{link_text(h)}](#{slug(h)})")
    return out


MARK = {"yes": "**yes**", "no": "**no**", "measured": "measured", "not run": "not run"}


def report_blocks(items, figures, headings, outdir, slug):
    """Report blocks (scripts/report.py's document model) of the checklist."""
    rows = []
    for it in items:
        ls = links(it, figures, headings, outdir, slug) if it.run is None else []
        rows.append([it.task, it.what, MARK[it.state], it.verdict, ", ".join(ls) or "–"])
    counts = {s: sum(1 for it in items if it.state == s) for s in MARK}
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    return [("h", 2, "Lab checklist"),
            ("p", "Every item of the lab assignment (Task 1: linear systems, Task 2: attention) and the GPU items, each "
                  "with a verdict computed from the result files: what the lab or the theory expects and whether the "
                  f"data confirm it. {summary}."),
            ("table", ["task", "item", "state", "verdict (from the data)", "see"], rows,
             "yes / no: the data confirm / contradict the expectation; measured: a comparison without an expectation; "
             "not run: no data, the config that produces it is named.")]
