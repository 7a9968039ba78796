#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Figures (PNG) of numlab results, peers overlaid.

Usage: scripts/plot.py RESULTS.h5 [more.h5 ...] -o DIR

Reads numlab HDF5 files and peer files in the same schema (root attribute
`peer`: numpy, scipy, torch, ...) and writes one PNG per figure the lab asks
for, as far as the files hold the data it needs (a figure without data is
skipped with a note):

  linear systems   linsolve_time_vs_N, linsolve_accuracy_vs_N,
                   linsolve_gs_iterations_vs_N, linsolve_residual_histories,
                   linsolve_spectral_radius
  attention        attention_forward_time_vs_N, attention_backward_time_vs_N,
                   attention_time_vs_tile, attention_tflops_vs_N,
                   attention_peak_memory_vs_N, attention_error_vs_N

Only points with status ok / solved / converged are plotted as results; the
residual histories and spectral radii also show diverged runs (marked).
Series are labelled by method, options (variant, tile sizes, dq), whatever
differs between the points (dtype, causal, shape, density, dominance), the
point's `backend`, the peer's name in [brackets] and, where two files would
otherwise draw the same series, the file in {braces}.

Use from Python: `import plot; plot.make_figures(files, outdir)` where files
come from numlab_results.load_files.
"""
import argparse
import collections
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402
import numpy as np  # noqa: E402

import numlab_results as nr  # noqa: E402

DPI = 110
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p"]
ERROR_METRICS = [("O_rel_fro_error", "O"), ("L_rel_fro_error", "L (log-sum-exp)"),
                 ("dQ_rel_fro_error", "dQ"), ("dK_rel_fro_error", "dK"), ("dV_rel_fro_error", "dV")]
MIB = 2.0 ** 20
# tab10 reordered so that neighbouring families differ most (brown, close to red, last).
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#17becf", "#e377c2",
           "#bcbd22", "#7f7f7f", "#8c564b"]

plt.rcParams.update({
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 8.5,
    "axes.grid": True, "grid.alpha": 0.3, "grid.linestyle": "-", "figure.dpi": DPI,
    "savefig.dpi": DPI, "axes.spines.top": False, "axes.spines.right": False,
})


class Figure:
    """A written PNG: name (file stem), path, title, caption, kind."""

    def __init__(self, name, path, title, caption, kind):
        self.name, self.path, self.title, self.caption, self.kind = name, path, title, caption, kind

    def __repr__(self):
        return f"Figure({self.name!r}, {self.path!r})"


# --------------------------------------------------------------------------- labels

def _g(v):
    """Short number: 64, 0.05, 1e-10."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else f"{x:g}"


def _tile(p, key):
    """The tile the point ran with (numlab's tile_q_run / tile_k_run; older files: the option)."""
    if key not in p:
        return None
    v = nr.number(p, key + "_run")
    if v is None:
        v = nr.number(p, key)
    return None if v is None else int(v)


def _n_kv_differs(p):
    n, nkv = nr.problem_value(p, "N"), nr.problem_value(p, "N_kv")
    return n is not None and nkv is not None and int(n) != int(nkv)


# (key, value getter, formatter) of the properties that label a series when they
# differ between the plotted points.
VARYING = [
    ("dtype", lambda p: p.get("dtype"), lambda v: str(v)),
    ("causal", lambda p: None if p.get("causal") is None else nr.truthy(p.get("causal")),
     lambda v: "causal" if v else "non-causal"),
    ("B", lambda p: p.get("B"), lambda v: f"B={_g(v)}"),
    ("H", lambda p: p.get("H"), lambda v: f"H={_g(v)}"),
    ("D", lambda p: p.get("D"), lambda v: f"D={_g(v)}"),
    ("N_kv", lambda p: nr.problem_value(p, "N_kv") if _n_kv_differs(p) else None,
     lambda v: f"N_kv={_g(v)}"),
    ("generator", lambda p: p.get("generator"), lambda v: str(v)),
    ("density", lambda p: nr.number(p, "density"), lambda v: f"density {_g(v)}"),
    ("dominance", lambda p: nr.effective_dominance(p) if p.get("kind") == "linsolve" else None,
     lambda v: f"dominance {_g(v)}"),
]


def _shown(p, key):
    """An option worth a label: its method's default in numlab is known and the point differs."""
    return nr.option_default(p, key)[0] and not nr.is_default(p, key)


def base_label(p, exclude=()):
    m = str(p.get("method", "?"))
    opts = []
    if p.get("variant") is not None and "variant" not in exclude:
        opts.append(str(p["variant"]))
    # Options shown where they differ from numlab's default for the method (--list; no binary: hidden).
    d = p.get("direction")
    if d and "direction" not in exclude and _shown(p, "direction"):
        opts.append(str(d))
    om = nr.number(p, "omega")
    if om is not None and "omega" not in exclude and _shown(p, "omega"):
        opts.append(f"ω={_g(om)}")
    label = m + (" " + "/".join(opts) if opts else "")
    tiles = []
    for key, short in (("tile_q", "q"), ("tile_k", "k")):
        t = _tile(p, key)
        if t is not None and key not in exclude:
            tiles.append(f"{short}={t}")
    dq = p.get("dq")
    if dq and "dq" not in exclude and _shown(p, "dq"):
        tiles.append(f"dq={dq}")
    if tiles:
        label += " (" + ", ".join(tiles) + ")"
    return label


# Benchmarks sweep B with N at a fixed token count B·N and H with D at a fixed hidden size H·D.
# Labelled by B and H, every point would be a series of its own; where B (H) follows from N (D)
# and the rest of the label, and the product is one number, the label names the product instead.
PRODUCTS = [("B", "N", "B·N"), ("H", "D", "H·D")]


def _fold_constant_products(points, varying, exclude):
    """(varying without the folded keys, extra label parts such as 'B·N=16384')."""
    fixed = []
    for key, partner, name in PRODUCTS:
        entry = next((v for v in varying if v[0] == key), None)
        if entry is None:
            continue
        others = [get for k, get, _ in varying if k not in (key, "B", "H")]
        seen, products, determined = {}, set(), True
        for p in points:
            v, w = p.get(key), nr.problem_value(p, partner)
            if v is None or w is None:
                continue
            products.add(float(v) * float(w))
            at = (base_label(p, exclude), tuple(g(p) for g in others), nr.problem_value(p, "N"),
                  nr.problem_value(p, "D"))
            determined = determined and seen.setdefault(at, v) == v
        if determined and len(products) == 1:
            varying = [v for v in varying if v[0] != key]
            fixed.append(f"{name}={_g(products.pop())}")
    return varying, fixed


def make_labels(points, exclude=(), group_fn=None):
    """{id(point): label}. group_fn(p) -> hashable position of the point on the
    figure (panel, x); where two files would draw the same label at the same
    position, their points are told apart by the file name."""
    varying = []
    for key, get, fmt in VARYING:
        if key in exclude:
            continue
        vals = {get(p) for p in points} - {None}
        if len(vals) > 1:
            varying.append((key, get, fmt))
    varying, fixed = _fold_constant_products(points, varying, exclude)
    labels = {}
    for p in points:
        lab = base_label(p, exclude)
        extra = [fmt(get(p)) for _, get, fmt in varying if get(p) is not None] + fixed
        if p.get("backend") not in (None, "") and "backend" not in exclude:
            extra.append(f"backend={p['backend']}")
        if extra:
            lab += ", " + ", ".join(extra)
        if p.get("is_peer"):
            lab += f" [{p.get('peer')}]"
        labels[id(p)] = lab
    if group_fn is not None:
        where = collections.defaultdict(set)
        for p in points:
            where[(labels[id(p)], group_fn(p))].add(p.get("source"))
        clash = {lab for (lab, _), srcs in where.items() if len(srcs) > 1}
        for p in points:
            if labels[id(p)] in clash:
                labels[id(p)] += " {" + str(p.get("source")) + "}"
    return labels


def _natural(s):
    """Sort key with numbers compared as numbers: q=64 < q=128, density 0.05 < 0.1."""
    parts = re.split(r"(\d+(?:\.\d+)?(?:e[-+]?\d+)?)", s)
    return [(0, float(t), "") if i % 2 else (1, 0.0, t) for i, t in enumerate(parts)]


def label_sort_key(label, p):
    m = str(p.get("method", ""))
    order = nr.method_order()
    rank = order.index(m) if m in order else len(order)
    return (1 if p.get("is_peer") else 0, rank, _natural(label))


def family_of(p):
    """Method, options and peer, without tile sizes or problem extras: series of one
    family share a hue (shades and markers tell the members apart)."""
    fam = base_label(p, exclude=("tile_q", "tile_k", "dq"))
    return fam + (f" [{p.get('peer')}]" if p.get("is_peer") else "")


def _shade(rgb, t):
    """t in [-1, 1]: towards black (< 0) or white (> 0)."""
    rgb = np.array(rgb[:3], float)
    return tuple(rgb * (1 + 0.55 * t)) if t < 0 else tuple(rgb + (1 - rgb) * 0.6 * t)


class Styles:
    """One colour / marker / line style per series label, stable within a figure:
    a hue per family (method and options), shades and markers per tile size or
    problem variant, dashed lines for peers."""

    def __init__(self, ordered_labels, peers, families):
        fams = []
        for lab in ordered_labels:
            if families[lab] not in fams:
                fams.append(families[lab])
        members = collections.defaultdict(list)
        for lab in ordered_labels:
            members[families[lab]].append(lab)
        self.style = {}
        for fi, fam in enumerate(fams):
            base = matplotlib.colors.to_rgb(PALETTE[fi % len(PALETTE)])
            labs = members[fam]
            n = len(labs)
            for j, lab in enumerate(labs):
                t = 0.0 if n == 1 else -0.8 + 1.6 * j / (n - 1)
                is_peer = lab in peers
                ls = "--" if is_peer else ("-" if fi < len(PALETTE) else ":")
                self.style[lab] = dict(color=_shade(base, t), marker=MARKERS[(j + fi) % len(MARKERS)],
                                       linestyle=ls, linewidth=1.8 if is_peer else 1.5, markersize=5.5)

    def __getitem__(self, lab):
        return self.style[lab]


def build_styles(points, labels):
    first = {}
    for p in points:
        first.setdefault(labels[id(p)], p)
    ordered = sorted(first, key=lambda lab: label_sort_key(lab, first[lab]))
    peers = {lab for lab, p in first.items() if p.get("is_peer")}
    return Styles(ordered, peers, {lab: family_of(p) for lab, p in first.items()}), ordered


def series(points, labels, xget, yget):
    """{label: (xs, ys)} sorted by x; several points at one x -> their median."""
    acc = collections.defaultdict(lambda: collections.defaultdict(list))
    for p in points:
        x, y = xget(p), yget(p)
        if x is None or y is None or not math.isfinite(x) or not math.isfinite(y):
            continue
        acc[labels[id(p)]][x].append(y)
    out = {}
    for lab, byx in acc.items():
        xs = sorted(byx)
        out[lab] = (np.array(xs, float), np.array([float(np.median(byx[x])) for x in xs]))
    return out


def draw_series(ax, ser, styles, order):
    for lab in order:
        if lab in ser:
            xs, ys = ser[lab]
            ax.plot(xs, ys, label=lab, **styles[lab])


def set_log_ticks(ax, values, axis="x", base=10):
    """On a log axis with few distinct values: ticks at exactly those values."""
    vals = sorted({float(v) for v in values if v is not None and v > 0})
    if axis == "x":
        ax.set_xscale("log", base=base)
        set_locator = ax.xaxis
    else:
        ax.set_yscale("log", base=base)
        set_locator = ax.yaxis
    if 1 <= len(vals) <= 10:
        set_locator.set_major_locator(FixedLocator(vals))
        set_locator.set_major_formatter(FuncFormatter(lambda v, _: _g(v)))
        set_locator.set_minor_locator(NullLocator())


def shared_legend(fig, axes, order=None, extra_handles=()):
    handles, labels = [], []
    seen = set()
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in seen and not lab.startswith("_"):
                seen.add(lab)
                handles.append(h)
                labels.append(lab)
    if order:
        idx = sorted(range(len(labels)),
                     key=lambda i: order.index(labels[i]) if labels[i] in order else len(order) + i)
        handles, labels = [handles[i] for i in idx], [labels[i] for i in idx]
    for h in extra_handles:
        handles.append(h)
        labels.append(h.get_label())
    if not handles:
        return
    width_in = fig.get_size_inches()[0]
    longest = max(len(lab) for lab in labels)
    ncol = max(1, min(len(labels), int(width_in * 72 / (longest * 5.6 + 40))))
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol,
               frameon=False, fontsize=8.5)


def legend_below(fig, ax, ncol=1):
    """A panel's own legend under its x label (call after tight_layout)."""
    h_in = ax.get_position().height * fig.get_size_inches()[1]
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.62 / h_in), ncol=ncol, frameon=False, fontsize=8)


def save(fig, outdir, name, title, caption, kind, figures, log):
    path = os.path.join(outdir, name + ".png")
    fig.savefig(path, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    log(f"wrote {path}")
    figures.append(Figure(name, path, title, caption, kind))


def new_figure(npanels, ncols=None, panel_w=5.2, panel_h=3.9, sharey=False):
    ncols = ncols or min(npanels, 3)
    nrows = int(math.ceil(npanels / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_w * ncols, panel_h * nrows),
                             squeeze=False, sharey=sharey)
    flat = list(axes.ravel())
    for ax in flat[npanels:]:
        ax.set_visible(False)
    return fig, flat[:npanels]


# ------------------------------------------------------------------- linsolve helpers

def linsolve_panel(p):
    """(sort key, title) of the panel a linsolve point belongs to."""
    gen = str(p.get("generator") or "")
    d = nr.number(p, "density")
    if gen == "poisson2d":
        return (1, 0.0, "2D Poisson (5-point)")
    if gen == "matrix_market":
        return (2, 0.0, "Matrix Market " + os.path.basename(str(p.get("path", ""))))
    if d is not None:
        return (0, d, f"random sparse, density {_g(d)}")
    return (3, 0.0, "other problems")


GS_KEYS = ("variant", "direction", "omega")


def gs_config(p):
    """(method, variant, direction, omega): a missing option is numlab's default (--list)."""
    vals = [nr.value_or_default(p, k) for k in GS_KEYS]
    return (str(p.get("method")),) + tuple(
        (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else ("" if v is None else str(v)))
        for v in vals)


def _gs_point(config):
    """A point-like dict of a gs_config tuple (for its label)."""
    p = dict(zip(("method",) + GS_KEYS, config))
    p["kind"] = "linsolve"
    return {k: v for k, v in p.items() if v != ""}


def main_dominance(pts, name, log):
    """The N-scaling figures compare methods on one kind of matrix: where the
    points span several dominance factors, keep the most dominant one (the
    lab's strictly dominant sweep); the others appear in the dominance figures."""
    facs = {nr.effective_dominance(p) for p in pts} - {None}
    if len(facs) <= 1:
        return pts, None
    top = max(facs)
    others = ", ".join(_g(f) for f in sorted(facs - {top}))
    log(f"note: {name}: dominance factor {_g(top)} only (also in the data: {others}; "
        "see linsolve_spectral_radius and linsolve_residual_histories)")
    return [p for p in pts if nr.effective_dominance(p) in (None, top)], top


def numlab_panels(pts, name, log):
    """Panels (problem families) holding numlab points; peer-only panels are dropped
    unless there is no numlab point at all."""
    panels = sorted({linsolve_panel(p) for p in pts})
    mine = sorted({linsolve_panel(p) for p in pts if not p.get("is_peer")})
    if mine and len(mine) < len(panels):
        dropped = [t for _, _, t in sorted(set(panels) - set(mine))]
        log(f"note: {name}: peer points without a numlab counterpart left out: {', '.join(dropped)}")
        return [p for p in pts if linsolve_panel(p) in mine], mine
    return pts, panels


def _dom_title(top):
    return "" if top is None else f", dominance factor {_g(top)}"


# -------------------------------------------------------------------- linsolve figures

def fig_linsolve_time(points, outdir, figures, log):
    name = "linsolve_time_vs_N"
    pts = [p for p in points if p["kind"] == "linsolve" and nr.valid_metric(p, "solve_seconds_median")
           and nr.number(p, "N")]
    if not pts:
        log(f"note: skipping {name}: no valid linsolve point with solve_seconds_median")
        return
    pts, top = main_dominance(pts, name, log)
    pts, panels = numlab_panels(pts, name, log)
    labels = make_labels(pts, exclude=("density", "generator"),
                         group_fn=lambda p: (linsolve_panel(p), p.get("N")))
    styles, order = build_styles(pts, labels)
    fig, axes = new_figure(len(panels))
    for ax, panel in zip(axes, panels):
        pp = [p for p in pts if linsolve_panel(p) == panel]
        ser = series(pp, labels, lambda p: nr.number(p, "N"), lambda p: nr.number(p, "solve_seconds_median"))
        draw_series(ax, ser, styles, order)
        set_log_ticks(ax, [nr.number(p, "N") for p in pp])
        ax.set_yscale("log")
        ax.set_title(panel[2])
        ax.set_xlabel("N (unknowns)")
        ax.set_ylabel("median solve time [s]")
    fig.suptitle(f"Linear systems: solve time vs N (median over repetitions, log-log{_dom_title(top)})", y=1.02)
    fig.tight_layout()
    shared_legend(fig, axes, order)
    save(fig, outdir, name, "Solve time vs N",
         "Median solve time per method, one panel per matrix density (log-log). "
         "Dashed lines: peers.", "linsolve", figures, log)


def fig_linsolve_accuracy(points, outdir, figures, log):
    name = "linsolve_accuracy_vs_N"
    metrics = [("rel_error", "relative error ‖x − x*‖ / ‖x*‖"),
               ("rel_residual", "relative residual ‖b − Ax‖ / ‖b‖")]
    pts = [p for p in points if p["kind"] == "linsolve" and nr.is_valid(p) and nr.number(p, "N")
           and any(nr.number(p, m) is not None for m, _ in metrics)]
    metrics = [(m, lab) for m, lab in metrics if any(nr.number(p, m) is not None for p in pts)]
    if not pts or not metrics:
        log(f"note: skipping {name}: no valid point with rel_error or rel_residual")
        return
    pts, top = main_dominance(pts, name, log)
    pts, panels = numlab_panels(pts, name, log)
    labels = make_labels(pts, exclude=("density", "generator"),
                         group_fn=lambda p: (linsolve_panel(p), p.get("N")))
    styles, order = build_styles(pts, labels)
    fig, axes = new_figure(len(panels) * len(metrics), ncols=len(panels), panel_w=4.8, panel_h=3.6)
    zeros = 0
    for r, (metric, ylabel) in enumerate(metrics):
        for c, panel in enumerate(panels):
            ax = axes[r * len(panels) + c]
            pp = [p for p in pts if linsolve_panel(p) == panel]
            vals = [nr.number(p, metric) for p in pp]
            zeros += sum(1 for v in vals if v is not None and v <= 0)
            ser = series(pp, labels, lambda p: nr.number(p, "N"),
                         lambda p, m=metric: (nr.number(p, m) if (nr.number(p, m) or 0) > 0 else None))
            draw_series(ax, ser, styles, order)
            set_log_ticks(ax, [nr.number(p, "N") for p in pp])
            ax.set_yscale("log")
            ax.set_title(panel[2])
            ax.set_xlabel("N (unknowns)")
            ax.set_ylabel(ylabel + " [–]")
    if zeros:
        log(f"note: {name}: {zeros} exact-zero errors not drawn on the log axis")
    fig.suptitle(f"Linear systems: accuracy vs N (dimensionless, log-log{_dom_title(top)})", y=1.02)
    fig.tight_layout()
    shared_legend(fig, axes, order)
    save(fig, outdir, name, "Accuracy vs N",
         "Relative error against the true solution (top) and relative residual (bottom) per "
         "method and density.", "linsolve", figures, log)


def fig_linsolve_iterations(points, outdir, figures, log):
    name = "linsolve_gs_iterations_vs_N"
    allpts = [p for p in points if p["kind"] == "linsolve" and nr.is_valid(p)
              and nr.number(p, "iterations") is not None and nr.number(p, "N")]
    if not allpts:
        log(f"note: skipping {name}: no converged Gauss-Seidel point with iterations")
        return
    pts, top = main_dominance(allpts, name, log)
    # Right panel: iterations vs dominance, for the series measured at >= 2 factors.
    by_series = collections.defaultdict(set)
    lab_nodom = make_labels(allpts, exclude=("dominance",))
    for p in allpts:
        by_series[(lab_nodom[id(p)], p.get("N"), p.get("source"))].add(nr.effective_dominance(p))
    dom_pts = [p for p in allpts
               if len(by_series[(lab_nodom[id(p)], p.get("N"), p.get("source"))] - {None}) >= 2]
    npan = 2 if dom_pts else 1
    fig, axes = new_figure(npan, ncols=npan, panel_w=6.4, panel_h=4.6)
    ax = axes[0]
    labels = make_labels(pts, group_fn=lambda p: p.get("N"))
    styles, order = build_styles(pts, labels)
    ser = series(pts, labels, lambda p: nr.number(p, "N"), lambda p: nr.number(p, "iterations"))
    draw_series(ax, ser, styles, order)
    set_log_ticks(ax, [nr.number(p, "N") for p in pts])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("N (unknowns)")
    ax.set_ylabel("iterations to tolerance [sweeps]")
    ax.set_title("vs N" + _dom_title(top))
    if dom_pts:
        ax2 = axes[1]
        labels2 = make_labels(dom_pts, exclude=("dominance",),
                              group_fn=lambda p: (p.get("N"), nr.effective_dominance(p)))
        for p in dom_pts:
            labels2[id(p)] = f"N={_g(p.get('N'))}, " + labels2[id(p)]
        styles2, order2 = build_styles(dom_pts, labels2)
        order2 = sorted(order2, key=_natural)
        ser2 = series(dom_pts, labels2, lambda p: nr.effective_dominance(p), lambda p: nr.number(p, "iterations"))
        draw_series(ax2, ser2, styles2, order2)
        set_log_ticks(ax2, [nr.effective_dominance(p) for p in dom_pts])
        ax2.set_ylim(bottom=0)
        ax2.axvline(1.0, color="0.5", lw=1.0, ls=":")
        ax2.set_xlabel("diagonal dominance factor a_ii / Σ_j≠i |a_ij| [–]")
        ax2.set_ylabel("iterations to tolerance [sweeps]")
        ax2.set_title("vs dominance (converged runs only)")
    fig.suptitle("Gauss-Seidel iterations to tolerance (converged runs)", y=1.02)
    fig.tight_layout()
    for a in axes:
        legend_below(fig, a)
    save(fig, outdir, name, "Gauss-Seidel iterations",
         "Sweeps until the relative residual reaches the tolerance, per variant and density; "
         "right: against the diagonal dominance factor.", "linsolve", figures, log)


def fig_linsolve_residuals(points, outdir, figures, log):
    name = "linsolve_residual_histories"
    pts = [p for p in points if p["kind"] == "linsolve" and nr.has_diagnostics(p)
           and isinstance(p.get("residual_history"), np.ndarray) and p["residual_history"].size > 0]
    if not pts:
        log(f"note: skipping {name}: no point with a residual_history")
        return
    configs = collections.Counter(gs_config(p) for p in pts)
    preferred = gs_config({"method": "gauss_seidel", "kind": "linsolve"})  # numlab's default configuration
    primary = preferred if preferred in configs else configs.most_common(1)[0][0]
    if len(configs) > 1:
        log(f"note: {name}: {base_label(_gs_point(primary))} "
            f"only ({len(configs) - 1} other Gauss-Seidel configuration(s) in the data)")
    pts = [p for p in pts if gs_config(p) == primary]
    dom = [p for p in pts if nr.effective_dominance(p) is None or nr.effective_dominance(p) >= 1.0]
    non = [p for p in pts if not (nr.effective_dominance(p) is None or nr.effective_dominance(p) >= 1.0)]
    panels = [(title, pp) for title, pp in
              (("diagonally dominant (factor ≥ 1)", dom), ("not diagonally dominant (factor < 1)", non)) if pp]
    if not non:
        log(f"note: {name}: no non-dominant matrix in the data; dominant panel only")
    fig, axes = new_figure(len(panels), ncols=len(panels), panel_w=6.4, panel_h=4.6)
    varying_density = len({nr.number(p, "density") for p in pts} - {None}) > 1
    problem = lambda p: (p.get("N"), nr.number(p, "density"), nr.effective_dominance(p))  # noqa: E731
    srcs = collections.defaultdict(set)
    for p in pts:
        srcs[problem(p)].add(p.get("source"))
    tols = {nr.number(p, "tol") for p in pts} - {None}
    for ax, (title, pp) in zip(axes, panels):
        pp = sorted(pp, key=lambda p: (nr.number(p, "N") or 0, -(nr.effective_dominance(p) or 0),
                                        nr.number(p, "density") or 0, str(p.get("source"))))
        cmap = plt.get_cmap("tab10" if len(pp) <= 10 else "tab20")
        for i, p in enumerate(pp):
            h = p["residual_history"]
            it = np.arange(h.size)
            ok = np.isfinite(h) & (h > 0)
            parts = [f"N={_g(p.get('N'))}"]
            if varying_density and nr.number(p, "density") is not None:
                parts.append(f"density {_g(nr.number(p, 'density'))}")
            f = nr.effective_dominance(p)
            if f is not None:
                parts.append(f"dominance {_g(f)}")
            if nr.status_of(p) != "converged":
                parts.append(nr.status_of(p))
            if len(srcs[problem(p)]) > 1:
                parts.append("{" + str(p.get("source")) + "}")
            color = cmap(i % cmap.N)
            conv = nr.status_of(p) == "converged"
            ax.plot(it[ok], h[ok], color=color, lw=1.5, label=", ".join(parts), linestyle="-" if conv else "--")
            if ok.any():
                last = np.nonzero(ok)[0][-1]
                div = nr.status_of(p) == "diverged"
                ax.plot([it[last]], [h[last]], marker="x" if div else "o", color=color,
                        markersize=8 if div else 4, mew=2 if div else 1, linestyle="none")
        if len(tols) == 1:
            ax.axhline(next(iter(tols)), color="0.4", lw=1, ls=":", label="tolerance")
        ax.set_yscale("log")
        ax.set_xlabel("iteration k [sweeps]")
        ax.set_ylabel("relative residual ‖b − Ax_k‖ / ‖b‖ [–]")
        ax.set_title(title)
    label = base_label(_gs_point(primary))
    fig.suptitle(f"Residual histories of {label}: dominant vs non-dominant matrices (× = diverged)", y=1.02)
    fig.tight_layout()
    for ax, (title, pp) in zip(axes, panels):
        legend_below(fig, ax, ncol=2 if len(pp) > 7 and len(panels) == 1 else 1)
    save(fig, outdir, name, "Residual histories: dominant vs non-dominant",
         f"Relative residual per sweep of {label} (log scale); dashed curves did not converge, "
         "× marks a run stopped as diverged.", "linsolve", figures, log)


def fig_linsolve_spectral(points, outdir, figures, log):
    name = "linsolve_spectral_radius"
    pts = [p for p in points if p["kind"] == "linsolve" and nr.has_diagnostics(p)
           and nr.number(p, "spectral_radius_estimate") is not None and nr.effective_dominance(p) is not None]
    if not pts:
        log(f"note: skipping {name}: no point with spectral_radius_estimate and a dominance")
        return
    # Series: one GS configuration on one N (and density) over several dominance factors.
    lab0 = make_labels(pts, exclude=("dominance",))
    facs = collections.defaultdict(set)
    for p in pts:
        facs[(lab0[id(p)], p.get("N"), p.get("source"))].add(nr.effective_dominance(p))
    keep = [p for p in pts if len(facs[(lab0[id(p)], p.get("N"), p.get("source"))]) >= 2]
    if not keep:
        log(f"note: skipping {name}: every series has a single dominance factor "
            "(run configs/linsolve_nondominant.yaml for a dominance sweep)")
        return
    if len(keep) < len(pts):
        log(f"note: {name}: {len(pts) - len(keep)} point(s) of series with one dominance factor left out")
    pts = keep
    labels = make_labels(pts, exclude=("dominance",), group_fn=lambda p: (p.get("N"), nr.effective_dominance(p)))
    for p in pts:
        labels[id(p)] = f"N={_g(p.get('N'))}, " + labels[id(p)]
    styles, order = build_styles(pts, labels)
    order = sorted(order, key=_natural)
    fig, axes = new_figure(1, panel_w=7.2, panel_h=4.8)
    ax = axes[0]
    ser = series(pts, labels, lambda p: nr.effective_dominance(p), lambda p: nr.number(p, "spectral_radius_estimate"))
    draw_series(ax, ser, styles, order)
    bad = [p for p in pts if nr.status_of(p) != "converged"]
    for p in bad:
        ax.plot([nr.effective_dominance(p)], [nr.number(p, "spectral_radius_estimate")], marker="x",
                color="black", markersize=9, mew=1.5, linestyle="none", zorder=5)
    ax.axhline(1.0, color="crimson", lw=1.2, ls="--", label="ρ = 1 (convergence limit)")
    ax.axvline(1.0, color="0.5", lw=1.0, ls=":", label="weak dominance (factor 1)")
    fs = [nr.effective_dominance(p) for p in pts]
    if max(fs) / max(min(fs), 1e-300) > 4:
        set_log_ticks(ax, fs)
    rho = [nr.number(p, "spectral_radius_estimate") for p in pts]
    if min(rho) > 0 and max(rho) / min(rho) > 30:
        ax.set_yscale("log")
    ax.set_xlabel("diagonal dominance factor a_ii / Σ_j≠i |a_ij| [–]")
    ax.set_ylabel("spectral radius estimate ρ(G) [–]")
    ax.set_title("Gauss-Seidel iteration matrix: spectral radius vs dominance")
    extra = [Line2D([], [], marker="x", color="black", linestyle="none", markersize=8,
                    label="did not converge (diverged / max iterations)")] if bad else []
    fig.tight_layout()
    shared_legend(fig, axes, order + ["ρ = 1 (convergence limit)", "weak dominance (factor 1)"], extra)
    save(fig, outdir, name, "Spectral radius vs dominance",
         "Power-iteration estimate of the Gauss-Seidel iteration matrix's spectral radius against the "
         "diagonal dominance factor" + (f" ({nr.levels_text(pts)})" if nr.levels_text(pts) else "")
         + "; ρ > 1: the iteration diverges.",
         "linsolve", figures, log)


# ------------------------------------------------------------------- attention figures

def _attn(points, metric):
    return [p for p in points if p["kind"] == "attention" and nr.valid_metric(p, metric) is not None
            and nr.number(p, "N")]


def fig_attention_time(points, outdir, figures, log, which):
    metric = f"{which}_seconds_median"
    name = f"attention_{which}_time_vs_N"
    pts = _attn(points, metric)
    if not pts:
        log(f"note: skipping {name}: no valid attention point with {metric}")
        return
    tqs = sorted({_tile(p, "tile_q") for p in pts} - {None})
    panels = tqs if len(tqs) > 1 else [None]
    exclude = ("tile_q",) if len(tqs) > 1 else ()
    labels = make_labels(pts, exclude=exclude, group_fn=lambda p: (_tile(p, "tile_q"), p.get("N")))
    styles, order = build_styles(pts, labels)
    fig, axes = new_figure(len(panels), panel_w=5.6, panel_h=4.2, sharey=True)
    for ax, tq in zip(axes, panels):
        pp = [p for p in pts if tq is None or _tile(p, "tile_q") in (None, tq)]
        ser = series(pp, labels, lambda p: nr.number(p, "N"), lambda p: nr.number(p, metric))
        draw_series(ax, ser, styles, order)
        set_log_ticks(ax, [nr.number(p, "N") for p in pp])
        ax.set_yscale("log")
        ax.set_title(f"tile_q = {tq}" if tq is not None else f"{which} pass")
        ax.set_xlabel("sequence length N")
        ax.set_ylabel(f"median {which} time [s]")
        ax.yaxis.set_tick_params(labelleft=True)
    fig.suptitle(f"Attention {which} time vs N per method and tile size (log-log)"
                 + ("; untiled methods and peers in every panel" if tq is not None else ""), y=1.02)
    fig.tight_layout()
    shared_legend(fig, axes, order)
    save(fig, outdir, name, f"Attention {which} time vs N",
         f"Median {which} time per method and tile size (tile_q per panel, tile_k in the legend). "
         "Dashed lines: peers.", "attention", figures, log)


def fig_attention_time_vs_tile(points, outdir, figures, log):
    passes = [(w, f"{w}_seconds_median") for w in ("forward", "backward")]
    tiled = [p for p in points if p["kind"] == "attention" and _tile(p, "tile_k") is not None]
    passes = [(w, m) for w, m in passes if any(nr.valid_metric(p, m) is not None for p in tiled)]
    tks = sorted({_tile(p, "tile_k") for p in tiled if nr.is_valid(p)} - {None})
    if len(tks) < 2 or not passes:
        log("note: skipping attention_time_vs_tile: fewer than two tile_k values among valid tiled points")
        return
    shape_keys = ("N", "N_kv", "B", "H", "D", "dtype", "causal")

    def shape(p):
        return tuple(nr.problem_value(p, k) for k in shape_keys)

    # Problems measured at >= 2 tile_k values; at most three rows (small, middle, largest N).
    by_shape = collections.defaultdict(set)
    for p in tiled:
        if nr.is_valid(p):
            by_shape[shape(p)].add(_tile(p, "tile_k"))
    shapes = sorted((s for s, ks in by_shape.items() if len(ks) >= 2), key=lambda s: (s[0] or 0, str(s)))
    if len(shapes) > 3:
        shapes = [shapes[0], shapes[len(shapes) // 2], shapes[-1]]
    untiled = [p for p in points if p["kind"] == "attention" and _tile(p, "tile_k") is None and nr.is_valid(p)]
    all_pts = [p for p in tiled if shape(p) in shapes and nr.is_valid(p)]
    labels = make_labels(all_pts + untiled, exclude=("tile_k", "N"),
                         group_fn=lambda p: (shape(p), _tile(p, "tile_k")))
    styles, order = build_styles(all_pts + untiled, labels)
    fig, axes = new_figure(len(shapes) * len(passes), ncols=len(passes), panel_w=5.8, panel_h=3.8)
    for r, s in enumerate(shapes):
        rep = next(p for p in all_pts if shape(p) == s)
        for c, (which, metric) in enumerate(passes):
            ax = axes[r * len(passes) + c]
            pp = [p for p in all_pts if shape(p) == s and nr.number(p, metric) is not None]
            ser = series(pp, labels, lambda p: float(_tile(p, "tile_k")), lambda p: nr.number(p, metric))
            draw_series(ax, ser, styles, order)
            for q in untiled:
                same = shape(q) == s or (q.get("is_peer") and nr.problems_match(rep, q, "attention"))
                v = nr.number(q, metric)
                if same and v is not None:
                    st = styles[labels[id(q)]]
                    ax.axhline(v, color=st["color"], ls=st["linestyle"] if q.get("is_peer") else "-.",
                               lw=1.3, label=labels[id(q)])
            set_log_ticks(ax, tks, base=2)
            ax.set_yscale("log")
            n, nkv, b, h, d, dt, causal = s
            ax.set_title(f"{which}: N={_g(n)}" + (f", N_kv={_g(nkv)}" if nkv and nkv != n else "")
                         + f", B={_g(b)} H={_g(h)} D={_g(d)}, {dt}" + (", causal" if causal else ""), fontsize=9.5)
            ax.set_xlabel("tile_k (key/value rows per tile)")
            ax.set_ylabel(f"median {which} time [s]")
    fig.suptitle("Attention time vs tile_k (horizontal lines: untiled methods and peers)", y=1.01)
    fig.tight_layout()
    shared_legend(fig, axes, order)
    save(fig, outdir, "attention_time_vs_tile", "Attention time vs tile size",
         "Forward and backward time against tile_k for each tile_q at a few sequence lengths; "
         "standard attention and peers as horizontal lines.", "attention", figures, log)


def fig_attention_tflops(points, outdir, figures, log):
    passes = [(w, f"{w}_tflops") for w in ("forward", "backward")]
    passes = [(w, m) for w, m in passes if _attn(points, m)]
    if not passes:
        log("note: skipping attention_tflops_vs_N: no valid point with forward_tflops or backward_tflops")
        return
    pts = [p for w, m in passes for p in _attn(points, m)]
    pts = list({id(p): p for p in pts}.values())
    labels = make_labels(pts, group_fn=lambda p: p.get("N"))
    styles, order = build_styles(pts, labels)
    fig, axes = new_figure(len(passes), ncols=len(passes), panel_w=6.0, panel_h=4.4)
    for ax, (which, metric) in zip(axes, passes):
        pp = _attn(pts, metric)
        ser = series(pp, labels, lambda p: nr.number(p, "N"), lambda p: nr.number(p, metric))
        draw_series(ax, ser, styles, order)
        set_log_ticks(ax, [nr.number(p, "N") for p in pp])
        ys = [nr.number(p, metric) for p in pp if (nr.number(p, metric) or 0) > 0]
        if ys and max(ys) / min(ys) > 20:
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
        ax.set_title(f"{which} pass")
        ax.set_xlabel("sequence length N")
        ax.set_ylabel(f"achieved {which} TFLOP/s [10¹² flop/s]")
    fig.suptitle("Attention throughput vs N (4·B·H·N·N_kv·D flop forward, ×2.5 backward, ½ causal)", y=1.02)
    fig.tight_layout()
    shared_legend(fig, axes, order)
    save(fig, outdir, "attention_tflops_vs_N", "Attention TFLOP/s vs N",
         "Achieved TFLOP/s per method and tile size.", "attention", figures, log)


def memory_bytes(p, which="forward"):
    """(bytes, key): peak memory of the method -- Kokkos allocations (numlab) or the
    peer's own measure. which="backward" on a point that holds both passes (a peer's
    SDPA point) reads its backward_peak_* metric."""
    if not nr.is_valid(p):
        return None, None
    keys = ("peak_device_bytes", "peak_host_bytes", "peak_memory_bytes")
    if which == "backward" and nr.number(p, "forward_seconds_median") is not None:
        keys = tuple("backward_" + k for k in keys)
    for key in keys:
        v = nr.number(p, key)
        if v is not None and v > 0:
            return v, key
    return None, None


def _is_backward_only(p):
    return nr.number(p, "forward_seconds_median") is None and (
        nr.number(p, "backward_seconds_median") is not None or str(p.get("method", "")).endswith("bwd"))


def _guide(ax, pts, labels, ymem, xs_all, g, preferred, text, style):
    """Draws c * g(p, N) over the panel's N range, c fitted to the preferred
    method's series with the most N values (else to the points at the smallest N)."""
    by_label = collections.defaultdict(list)
    for p in pts:
        if str(p.get("method")) in preferred and not p.get("is_peer"):
            by_label[labels[id(p)]].append(p)
    if by_label:
        anchor = max(by_label.values(), key=lambda ps: (len({nr.number(p, "N") for p in ps}), -len(ps)))
    else:
        anchor = [p for p in pts if nr.number(p, "N") == min(xs_all)]
    ratios = [ymem(p) / g(p, nr.number(p, "N")) for p in anchor]
    ratios = [r for r in ratios if r > 0 and math.isfinite(r)]
    if not ratios:
        return
    c = float(np.median(ratios))
    rep = anchor[0]
    n = np.geomspace(min(xs_all), max(xs_all), 50)
    y = c * np.array([g(rep, v) for v in n])
    ax.plot(n, y, color="0.25", lw=1.2, ls=style, label=text, zorder=4, alpha=0.9)


def fig_attention_memory(points, outdir, figures, log):
    name = "attention_peak_memory_vs_N"
    att = [p for p in points if p["kind"] == "attention" and nr.number(p, "N")]
    fwd = [p for p in att if not _is_backward_only(p) and memory_bytes(p, "forward")[0] is not None]
    bwd = [p for p in att if memory_bytes(p, "backward")[0] is not None
           and (_is_backward_only(p) or nr.number(p, "backward_seconds_median") is not None)]
    if not fwd and not bwd:
        log(f"note: skipping {name}: no valid point with peak_device_bytes")
        return
    panels = [(t, w, pp) for t, w, pp in (("forward", "forward", fwd), ("backward", "backward", bwd)) if pp]
    pts = list({id(p): p for _, _, pp in panels for p in pp}.values())
    # Memory hardly depends on tile_k (K/V tiles live in team scratch): one series per
    # tile_q, the median over tile_k; the tables list every tile size.
    labels = make_labels(pts, exclude=("tile_k",), group_fn=lambda p: p.get("N"))
    for p in pts:
        key = memory_bytes(p, "backward" if _is_backward_only(p) else "forward")[1] or ""
        if not key.endswith("peak_device_bytes"):
            labels[id(p)] += " (host alloc.)"
    styles, order = build_styles(pts, labels)
    fig, axes = new_figure(len(panels), ncols=len(panels), panel_w=6.2, panel_h=4.8)
    guide_labels = []
    for ax, (title, which, pp) in zip(axes, panels):
        ymem = lambda p, w=which: memory_bytes(p, w)[0] / MIB  # noqa: E731
        ser = series(pp, labels, lambda p: nr.number(p, "N"), ymem)
        draw_series(ax, ser, styles, order)
        xs = [nr.number(p, "N") for p in pp]
        if len(set(xs)) >= 2:
            tq_vals = collections.Counter(_tile(p, "tile_q") for p in pp if _tile(p, "tile_q"))
            tq = tq_vals.most_common(1)[0][0] if tq_vals else None
            num = lambda p, k: nr.number(p, k) or math.nan  # noqa: E731 - a guide without the value is not drawn
            guides = [
                (lambda p, n: n * n * num(p, "B") * num(p, "H"), ("standard",), "∝ N² (S and P)", ":"),
                (lambda p, n: n * num(p, "D"), ("flash", "flash_bwd"), "∝ N·D", (0, (5, 2))),
            ]
            if tq is not None:
                guides.insert(1, (lambda p, n: tq * n, ("tiled", "tiled_bwd"), f"∝ tile_q·N (tile_q={tq})", "-."))
            for g, pref, text, style in guides:
                _guide(ax, pp, labels, ymem, xs, g, pref, text, style)
                if text not in guide_labels:
                    guide_labels.append(text)
        set_log_ticks(ax, xs)
        ax.set_yscale("log")
        ax.set_title(f"{title} pass")
        ax.set_xlabel("sequence length N")
        ax.set_ylabel(f"peak memory of the {title} [MiB]")
    fig.suptitle("Attention peak memory vs N (log-log; grey guides scaled to the data)", y=1.02)
    fig.tight_layout()
    shared_legend(fig, axes, order + guide_labels)
    save(fig, outdir, name, "Attention peak memory vs N",
         "Peak memory of the allocations each method makes (numlab: Kokkos allocations through "
         "Kokkos Tools; peers: their own measure, marked host alloc.; median over tile_k) with "
         "N², tile_q·N and N·D guides.",
         "attention", figures, log)


def fig_attention_error(points, outdir, figures, log):
    metrics = [(m, t) for m, t in ERROR_METRICS if _attn(points, m)]
    if not metrics:
        log("note: skipping attention_error_vs_N: no valid point with an *_rel_fro_error metric")
        return
    pts = list({id(p): p for m, _ in metrics for p in _attn(points, m)}.values())
    labels = make_labels(pts, group_fn=lambda p: p.get("N"))
    styles, order = build_styles(pts, labels)
    fig, axes = new_figure(len(metrics), ncols=min(3, len(metrics)), panel_w=4.9, panel_h=3.8)
    zeros = 0
    for ax, (metric, title) in zip(axes, metrics):
        pp = _attn(pts, metric)
        zeros += sum(1 for p in pp if nr.number(p, metric) <= 0)
        ser = series(pp, labels, lambda p: nr.number(p, "N"),
                     lambda p: nr.number(p, metric) if nr.number(p, metric) > 0 else None)
        draw_series(ax, ser, styles, order)
        set_log_ticks(ax, [nr.number(p, "N") for p in pp])
        ax.set_yscale("log")
        ax.set_title(f"{title}: ‖X − X_ref‖_F / ‖X_ref‖_F")
        ax.set_xlabel("sequence length N")
        ax.set_ylabel("relative Frobenius error vs fp64 [–]")
    if zeros:
        log(f"note: attention_error_vs_N: {zeros} exact-zero errors not drawn on the log axis")
    fig.suptitle("Attention accuracy vs N against the fp64 reference", y=1.02)
    fig.tight_layout()
    shared_legend(fig, axes, order)
    save(fig, outdir, "attention_error_vs_N", "Attention error vs N",
         "Relative Frobenius error of the output O, the log-sum-exp L and the gradients dQ, dK, dV "
         "against numlab's fp64 reference, per method and tile size.", "attention", figures, log)


FIGURES = [
    ("linsolve", fig_linsolve_time), ("linsolve", fig_linsolve_accuracy), ("linsolve", fig_linsolve_iterations),
    ("linsolve", fig_linsolve_residuals), ("linsolve", fig_linsolve_spectral),
    ("attention", lambda *a: fig_attention_time(*a, which="forward")),
    ("attention", lambda *a: fig_attention_time(*a, which="backward")),
    ("attention", fig_attention_time_vs_tile), ("attention", fig_attention_tflops),
    ("attention", fig_attention_memory), ("attention", fig_attention_error),
]


def make_figures(files, outdir, log=print):
    """Writes every figure the data allows into outdir; returns the list of Figure.

    files: numlab_results.ResultFile objects (or paths)."""
    if files and isinstance(files[0], str):
        files = nr.load_files(files, log=log)
    os.makedirs(outdir, exist_ok=True)
    points = nr.all_points(files)
    figures = []
    kinds = {p["kind"] for p in points}
    for kind in ("linsolve", "attention"):
        if kind not in kinds:
            log(f"note: no {kind} points: its figures are skipped")
    for kind, fn in FIGURES:
        if kind not in kinds:
            continue
        try:
            fn(points, outdir, figures, log)
        except Exception as e:  # one broken figure must not cost the others
            import traceback
            log(f"warning: a figure failed ({getattr(fn, '__name__', fn)}): {e!r}\n{traceback.format_exc()}")
            plt.close("all")
    return figures


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="numlab or peer HDF5 files")
    ap.add_argument("-o", "--outdir", default="figures", help="folder for the PNGs (default: figures)")
    args = ap.parse_args(argv)
    files = nr.load_files(args.files, log=print)
    if not files:
        print("error: none of the files could be read", file=sys.stderr)
        return 1
    figs = make_figures(files, args.outdir)
    print(f"{len(figs)} figure(s) in {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
