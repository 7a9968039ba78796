#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Figures (PNG) of numlab results, peers overlaid.

Usage: scripts/plot.py RESULTS.h5 [more.h5 ...] -o DIR

Reads numlab HDF5 files and peer files in the same schema (root attribute
`peer`: numpy, scipy, torch, ...) and writes one PNG per figure the lab asks
for, as far as the files hold the data it needs (a figure without data is
skipped with a note):

  linear systems   linsolve_time_vs_N, linsolve_solve_ratio_to_peer,
                   linsolve_sweep_ratio_to_peer, linsolve_dense_ge,
                   linsolve_accuracy_vs_N, linsolve_gs_iterations_vs_N,
                   linsolve_residual_histories, linsolve_spectral_radius
  attention        attention_{forward,backward}_time_vs_N,
                   attention_{forward,backward}_tflops_vs_N,
                   attention_{forward,backward}_ratio_to_peer,
                   attention_time_vs_tile, attention_peak_memory_vs_N,
                   attention_error_vs_N

Designed for the data (scripts/figure_grid.py does the layout): small multiples
(attention: one panel per dtype, causal and head dim D; linear systems: one per
matrix family, titled with the generator's parameters); a series is one method
on one problem family (when B changes with N at a fixed token count B·N the
family is "B·N = 16k tokens", when H = 2048/D across panels it says so); bars:
min-max of the stored repetitions; at most figure_grid.LEGEND_MAX legend
entries (with more series the legend gives colours and markers apart and the
Figure's `mapping` lists every series); figures at most MAX_HEIGHT_PX tall and
MAX_BYTES large. Only points with status ok / solved / converged are plotted
as results; the residual histories and spectral radii also show diverged runs.

Use from Python: `import plot; plot.make_figures(files, outdir)` where files
come from numlab_results.load_files; each returned Figure records its pixel
size, file size and legend entries.
"""
import argparse
import collections
import re
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402
import numpy as np  # noqa: E402

import figure_grid as fg  # noqa: E402
import numlab_results as nr  # noqa: E402
from figure_grid import text  # noqa: E402

ERROR_METRICS = [("O_rel_fro_error", "O"), ("L_rel_fro_error", "L (log-sum-exp)"),
                 ("dQ_rel_fro_error", "dQ"), ("dK_rel_fro_error", "dK"), ("dV_rel_fro_error", "dV")]
MIB = 2.0 ** 20
LEGEND_MAX = fg.LEGEND_MAX
# Method options that bound resources or bookkeeping, not the computation: never part of a label.
NOT_LABEL = {"max_gib", "max_dense_gib", "vs_standard", "spectral_iters", "spectral_radius", "check_every",
             "divtol", "save_outputs", "max_iter"}
# Options base_label already names where they differ from numlab's default.
IN_BASE_LABEL = ("variant", "direction", "omega")


class Figure:
    """A written PNG: name (file stem), path, title, caption, kind, and what the tests check:
    width / height in pixels, bytes, legend_entries (of its one shared legend), panels, and
    mapping ((headers, rows) of every series where the legend is factorised, else None)."""

    def __init__(self, name, path, title, caption, kind, width=0, height=0, nbytes=0, legend_entries=0,
                 panels=1, mapping=None):
        self.name, self.path, self.title, self.caption, self.kind = name, path, title, caption, kind
        self.width, self.height, self.bytes = width, height, nbytes
        self.legend_entries, self.panels, self.mapping = legend_entries, panels, mapping
        self.legend_limit = LEGEND_MAX

    def __repr__(self):
        return (f"Figure({self.name!r}, {self.width}x{self.height} px, {self.bytes} B, "
                f"{self.legend_entries} legend entries)")


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


def _natural(s):
    """Sort key with numbers compared as numbers: q=64 < q=128, density 0.05 < 0.1."""
    parts = re.split(r"(\d+(?:\.\d+)?(?:e[-+]?\d+)?)", s)
    return [(0, float(t), "") if i % 2 else (1, 0.0, t) for i, t in enumerate(parts)]


def label_sort_key(label, p):
    m = str(p.get("method", ""))
    order = nr.method_order()
    rank = order.index(m) if m in order else len(order)
    return (1 if p.get("is_peer") else 0, rank, _natural(label))



# ------------------------------------------------------------------ series labels

def varying_options(points, exclude=()):
    """{method: [option keys]}: numlab's options of each method whose value differs between
    its points (a label names what tells its series apart, nothing else)."""
    sch = nr.schema()
    by_method = collections.defaultdict(list)
    for p in points:
        if not p.get("is_peer"):
            by_method[str(p.get("method"))].append(p)
    out = {}
    for m, pts in by_method.items():
        kind = pts[0].get("kind")
        keys = [o["key"] for o in sch.options(kind, m)] if sch else []
        keys = [k for k in keys if k not in exclude and k not in NOT_LABEL]
        out[m] = [k for k in keys if len({str(nr.value_or_default(p, k)) for p in pts}) > 1]
    return out


def method_label(p, options, exclude=()):
    """Method, its options that vary (`options` from varying_options), backend and [peer]."""
    lab = base_label(p, exclude=tuple(exclude) + ("tile_q", "tile_k", "dq"))
    extra = []
    for k in options.get(str(p.get("method")), []):
        if k in IN_BASE_LABEL:
            continue
        v = nr.value_or_default(p, k)
        if k in ("tile_q", "tile_k"):
            v = _tile(p, k) if _tile(p, k) is not None else v
        extra.append(f"{k}={_g(v)}")
    if extra:
        lab += " (" + ", ".join(extra) + ")"
    if p.get("backend") not in (None, ""):
        lab += f", {p['backend']}"
    if p.get("is_peer"):
        lab += f" [{p.get('peer')}]"
    return lab


def method_rank(p):
    order = nr.method_order()
    m = str(p.get("method", ""))
    return order.index(m) if m in order else len(order)


def tokens(n):
    n = int(n)
    return f"{n // 1024}k" if n >= 1024 and n % 1024 == 0 else str(n)


# ------------------------------------------------------------------ repetitions

def repetitions(p, metric):
    """The stored repetition times of a `*_seconds_median` metric: the dataset
    `<pass>_times_seconds` where the point has one, else `times_seconds` when its median is the
    metric (numlab stores the repetitions of the point's one timed metric there); None otherwise."""
    if not metric.endswith("_seconds_median"):
        return None
    med = nr.number(p, metric)
    if med is None:
        return None
    for ds in (metric.replace("_seconds_median", "_times_seconds"), "times_seconds"):
        t = p.get(ds)
        if isinstance(t, np.ndarray) and t.size and np.all(np.isfinite(t)):
            if math.isclose(float(np.median(t)), med, rel_tol=1e-6):
                return t
    return None


def time_spread(p, metric):
    t = repetitions(p, metric)
    return (None, None) if t is None else (float(t.min()), float(t.max()))


def rate_spread(p, metric, rate):
    """(lo, hi) of a rate (flop/s) from the time repetitions: rate * median / t."""
    t = repetitions(p, metric)
    med = nr.number(p, metric)
    if t is None or rate is None or not med or np.any(t <= 0):
        return None, None
    return float(rate * med / t.max()), float(rate * med / t.min())


# ------------------------------------------------------------------ problem families

def attention_panel(p):
    """(dtype, causal, D): the panel of an attention point."""
    c = nr.problem_value(p, "causal")
    return (str(p.get("dtype") or "float32"), bool(c) if c is not None else False, nr.number(p, "D") or 0.0)


def attention_panel_title(key, with_causal=True, with_dtype=True):
    dt, c, d = key
    parts = ([dt] if with_dtype else []) + (["causal" if c else "non-causal"] if with_causal else [])
    return f"D = {_g(d)}" + (", " + ", ".join(parts) if parts else "")


def attention_families(points, panel_of, series_of):
    """{id(p): family text}: what is held fixed along N in the point's series -- per panel,
    file and method: 'B = 1' or 'B·N = 16k tokens' (B changes with N), 'H = 16' or, where H·D is
    one number over the figure, 'H = 2048/D'; N_kv where it differs from N."""
    groups = collections.defaultdict(list)
    for p in points:
        groups[(panel_of(p), p.get("source"), series_of(p))].append(p)
    # H = c/D where one file's points keep H·D at one number c while H changes (with D)
    hd, hs = collections.defaultdict(set), collections.defaultdict(set)
    for p in points:
        hd[p.get("source")].add((nr.number(p, "H") or 0) * (nr.number(p, "D") or 0))
        hs[p.get("source")].add(nr.number(p, "H"))
    h_over_d = {src: next(iter(v)) for src, v in hd.items() if len(v) == 1 and len(hs[src]) > 1 and 0 not in v}
    fam = {}
    for pts in groups.values():
        bs = {nr.number(p, "B") for p in pts}
        bn = {(nr.number(p, "B") or 0) * (nr.number(p, "N") or 0) for p in pts}
        nkv = {nr.problem_value(p, "N_kv") for p in pts if _n_kv_differs(p)}
        for p in pts:
            parts = []
            if len(bs) == 1 or len(bn) != 1:
                parts.append(f"B = {_g(nr.number(p, 'B'))}")
            else:
                parts.append(f"B·N = {tokens(next(iter(bn)))} tokens")
            c = h_over_d.get(p.get("source"))
            parts.append(f"H = {_g(c)}/D" if c else f"H = {_g(nr.number(p, 'H'))}")
            if _n_kv_differs(p):
                parts.append(f"N_kv = {_g(nr.problem_value(p, 'N_kv'))}" if len(nkv) == 1 else "N_kv ≠ N")
            fam[id(p)] = ", ".join(parts)
    return fam


def place_families(panels, fam_of_series):
    """Moves the family text into the titles where it does not tell series apart: one family in
    the whole figure -> (suptitle part, {}); else the variant keys keep it. Returns the suptitle
    part ('' when the families stay in the legend)."""
    fams = {f for f in fam_of_series.values()}
    return next(iter(fams)) if len(fams) == 1 else ""


def best_per_x(points, metric, key_of, x_of):
    """The point with the smallest metric per (series key, x): numlab's best tile size."""
    best = {}
    for p in points:
        k = (key_of(p), x_of(p))
        v = nr.number(p, metric)
        if v is None:
            continue
        if k not in best or v < nr.number(best[k], metric):
            best[k] = p
    return list(best.values())


def log_x(ax, values, base=2):
    vals = sorted({float(v) for v in values if v is not None and v > 0})
    ax.set_xscale("log", base=base)
    if 1 <= len(vals) <= 10:
        ax.xaxis.set_major_locator(FixedLocator(vals))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: tokens(v) if base == 2 else _g(v)))
        ax.xaxis.set_minor_locator(NullLocator())


def write(fig_state, outdir, name, title, caption, kind, figures, log):
    fig, styles, nleg, npan = fig_state
    path = os.path.join(outdir, name + ".png")
    w, h, nbytes = fg.save_bounded(fig, path)
    log(f"wrote {path} ({w}x{h} px, {nbytes // 1024} KiB, {nleg} legend entries)")
    figures.append(Figure(name, path, title, caption, kind, w, h, nbytes, nleg, npan, styles.mapping()))


# ------------------------------------------------------------------ attention

def _attn(points, metric):
    return [p for p in points if p["kind"] == "attention" and nr.valid_metric(p, metric) is not None
            and nr.number(p, "N")]


class AttentionGrid:
    """Points of one attention figure arranged as panels (dtype, causal, D) with series
    (method label, family)."""

    def __init__(self, pts, exclude=("tile_q", "tile_k")):
        self.pts = pts
        opts = varying_options(pts, exclude=exclude)
        self.label = {id(p): method_label(p, opts) for p in pts}
        fam = attention_families(pts, attention_panel, lambda p: self.label[id(p)])
        self.common = place_families(None, {id(p): f for p, f in ((p, fam[id(p)]) for p in pts)})
        self.fam = {k: ("" if self.common else v) for k, v in fam.items()}
        keys = sorted({attention_panel(p) for p in pts}, key=lambda k: (k[0], k[1], k[2]))
        self.dtypes = {k[0] for k in keys}
        self.causals = {k[1] for k in keys}
        self.panels = {k: fg.Panel(k, attention_panel_title(k, len(self.causals) > 1 or True,
                                                             len(self.dtypes) > 1 or True)) for k in keys}
        self.order = keys

    def series(self, p):
        return self.panels[attention_panel(p)].get(self.label[id(p)], self.fam[id(p)], bool(p.get("is_peer")),
                                                   (method_rank(p),))

    def ncols(self):
        return len({k[2] for k in self.order})

    def suptitle(self, what):
        return what + (f" ({self.common})" if self.common else "")

    def panel_list(self):
        # rows: dtype x causal, columns: D (a missing combination leaves its cell to the next panel)
        return [self.panels[k] for k in self.order]


def _configure_n(ylabel, ylog=True, zero=False):
    def conf(ax, panel):
        xs = [x for s in panel.series.values() for x in s.values]
        log_x(ax, xs)
        if ylog:
            ax.set_yscale("log")
        elif zero:
            ax.set_ylim(bottom=0)
        ax.set_xlabel("sequence length N")
        ax.set_ylabel(ylabel)
    return conf


def fig_attention_time(points, outdir, figures, log, which):
    metric = f"{which}_seconds_median"
    name = f"attention_{which}_time_vs_N"
    pts = _attn(points, metric)
    if not pts:
        log(f"note: skipping {name}: no valid attention point with {metric}")
        return
    g = AttentionGrid(pts)
    for p in best_per_x(pts, metric, lambda p: (attention_panel(p), g.label[id(p)], g.fam[id(p)]),
                        lambda p: nr.number(p, "N")):
        lo, hi = time_spread(p, metric)
        g.series(p).add(nr.number(p, "N"), nr.number(p, metric) * 1e3, lo and lo * 1e3, hi and hi * 1e3)
    st = fg.draw(g.panel_list(), g.suptitle(f"Attention {which} time vs N (log-log; each method at its best "
                                           "tile size; bars: min-max of the repetitions)"),
                 ncols=g.ncols(), configure=_configure_n(f"median {which} time [ms]"), log=log, name=name)
    write(st, outdir, name, f"Attention {which} time vs N",
          f"Median {which} time per method at its fastest tile size, one panel per head dim D, dtype and "
          "causal; bars span the fastest and slowest repetition. Dashed, hollow: peers.",
          "attention", figures, log)


def fig_attention_tflops(points, outdir, figures, log, which):
    metric, tmetric = f"{which}_tflops", f"{which}_seconds_median"
    name = f"attention_{which}_tflops_vs_N"
    pts = [p for p in _attn(points, metric) if nr.number(p, tmetric) is not None]
    if not pts:
        log(f"note: skipping {name}: no valid point with {metric}")
        return
    g = AttentionGrid(pts)
    for p in best_per_x(pts, tmetric, lambda p: (attention_panel(p), g.label[id(p)], g.fam[id(p)]),
                        lambda p: nr.number(p, "N")):
        lo, hi = rate_spread(p, tmetric, nr.number(p, metric))
        g.series(p).add(nr.number(p, "N"), nr.number(p, metric), lo, hi)
    ys = [nr.number(p, metric) for p in pts if (nr.number(p, metric) or 0) > 0]
    ylog = bool(ys) and max(ys) / min(ys) > 20
    flops = "4·B·H·N·N_kv·D flop" + (", ×2.5 backward" if which == "backward" else "") + ", ½ causal"
    st = fg.draw(g.panel_list(), g.suptitle(f"Attention {which} throughput vs N ({flops})"), ncols=g.ncols(),
                 configure=_configure_n(f"{which} TFLOP/s", ylog=ylog, zero=True), log=log, name=name)
    write(st, outdir, name, f"Attention {which} TFLOP/s vs N",
          f"Achieved {which} TFLOP/s per method at its fastest tile size; bars from the fastest and slowest "
          "repetition.", "attention", figures, log)


def peer_ratios(points, metric, ok=nr.is_valid):
    """[(numlab point, best peer point, ratio)]: numlab's time over the fastest peer point with the
    same problem parameters (numlab_results.problems_match), for every numlab point with the metric."""
    mine = [p for p in points if not p.get("is_peer") and ok(p) and nr.number(p, metric) is not None]
    peers = [q for q in points if q.get("is_peer") and nr.is_valid(q) and nr.number(q, metric) is not None]
    out = []
    for p in mine:
        match = [q for q in peers if q.get("kind") == p.get("kind") and nr.problems_match(p, q)]
        if match:
            q = min(match, key=lambda q: nr.number(q, metric))
            out.append((p, q, nr.number(p, metric) / nr.number(q, metric)))
    return out


def _one_line(ax):
    ax.axhline(1.0, color="0.2", lw=1.1, ls=":", zorder=1)


def _ratio_axis(ax, ratios):
    rs = [r for r in ratios if r > 0]
    if rs and max(max(rs), 1.0) / min(min(rs), 1.0) > 8:
        ax.set_yscale("log")
    else:
        lo, hi = min(rs + [1.0]), max(rs + [1.0])
        pad = 0.08 * (hi - lo or 1.0)
        ax.set_ylim(max(0.0, lo - pad), hi + pad)


def _peer_names(rows):
    return ", ".join(sorted({f"{q.get('method')} [{q.get('peer')}]" for _, q, _ in rows}))


def fig_attention_ratio(points, outdir, figures, log, which):
    metric = f"{which}_seconds_median"
    name = f"attention_{which}_ratio_to_peer"
    rows = [r for r in peer_ratios([p for p in points if p["kind"] == "attention"], metric)
            if nr.number(r[0], "N")]
    if not rows:
        log(f"note: skipping {name}: no numlab {which} point with a peer point of the same problem")
        return
    g = AttentionGrid([p for p, _, _ in rows])
    ratio = {id(p): r for p, _, r in rows}
    for p in best_per_x([p for p, _, _ in rows], metric,
                        lambda p: (attention_panel(p), g.label[id(p)], g.fam[id(p)]), lambda p: nr.number(p, "N")):
        g.series(p).add(nr.number(p, "N"), ratio[id(p)])
    for pan in g.panels.values():
        pan.extras.append(_one_line)

    def conf(ax, panel):
        _configure_n(f"{which} time: numlab / best peer", ylog=False)(ax, panel)
        _ratio_axis(ax, [y for s in panel.series.values() for v in s.values.values() for y, _, _ in v])
    st = fg.draw(g.panel_list(), g.suptitle(f"Attention {which}: numlab time / fastest peer at the same problem "
                                           "(< 1: numlab faster)"), ncols=g.ncols(), configure=conf,
                 extra_legend=[Line2D([], [], color="0.2", ls=":", label="1.0: as fast as the best peer")],
                 log=log, name=name)
    write(st, outdir, name, f"Attention {which}: ratio to the best peer",
          f"numlab's median {which} time (best tile size) divided by the fastest peer point with the same "
          f"problem parameters, per N; peers compared: {_peer_names(rows)}.", "attention", figures, log)


def fig_attention_time_vs_tile(points, outdir, figures, log):
    passes = [(w, f"{w}_seconds_median") for w in ("forward", "backward")]
    tiled = [p for p in points if p["kind"] == "attention" and _tile(p, "tile_k") and nr.is_valid(p)]
    passes = [(w, m) for w, m in passes if any(nr.number(p, m) is not None for p in tiled)]
    tks = sorted({_tile(p, "tile_k") for p in tiled} - {None})
    if len(tks) < 2 or not passes:
        log("note: skipping attention_time_vs_tile: fewer than two tile_k values among valid tiled points")
        return
    shape_keys = ("N", "N_kv", "B", "H", "D", "dtype", "causal")

    def shape(p):
        return tuple(nr.problem_value(p, k) for k in shape_keys)

    by_shape = collections.defaultdict(set)
    for p in tiled:
        by_shape[shape(p)].add(_tile(p, "tile_k"))
    shapes = sorted((s for s, ks in by_shape.items() if len(ks) >= 2), key=lambda s: (s[0] or 0, str(s)))
    if len(shapes) > 3:  # small, middle and largest N
        shapes = [shapes[0], shapes[len(shapes) // 2], shapes[-1]]
    pts = [p for p in tiled if shape(p) in shapes]
    opts = varying_options(pts, exclude=("tile_k", "tile_q"))
    panels = []
    for s in shapes:
        n, nkv, b, h, d, dt, causal = s
        for which, metric in passes:
            pan = fg.Panel((s, which), f"{which}: N = {_g(n)}, B = {_g(b)}, H = {_g(h)}, D = {_g(d)}, {dt}"
                           + (", causal" if causal else ""))
            for p in pts:
                if shape(p) == s and nr.number(p, metric) is not None:
                    lo, hi = time_spread(p, metric)
                    pan.get(method_label(p, opts), f"tile_q = {_tile(p, 'tile_q')}", False, (method_rank(p),)).add(
                        float(_tile(p, "tile_k")), nr.number(p, metric) * 1e3, lo and lo * 1e3, hi and hi * 1e3)
            panels.append(pan)

    def conf(ax, panel):
        log_x(ax, tks, base=2)
        ax.set_yscale("log")
        ax.set_xlabel("tile_k (key/value rows per tile)")
        ax.set_ylabel(f"median {panel.key[1]} time [ms]")
    st = fg.draw(panels, "Attention time vs tile_k per tile_q (bars: min-max of the repetitions)",
                 ncols=len(passes), configure=conf, log=log, name="attention_time_vs_tile")
    write(st, outdir, "attention_time_vs_tile", "Attention time vs tile size",
          "Forward and backward time against tile_k for each tile_q at a few sequence lengths.",
          "attention", figures, log)


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


def _guide(series_pts, ymem, g, text_, style):
    """A grey line c * g(p) through the N of the anchor series' points, c fitted to them."""
    pts = sorted(series_pts, key=lambda p: nr.number(p, "N"))
    ratios = [ymem(p) / g(p) for p in pts if g(p) and math.isfinite(g(p))]
    ratios = [r for r in ratios if r > 0 and math.isfinite(r)]
    if len(pts) < 2 or not ratios:
        return None
    c = float(np.median(ratios))
    xs = [nr.number(p, "N") for p in pts]
    ys = [c * g(p) for p in pts]

    def draw(ax):  # named at its end rather than in the legend (the legend is for the methods)
        ax.plot(xs, ys, color="0.25", lw=1.1, ls=style, zorder=4, alpha=0.9)
        ax.annotate(text_, (xs[-1], ys[-1]), xytext=(-6, -4), textcoords="offset points", fontsize=7,
                    color="0.2", ha="right", va="top", annotation_clip=False)
    return draw


GUIDES = [  # (methods whose series anchors the guide, g(point), legend text, line style)
    (("standard",), lambda p: (nr.number(p, "B") or math.nan) * (nr.number(p, "H") or math.nan)
     * nr.number(p, "N") * (nr.problem_value(p, "N_kv") or nr.number(p, "N")), "∝ B·H·N·N_kv (S and P)", ":"),
    (("tiled", "tiled_bwd"), lambda p: (nr.number(p, "B") or math.nan) * (_tile(p, "tile_q") or math.nan)
     * (nr.problem_value(p, "N_kv") or nr.number(p, "N")), "∝ B·tile_q·N_kv", "-."),
    (("flash", "flash_bwd"), lambda p: (nr.number(p, "B") or math.nan) * (nr.number(p, "H") or math.nan)
     * nr.number(p, "N") * (nr.number(p, "D") or math.nan), "∝ B·H·N·D (Q, K, V, O)", (0, (5, 2))),
]


def fig_attention_memory(points, outdir, figures, log):
    name = "attention_peak_memory_vs_N"
    att = [p for p in points if p["kind"] == "attention" and nr.number(p, "N")]
    pts = []
    which_of = {}
    for p in att:
        which = "backward" if _is_backward_only(p) else "forward"
        if memory_bytes(p, which)[0] is not None:
            pts.append(p)
            which_of[id(p)] = which
    if not pts:
        log(f"note: skipping {name}: no valid point with peak_device_bytes")
        return
    # One series per method: its smallest peak over the tile sizes (the tables list every tile).
    g = AttentionGrid(pts)
    for p in pts:
        if not (memory_bytes(p, which_of[id(p)])[1] or "").endswith("peak_device_bytes"):
            g.label[id(p)] += " (host alloc.)"
    ymem = lambda p: memory_bytes(p, which_of[id(p)])[0] / MIB  # noqa: E731
    chosen = {}
    for p in pts:
        k = (attention_panel(p), g.label[id(p)], g.fam[id(p)], nr.number(p, "N"))
        if k not in chosen or ymem(p) < ymem(chosen[k]):
            chosen[k] = p
    by_series = collections.defaultdict(list)
    for p in chosen.values():
        g.series(p).add(nr.number(p, "N"), ymem(p))
        by_series[(attention_panel(p), g.label[id(p)], g.fam[id(p)])].append(p)
    for key, pan in g.panels.items():
        for methods, gfun, txt, style in GUIDES:
            cands = [ps for (k, lab, _), ps in by_series.items() if k == key and not ps[0].get("is_peer")
                     and str(ps[0].get("method")) in methods]
            if not cands:
                continue
            d = _guide(max(cands, key=len), ymem, gfun, txt, style)
            if d:
                pan.extras.append(d)
    st = fg.draw(g.panel_list(), g.suptitle("Attention peak memory vs N (log-log; grey guides fitted to the data)"),
                 ncols=g.ncols(), configure=_configure_n("peak memory [MiB]"),
                 log=log, name=name)
    write(st, outdir, name, "Attention peak memory vs N",
          "Peak memory of the allocations each method makes (numlab: Kokkos allocations through Kokkos "
          "Tools; peers: their own measure, marked host alloc. where not device memory) at the tile size "
          "with the smallest peak, forward and "
          "backward methods in one panel, with guides through the methods' own points.",
          "attention", figures, log)


def fig_attention_error(points, outdir, figures, log):
    metrics = [(m, t) for m, t in ERROR_METRICS if _attn(points, m)]
    name = "attention_error_vs_N"
    if not metrics:
        log(f"note: skipping {name}: no valid point with an *_rel_fro_error metric")
        return
    pts = list({id(p): p for m, _ in metrics for p in _attn(points, m)}.values())
    # One series per method: the median over its tile sizes, bars from the smallest to the largest.
    opts = varying_options(pts, exclude=("tile_q", "tile_k"))
    label = {id(p): method_label(p, opts) for p in pts}
    fam = attention_families(pts, attention_panel, lambda p: label[id(p)])
    dts = sorted({attention_panel(p)[0] for p in pts})
    ds, cs = {attention_panel(p)[2] for p in pts}, {attention_panel(p)[1] for p in pts}
    fams = set(fam.values())

    def variant(p):
        _, c, d = attention_panel(p)
        parts = ([f"D = {_g(d)}"] if len(ds) > 1 else []) + (["causal" if c else "non-causal"] if len(cs) > 1 else [])
        return ", ".join(parts + ([fam[id(p)]] if len(fams) > 1 else []))
    panels = []
    zeros = 0
    for dt in dts:
        for metric, title in metrics:
            pan = fg.Panel((dt, metric), f"{title}, {dt}")
            for p in pts:
                v = nr.number(p, metric)
                if attention_panel(p)[0] != dt or v is None:
                    continue
                if v <= 0:
                    zeros += 1
                    continue
                pan.get(label[id(p)], variant(p), bool(p.get("is_peer")), (method_rank(p),)).add(nr.number(p, "N"), v)
            panels.append(pan)
    if zeros:
        log(f"note: {name}: {zeros} exact-zero errors not drawn on the log axis")
    common = next(iter(fams)) if len(fams) == 1 else ""
    st = fg.draw(panels, "Attention error vs N: ‖X − X_ref‖_F / ‖X_ref‖_F against the fp64 reference"
                 + (f" ({common})" if common else ""), ncols=min(3, len(metrics)),
                 configure=_configure_n("relative Frobenius error [–]"), log=log, name=name)
    write(st, outdir, name, "Attention error vs N",
          "Relative Frobenius error of the output O, the log-sum-exp L and the gradients dQ, dK, dV against "
          "numlab's fp64 reference, one panel per output and dtype; a method run at several tile sizes: the "
          "median over them, bars from the smallest to the largest error.", "attention", figures, log)


# ------------------------------------------------------------------ linear systems

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

def linsolve_family(p):
    """(sort key..., title) of a matrix family, titled with the generator's own parameters (2D
    Poisson has no dominance factor). A peer point that records fewer parameters than numlab's
    belongs to the family of the numlab point it matches (see LinsolveGrid)."""
    gen = str(p.get("generator") or "")
    d = nr.number(p, "density")
    f = nr.effective_dominance(p)
    if gen == "poisson2d":
        return (1, 0.0, 0.0, "2D Poisson (5-point stencil)")
    if gen == "matrix_market":
        return (3, 0.0, 0.0, "Matrix Market " + os.path.basename(str(p.get("path", ""))))
    if gen == "randsvd":
        return (2, nr.number(p, "cond") or 0.0, 0.0,
                f"randsvd, cond {_g(nr.number(p, 'cond'))}, {p.get('sv_distribution', 'geometric')} σ")
    if d is not None:
        level = LEVELS.get(f)
        dom = "" if f is None else f", dominance {_g(f)}" + (f" ({level})" if level else "")
        return (0, d, -(f or 0.0), f"random sparse, density {_g(d)}{dom}")
    return (4, 0.0, 0.0, "other problems")


# {effective dominance factor: named level} of the points being drawn (make_figures sets it).
LEVELS = {}


def adopt_families(pts):
    """{id(p): family}: numlab points their own; a peer point the family of the first numlab
    point whose problem it matches (a SciPy point records N and density, not the dominance)."""
    mine = [p for p in pts if not p.get("is_peer")]
    out = {}
    for p in pts:
        if p.get("is_peer"):
            m = next((q for q in mine if nr.problems_match(q, p, "linsolve")), None)
            out[id(p)] = linsolve_family(m if m is not None else p)
        else:
            out[id(p)] = linsolve_family(p)
    return out


def main_dominance(pts, name, log):
    """The N-scaling figures compare methods on one kind of matrix: of random sparse points over
    several dominance factors, the most dominant (the lab's strictly dominant sweep); the others
    appear in the dominance figures. Other generators have no dominance factor and stay."""
    rs = [p for p in pts if str(p.get("generator") or "random_sparse") == "random_sparse"]
    facs = {nr.effective_dominance(p) for p in rs} - {None}
    if len(facs) <= 1:
        return pts
    top = max(facs)
    log(f"note: {name}: random sparse at dominance factor {_g(top)} only (also in the data: "
        f"{', '.join(_g(f) for f in sorted(facs - {top}))}; see linsolve_spectral_radius)")
    return [p for p in pts if p not in rs or nr.effective_dominance(p) in (None, top)]


def numlab_families(pts, name, log):
    """Points of families that hold numlab points (peer-only families are dropped)."""
    fam = adopt_families(pts)
    mine = {fam[id(p)] for p in pts if not p.get("is_peer")}
    if not mine:
        return pts
    dropped = sorted({fam[id(p)] for p in pts} - mine)
    if dropped:
        log(f"note: {name}: peer points without a numlab counterpart left out: {', '.join(t[3] for t in dropped)}")
    return [p for p in pts if fam[id(p)] in mine]


def drop_configuration_sweeps(pts, name, log):
    """Without families run at one N over more configurations than a legend holds: an N axis says
    nothing about them (linsolve_dense_ge_configurations draws them as bars)."""
    fam = adopt_families(pts)
    opts = varying_options(pts)
    ns, labs = collections.defaultdict(set), collections.defaultdict(set)
    for p in pts:
        ns[fam[id(p)]].add(nr.number(p, "N"))
        labs[fam[id(p)]].add(method_label(p, opts))
    drop = {f for f in ns if len(ns[f]) == 1 and len(labs[f]) > LEGEND_MAX}
    if drop:
        log(f"note: {name}: {', '.join(f[3] for f in sorted(drop))}: one N, "
            f"{max(len(labs[f]) for f in drop)} configurations (see linsolve_dense_ge_configurations)")
    return [p for p in pts if fam[id(p)] not in drop]


class LinsolveGrid:
    """Panels per matrix family; `families` ({id(p): family}) where the caller placed points itself."""

    def __init__(self, pts, families=None, exclude=()):
        opts = varying_options(pts, exclude=exclude)
        self.label = {id(p): method_label(p, opts) for p in pts}
        self.fam = adopt_families(pts)
        for p in pts:
            if families and id(p) in families and families[id(p)] != self.fam[id(p)]:
                self.label[id(p)] += f" on {self.fam[id(p)][3]}"
                self.fam[id(p)] = families[id(p)]
        keys = sorted(set(self.fam.values()))
        self.panels = {k: fg.Panel(k, k[3]) for k in keys}
        self.keys = keys

    def family(self, p):
        return self.fam[id(p)]

    def series(self, p, variant=""):
        return self.panels[self.fam[id(p)]].get(self.label[id(p)], variant, bool(p.get("is_peer")),
                                                (method_rank(p),))

    def panel_list(self):
        return [self.panels[k] for k in self.keys]


def _configure_lin(ylabel, ylog=True):
    def conf(ax, panel):
        log_x(ax, [x for s in panel.series.values() for x in s.values], base=10)
        if ylog:
            ax.set_yscale("log")
        ax.set_xlabel("N (unknowns)")
        ax.set_ylabel(ylabel)
    return conf


def _time_unit(values):
    m = max(values) if values else 1.0
    return (1e3, "ms") if m < 1.0 else (1.0, "s")


def fig_linsolve_time(points, outdir, figures, log):
    name = "linsolve_time_vs_N"
    metric = "solve_seconds_median"
    pts = [p for p in points if p["kind"] == "linsolve" and nr.valid_metric(p, metric) and nr.number(p, "N")]
    if not pts:
        log(f"note: skipping {name}: no valid linsolve point with {metric}")
        return
    pts = drop_configuration_sweeps(numlab_families(main_dominance(pts, name, log), name, log), name, log)
    if not pts:
        return
    g = LinsolveGrid(pts)
    scale, unit = _time_unit([nr.number(p, metric) for p in pts])
    for p in pts:
        lo, hi = time_spread(p, metric)
        g.series(p).add(nr.number(p, "N"), nr.number(p, metric) * scale, lo and lo * scale, hi and hi * scale)
    st = fg.draw(g.panel_list(), "Linear systems: solve time vs N (median, bars: min-max of the repetitions)",
                 configure=_configure_lin(f"median solve time [{unit}]"), log=log, name=name)
    write(st, outdir, name, "Solve time vs N",
          "Median solve time per method, one panel per matrix family (log-log); bars span the fastest and "
          "slowest repetition (two files of one problem: both). Dashed, hollow: peers.",
          "linsolve", figures, log)


def fig_linsolve_ratio(points, outdir, figures, log, metric):
    what = metric.replace("_seconds_median", "")
    name = f"linsolve_{what}_ratio_to_peer"
    ok = nr.has_diagnostics if metric == "sweep_seconds_median" else nr.is_valid
    lin = [p for p in points if p["kind"] == "linsolve" and nr.number(p, "N")]
    lin = main_dominance(lin, name, log)
    rows = peer_ratios(lin, metric, ok)
    if not rows:
        log(f"note: skipping {name}: no numlab point with a peer point of the same problem")
        return
    g = LinsolveGrid([p for p, _, _ in rows])
    for p, _, r in rows:
        g.series(p).add(nr.number(p, "N"), r)
    for pan in g.panels.values():
        pan.extras.append(_one_line)

    def conf(ax, panel):
        _configure_lin(f"{what} time: numlab / best peer", ylog=False)(ax, panel)
        _ratio_axis(ax, [y for s in panel.series.values() for v in s.values.values() for y, _, _ in v])
    st = fg.draw(g.panel_list(), f"Linear systems: numlab {what} time / fastest peer at the same problem "
                 "(< 1: numlab faster)", configure=conf,
                 extra_legend=[Line2D([], [], color="0.2", ls=":", label="1.0: as fast as the best peer")],
                 log=log, name=name)
    write(st, outdir, name, f"Linear systems: {what} time ratio to the best peer",
          f"numlab's median {what} time divided by the fastest peer point with the same problem parameters; "
          f"peers compared: {_peer_names(rows)}.", "linsolve", figures, log)


def dense_flops(points):
    """{problem key: flop count} of the dense factorisations: numlab's gflops x its median time
    (numlab counts 2/3 N^3 + 2 N^2 for gauss_elim and its reference)."""
    out = {}
    for p in points:
        if not p.get("is_peer") and nr.number(p, "gflops") and nr.number(p, "solve_seconds_median"):
            out.setdefault(nr.problem_key(p), nr.number(p, "gflops") * 1e9 * nr.number(p, "solve_seconds_median"))
    return out


def fig_linsolve_dense(points, outdir, figures, log):
    """Dense GE: time and TFLOP/s vs N (or per configuration where one N was run)."""
    name = "linsolve_dense_ge"
    metric = "solve_seconds_median"
    lin = [p for p in points if p["kind"] == "linsolve" and nr.valid_metric(p, metric) and nr.number(p, "N")]
    flops = dense_flops(lin)
    if not flops:
        log(f"note: skipping {name}: no numlab point with gflops (dense GE)")
        return
    pts = [p for p in lin if nr.problem_key(p) in flops and nr.number(p, "sweep_seconds_median") is None
           and (p.get("is_peer") or nr.number(p, "gflops") or str(p.get("method")) == "mixed_refinement")]
    pts = main_dominance(pts, name, log)
    peers = [q for q in lin if q.get("is_peer") and q not in pts]
    mine_problems = [p for p in pts if not p.get("is_peer")]
    pts += [q for q in peers if any(nr.problems_match(p, q) for p in mine_problems)]
    pts = list({id(p): p for p in pts}.values())
    rate = {}
    for p in pts:
        f = flops.get(nr.problem_key(p))
        if f is None:
            f = next((flops[nr.problem_key(m)] for m in mine_problems if nr.problems_match(m, p)), None)
        if f:
            rate[id(p)] = f / nr.number(p, metric) / 1e12
    # A peer's dense factorisation (it records gflops) of another matrix of the same N: dense
    # elimination's time does not depend on the entries, so it is drawn beside numlab's, its
    # matrix named in its label (e.g. torch.linalg.solve on the H100 at N = 16384).
    fam = adopt_families(pts)
    by_n = {}
    for p in mine_problems:
        by_n.setdefault(nr.number(p, "N"), p)
    other = {}
    for q in lin:
        m = by_n.get(nr.number(q, "N"))
        if q.get("is_peer") and id(q) not in fam and nr.number(q, "gflops") and m is not None:
            other[id(q)] = fam[id(m)]
            rate[id(q)] = flops[nr.problem_key(m)] / nr.number(q, metric) / 1e12
            pts.append(q)
            fam[id(q)] = fam[id(m)]
    if other:
        log(f"note: {name}: {len(other)} peer dense solve(s) of another matrix of the same N drawn beside numlab's")
    ns = collections.defaultdict(set)
    for p in pts:
        ns[fam[id(p)]].add(nr.number(p, "N"))
    # A family measured at one N (a sweep of the configurations) gets bars, the others lines over N.
    bars = [p for p in pts if len(ns[fam[id(p)]]) == 1]
    if bars:
        _dense_bars(bars, LinsolveGrid(bars, fam), rate, metric, outdir, figures, log, name + "_configurations")
    pts = [p for p in pts if len(ns[fam[id(p)]]) > 1]
    if not pts:
        return
    g = LinsolveGrid(pts, fam)
    scale, unit = _time_unit([nr.number(p, metric) for p in pts])
    panels = []
    for k in g.keys:
        tp, rp = fg.Panel((k, "t"), k[3]), fg.Panel((k, "r"), k[3])
        for p in pts:
            if g.family(p) != k:
                continue
            lab, peer, order = g.label[id(p)], bool(p.get("is_peer")), (method_rank(p),)
            lo, hi = time_spread(p, metric)
            tp.get(lab, "", peer, order).add(nr.number(p, "N"), nr.number(p, metric) * scale,
                                             lo and lo * scale, hi and hi * scale)
            if id(p) in rate:
                lo, hi = rate_spread(p, metric, rate[id(p)])
                rp.get(lab, "", peer, order).add(nr.number(p, "N"), rate[id(p)], lo, hi)
        panels += [tp, rp]
    def conf(ax, panel):
        t = panel.key[1] == "t"
        _configure_lin(f"median solve time [{unit}]" if t else "TFLOP/s (2/3 N³ flop)", ylog=t)(ax, panel)
        if not t:
            ax.set_ylim(bottom=0)
    st = fg.draw(panels, "Dense Gaussian elimination: solve time and TFLOP/s vs N (bars: min-max of the "
                 "repetitions)", ncols=2, configure=conf, log=log, name=name)
    write(st, outdir, name, "Dense GE: time and TFLOP/s",
          "Dense Gaussian elimination (numlab's gauss_elim and its LAPACK / cuSOLVER reference) and the peers "
          "on the same matrices: median solve time (left) and the rate at the dense flop count 2/3 N³ "
          "(right; for a peer that does not factorise densely an effective rate).", "linsolve", figures, log)


def _dense_bars(pts, g, rate, metric, outdir, figures, log, name):
    """One N: a horizontal bar per configuration, time and TFLOP/s side by side (no legend needed)."""
    pts = sorted(pts, key=lambda p: nr.number(p, metric))
    labels = [g.label[id(p)] for p in pts]
    h = min(fg.MAX_HEIGHT_PX / fg.DPI - 1.0, 1.2 + 0.24 * len(pts))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.5, h), sharey=True)
    y = np.arange(len(pts))
    cols = [fg.PALETTE[3] if p.get("is_peer") else (fg.PALETTE[1] if str(p.get("method")) != "gauss_elim"
                                                     else fg.PALETTE[0]) for p in pts]
    t = np.array([nr.number(p, metric) * 1e3 for p in pts])
    spreads = [time_spread(p, metric) for p in pts]
    lo = np.array([t[i] - (s[0] * 1e3 if s[0] is not None else t[i]) for i, s in enumerate(spreads)])
    hi = np.array([(s[1] * 1e3 if s[1] is not None else t[i]) - t[i] for i, s in enumerate(spreads)])
    a1.barh(y, t, color=cols, xerr=[lo, hi], capsize=2)
    r = np.array([rate.get(id(p), 0.0) for p in pts])
    a2.barh(y, r, color=cols)
    a1.set_yticks(y)
    a1.set_yticklabels([text(lab) for lab in labels], fontsize=8)
    a1.invert_yaxis()
    a1.set_xlabel("median solve time [ms]")
    a2.set_xlabel("TFLOP/s (2/3 N³ flop)")
    fams = sorted({g.family(p) for p in pts})
    if len(fams) > 1:
        a1.set_yticklabels([text(f"{lab}; {g.family(p)[3]}, N = {_g(nr.number(p, 'N'))}")
                            for lab, p in zip(labels, pts)], fontsize=8)
        a1.set_title("per configuration")
    else:
        a1.set_title(text(f"N = {_g(nr.number(pts[0], 'N'))}, {fams[0][3]}"))
    a2.set_title("rate")
    fig.suptitle("Dense Gaussian elimination per configuration (fastest first; bars: min-max of the repetitions)",
                 fontsize=11)
    fig.tight_layout()

    class _NoStyles:
        def mapping(self):
            return None
    write((fig, _NoStyles(), 0, 2), outdir, name, "Dense GE: time and TFLOP/s per configuration",
          "Every dense Gaussian elimination configuration at the one N measured: time and rate at the dense "
          "flop count 2/3 N³.", "linsolve", figures, log)


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
    pts = drop_configuration_sweeps(numlab_families(main_dominance(pts, name, log), name, log), name, log)
    if not pts:
        return
    g = LinsolveGrid(pts)
    panels, zeros = [], 0
    for metric, ylabel in metrics:
        for k in g.keys:
            pan = fg.Panel((k, metric), f"{k[3]}")
            pan.ylabel = ylabel
            for p in pts:
                v = nr.number(p, metric)
                if g.family(p) != k or v is None:
                    continue
                if v <= 0:
                    zeros += 1
                    continue
                pan.get(g.label[id(p)], "", bool(p.get("is_peer")), (method_rank(p),)).add(nr.number(p, "N"), v)
            panels.append(pan)
    if zeros:
        log(f"note: {name}: {zeros} exact-zero errors not drawn on the log axis")

    def conf(ax, panel):
        _configure_lin(panel.ylabel + " [–]")(ax, panel)
    st = fg.draw(panels, "Linear systems: accuracy vs N (top: error against x_true, bottom: residual)",
                 ncols=min(3, len(g.keys)) if len(g.keys) > 1 else len(metrics), configure=conf, log=log, name=name)
    write(st, outdir, name, "Accuracy vs N",
          "Relative error against the true solution and relative residual per method, one panel per matrix "
          "family and metric.", "linsolve", figures, log)


def fig_linsolve_iterations(points, outdir, figures, log):
    name = "linsolve_gs_iterations_vs_N"
    # (mixed_refinement's iterations are refinement corrections: linsolve_refinement_vs_cond's)
    allpts = [p for p in points if p["kind"] == "linsolve" and nr.is_valid(p)
              and nr.number(p, "iterations") is not None and nr.number(p, "N")
              and str(p.get("method")) != "mixed_refinement"]
    if not allpts:
        log(f"note: skipping {name}: no converged Gauss-Seidel point with iterations")
        return
    pts = main_dominance(allpts, name, log)
    g = LinsolveGrid(allpts)
    left = fg.Panel("n", "iterations vs N (most dominant random sparse; other families)")
    fams = {g.family(p) for p in pts}
    for p in pts:
        left.get(g.label[id(p)], g.family(p)[3] if len(fams) > 1 else "", bool(p.get("is_peer")),
                 (method_rank(p),)).add(nr.number(p, "N"), nr.number(p, "iterations"))
    if len(fams) == 1:
        left.title = f"vs N: {next(iter(fams))[3]}"
    panels = [left]
    doms = [p for p in allpts if nr.effective_dominance(p) is not None
            and str(p.get("generator") or "random_sparse") == "random_sparse"]
    if len({nr.effective_dominance(p) for p in doms}) >= 2:
        right = fg.Panel("f", "vs dominance factor (converged runs)")
        for p in doms:
            right.get(g.label[id(p)], f"N = {_g(nr.number(p, 'N'))}, density {_g(nr.number(p, 'density'))}",
                      False, (method_rank(p),)).add(nr.effective_dominance(p), nr.number(p, "iterations"))
        right.extras.append(lambda ax: ax.axvline(1.0, color="0.5", lw=1.0, ls=":"))
        panels.append(right)

    def conf(ax, panel):
        xs = [x for s in panel.series.values() for x in s.values]
        log_x(ax, xs, base=10)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("iterations to tolerance [sweeps]")
        ax.set_xlabel("N (unknowns)" if panel.key == "n" else "diagonal dominance factor a_ii / Σ_j≠i |a_ij| [–]")
    st = fg.draw(panels, "Gauss-Seidel iterations to tolerance (converged runs)", ncols=2, configure=conf,
                 panel_w=5.6, panel_h=3.8, log=log, name=name)
    write(st, outdir, name, "Gauss-Seidel iterations",
          "Sweeps until the relative residual reaches the tolerance, per variant and matrix family; right: "
          "against the diagonal dominance factor.", "linsolve", figures, log)


def fig_linsolve_residuals(points, outdir, figures, log):
    name = "linsolve_residual_histories"
    pts = [p for p in points if p["kind"] == "linsolve" and nr.has_diagnostics(p)
           and isinstance(p.get("residual_history"), np.ndarray) and p["residual_history"].size > 0]
    if not pts:
        log(f"note: skipping {name}: no point with a residual_history")
        return
    # One Gauss-Seidel configuration (numlab's default where the data has it, else the most common):
    # the curves then differ by matrix only.
    configs = collections.Counter(gs_config(p) for p in pts)
    preferred = gs_config({"method": "gauss_seidel", "kind": "linsolve"})
    primary = preferred if preferred in configs else configs.most_common(1)[0][0]
    if len(configs) > 1:
        log(f"note: {name}: {base_label(_gs_point(primary))} only "
            f"({len(configs) - 1} other Gauss-Seidel configuration(s) in the data)")
    pts = [p for p in pts if gs_config(p) == primary]
    # One curve per problem and configuration: a problem two files ran identically is drawn once.
    opts = varying_options(pts)
    label = {id(p): method_label(p, opts) for p in pts}
    seen, uniq = {}, []
    for p in pts:
        k = (label[id(p)], nr.problem_key(p))
        if k not in seen:
            seen[k] = p
            uniq.append(p)
    if len(uniq) < len(pts):
        log(f"note: {name}: {len(pts) - len(uniq)} repeated problem(s) of other files drawn once")
    pts = uniq

    def dominant(p):
        f = nr.effective_dominance(p)
        return f is None or f >= 1.0 or str(p.get("generator")) == "poisson2d"
    groups = [("diagonally dominant (factor ≥ 1) and 2D Poisson", [p for p in pts if dominant(p)]),
              ("not diagonally dominant (factor < 1)", [p for p in pts if not dominant(p)])]
    groups = [(t, pp) for t, pp in groups if pp]
    panels = []
    for title, pp in groups:
        pan = fg.Panel(title, title)
        parts = {
            "N": lambda p: f"N = {_g(nr.number(p, 'N'))}",
            "fam": lambda p: linsolve_family(p)[3],
            "method": lambda p: label[id(p)],
        }
        varying = [k for k, f in parts.items() if len({f(p) for p in pp}) > 1]
        # colour: the property with most values; markers: the others (factorised legend past 12 curves)
        ck = max(varying, key=lambda k: len({parts[k](p) for p in pp})) if varying else "method"
        for p in pp:
            h = p["residual_history"]
            ok = np.isfinite(h) & (h > 0)
            if not ok.any():
                continue
            vk = ", ".join(parts[k](p) for k in varying if k != ck)
            s = pan.get(parts[ck](p), vk, False, ())
            if nr.status_of(p) != "converged":
                last = int(np.nonzero(ok)[0][-1])
                pan.extras.append(lambda ax, x=last, y=float(h[last]): ax.plot(
                    [x], [y], marker="x", color="black", markersize=9, mew=2, linestyle="none", zorder=6))
            for i in np.nonzero(ok)[0]:
                s.add(float(i), float(h[i]))
        const = [parts[k](pp[0]) for k in parts if k not in varying]
        if const:
            pan.title = title + "\n" + "; ".join(const)
        panels.append(pan)
    tols = {nr.number(p, "tol") for p in pts} - {None}
    tol = next(iter(tols)) if len(tols) == 1 else None

    def conf(ax, panel):
        ax.set_yscale("log")
        # The whole history sets the axis; a tolerance far below it is named, not drawn.
        ys = [y for s in panel.series.values() for v in s.values.values() for y, _, _ in v]
        lo, hi = min(ys), max(ys)
        ax.set_ylim(lo / 3, hi * 3)
        if tol is not None and lo / 3 <= tol <= hi * 3:
            ax.axhline(tol, color="0.4", lw=1, ls=":")
        elif tol is not None:
            ax.text(0.99, 0.02, f"tolerance {_g(tol)}: below every curve", transform=ax.transAxes,
                    ha="right", va="bottom", fontsize=8, color="0.3")
        ax.set_xlabel("iteration k [sweeps]")
        ax.set_ylabel("relative residual ‖b − Ax_k‖ / ‖b‖ [–]")
    ys = [y for pan in panels for s in pan.series.values() for v in s.values.values() for y, _, _ in v]
    drawn = tol is not None and min(ys) / 3 <= tol <= max(ys) * 3
    extra = [Line2D([], [], color="0.4", ls=":", label=f"tolerance {_g(tol)}")] if drawn else []
    if any(nr.status_of(p) != "converged" for p in pts):
        extra.append(Line2D([], [], marker="x", color="black", mew=2, linestyle="none",
                            label="stopped: diverged or max_iterations"))
    st = fg.draw(panels, "Gauss-Seidel residual histories: dominant vs non-dominant matrices", ncols=2,
                 per_panel=True,
                 configure=conf, bars=False, extra_legend=extra, panel_w=5.6, panel_h=4.0, log=log, name=name,
                 last_marker=True)
    write(st, outdir, name, "Residual histories: dominant vs non-dominant",
          "Relative residual per sweep (log scale, the whole history); runs that diverged or hit max_iterations "
          "are marked in the legend.", "linsolve", figures, log)


# Unit roundoff of the factorisation precisions of mixed_refinement (src/linsolve/detail/low_precision.hpp).
UNIT_ROUNDOFF = {"float64": 2.0 ** -53, "float32": 2.0 ** -24, "tf32": 2.0 ** -11, "float16": 2.0 ** -11,
                 "bfloat16": 2.0 ** -8}


def refinement_panels(points):
    """The three panels of linsolve_refinement_vs_cond (steps, berr, err), the mixed_refinement
    points drawn, their N, factor precisions (coarsest last) and tolerances; None below two
    condition numbers."""
    lin = [p for p in points if p["kind"] == "linsolve" and nr.number(p, "cond") and nr.number(p, "N")]
    mr = [p for p in lin if str(p.get("method")) == "mixed_refinement"
          and str(p.get("status")) in ("solved", "refinement_diverged")]
    if len({nr.number(p, "cond") for p in mr}) < 2:
        return None
    ns = sorted({nr.number(p, "N") for p in mr})
    precs = sorted({str(p.get("factor_precision", "float32")) for p in mr},
                   key=lambda q: (UNIT_ROUNDOFF.get(q, 1.0), q))

    solvers = {str(p.get("solver", "classical")) for p in mr}

    def variant(p):
        parts = []
        if len(solvers) > 1 or "gmres" in solvers:
            parts.append("GMRES-IR" if str(p.get("solver", "classical")) == "gmres" else "classical")
        if len(ns) > 1:
            parts.append(f"N = {_g(nr.number(p, 'N'))}")
        return ", ".join(parts)

    def fp64_variant(p):
        return f"N = {_g(nr.number(p, 'N'))}" if len(ns) > 1 else ""

    def prec_label(q):
        return f"mixed_refinement, {q} factors"
    order = {q: (i,) for i, q in enumerate(precs)}
    steps = fg.Panel("steps", "refinement steps (converged runs)")
    berr = fg.Panel("berr", "fp64 backward error reached (converged and diverged)")
    err = fg.Panel("err", "relative error against x* (converged and diverged)")
    tols = set()
    for p in mr:
        q, c = str(p.get("factor_precision", "float32")), nr.number(p, "cond")
        if nr.number(p, "refinement_tol_effective"):
            tols.add(nr.number(p, "refinement_tol_effective"))
        if str(p.get("status")) == "solved":
            steps.get(prec_label(q), variant(p), False, order[q]).add(c, nr.number(p, "iterations"))
        be = nr.number(p, "backward_error")
        if be is not None and be > 0:
            berr.get(prec_label(q), variant(p), False, order[q]).add(c, be)
        re = nr.number(p, "rel_error")
        if re is not None and re > 0:
            err.get(prec_label(q), variant(p), False, order[q]).add(c, re)
            if str(p.get("status")) != "solved":
                err.extras.append(lambda ax, x=c, y=re: ax.plot([x], [y], marker="x", color="black", markersize=8,
                                                               mew=1.8, linestyle="none", zorder=6))
    # The fp64 solves of the same matrices (numlab's GE, the LAPACK / cuSOLVER reference).
    mine = {nr.problem_key(p) for p in mr}
    for p in lin:
        m = str(p.get("method"))
        if m in ("gauss_elim", "reference") and nr.is_valid(p) and nr.problem_key(p) in mine:
            re = nr.number(p, "rel_error")
            if re is not None and re > 0:
                err.get(f"{m} (fp64)", fp64_variant(p), False, (len(precs) + (m == "reference"),)).add(
                    nr.number(p, "cond"), re)
    return steps, berr, err, mr, ns, precs, tols


def fig_linsolve_refinement(points, outdir, figures, log):
    """Mixed-precision refinement over the condition number of randsvd matrices: the refinement
    steps of the converged runs, the fp64 backward error every run reached (the diverged ones stop
    above the tolerance) and the error against x* beside the fp64 solves."""
    name = "linsolve_refinement_vs_cond"
    panels = refinement_panels(points)
    if panels is None:
        log(f"note: skipping {name}: no mixed_refinement points at two or more condition numbers")
        return
    steps, berr, err, mr, ns, precs, tols = panels
    conds = sorted({nr.number(p, "cond") for p in mr})
    tol = max(tols) if tols else None
    # kappa u_f = 1: where each factorisation stops being a useful preconditioner.
    limits = [(q, 1.0 / UNIT_ROUNDOFF[q]) for q in precs if q in UNIT_ROUNDOFF and q != "float64"]

    def conf(ax, panel):
        ax.set_xscale("log")
        ax.set_xlim(conds[0] / 3, conds[-1] * 3)
        ax.set_xlabel("condition number κ₂(A) (randsvd) [–]")
        for q, k in limits:
            if conds[0] / 3 <= k <= conds[-1] * 3:
                ax.axvline(k, color="0.55", lw=1, ls=":")
                ax.text(k, 0.98, f" 1/u {q}", transform=ax.get_xaxis_transform(), rotation=90, ha="right",
                        va="top", fontsize=7, color="0.35")
        if panel.key == "steps":
            ax.set_ylim(bottom=0)
            ax.yaxis.get_major_locator().set_params(integer=True)
            ax.set_ylabel("corrections to tolerance [–]")
            return
        ax.set_yscale("log")
        if panel.key == "berr":
            ax.set_ylabel("‖b − Ax‖∞ / (‖A‖∞‖x‖∞ + ‖b‖∞) [–]")
            if tol:
                ax.axhline(tol, color="0.3", lw=1, ls="--")
        else:
            ax.set_ylabel("‖x − x*‖ / ‖x*‖ [–]")
            xs = np.array([conds[0], conds[-1]])
            ax.plot(xs, xs * 2.0 ** -53, color="0.6", lw=1, ls="-.", zorder=1)
    extra = []
    if tol:
        extra.append(Line2D([], [], color="0.3", ls="--", label=f"tolerance {tol:.1e}" + (" (√N·ε₆₄)" if len(tols) == 1 else " (the largest)")))
    extra.append(Line2D([], [], color="0.6", ls="-.", label="κ·u₆₄"))
    if any(str(p.get("status")) != "solved" for p in mr):
        extra.append(Line2D([], [], marker="x", color="black", mew=1.8, linestyle="none",
                            label="refinement_diverged (not a solution)"))
    solvers = sorted({"GMRES-IR" if str(p.get("solver", "classical")) == "gmres" else "classical" for p in mr},
                     reverse=True)
    title = (f"Mixed-precision iterative refinement ({', '.join(solvers)}) vs condition number (randsvd, "
             f"N = {', '.join(_g(n) for n in ns)}): where each factor precision stops converging")
    st = fg.draw([steps, berr, err], title, ncols=3, configure=conf, bars=False, extra_legend=extra, log=log,
                 name=name)
    emulated = [q for q in precs if q in ("bfloat16", "float16")]
    write(st, outdir, name, "Mixed-precision refinement vs condition number",
          "LU in a low precision, fp64 residuals and corrections (classical: one solve with the factors; "
          "GMRES-IR: fp64 GMRES preconditioned by them) until the fp64 backward error reaches the "
          "tolerance (dashed): refinement steps of the converged runs (left), the backward error every run "
          "reached (middle: a run that stops above the tolerance is refinement_diverged) and the error against "
          "the true solution beside numlab's and the library's fp64 solves (right). Dotted: κ = 1/u of each "
          "factor precision, past which the low-precision factors are no preconditioner."
          + (f" {', '.join(emulated)} are emulated (rounded in fp32) on backends without their tensor-core "
             "path: their numerics, not their speed." if emulated else ""), "linsolve", figures, log)


def fig_linsolve_spectral(points, outdir, figures, log):
    name = "linsolve_spectral_radius"
    pts = [p for p in points if p["kind"] == "linsolve" and nr.has_diagnostics(p)
           and nr.number(p, "spectral_radius_estimate") is not None and nr.effective_dominance(p) is not None
           and str(p.get("generator") or "random_sparse") == "random_sparse"]
    opts = varying_options(pts)
    label = {id(p): method_label(p, opts) for p in pts}
    facs = collections.defaultdict(set)
    for p in pts:
        facs[(label[id(p)], nr.number(p, "N"), nr.number(p, "density"))].add(nr.effective_dominance(p))
    pts = [p for p in pts if len(facs[(label[id(p)], nr.number(p, "N"), nr.number(p, "density"))]) >= 2]
    if not pts:
        log(f"note: skipping {name}: no series over two or more dominance factors "
            "(run configs/linsolve_nondominant.yaml for a dominance sweep)")
        return
    pan = fg.Panel("rho", "Gauss-Seidel iteration matrix: spectral radius vs dominance")
    for p in pts:
        pan.get(label[id(p)], f"N = {_g(nr.number(p, 'N'))}, density {_g(nr.number(p, 'density'))}", False,
                (method_rank(p),)).add(nr.effective_dominance(p), nr.number(p, "spectral_radius_estimate"))
    bad = [p for p in pts if nr.status_of(p) != "converged"]

    def marks(ax):
        for p in bad:
            ax.plot([nr.effective_dominance(p)], [nr.number(p, "spectral_radius_estimate")], marker="x",
                    color="black", markersize=9, mew=1.5, linestyle="none", zorder=5)
        ax.axhline(1.0, color="crimson", lw=1.2, ls="--")
        ax.axvline(1.0, color="0.5", lw=1.0, ls=":")
    pan.extras.append(marks)

    def conf(ax, panel):
        fs = [nr.effective_dominance(p) for p in pts]
        if max(fs) / max(min(fs), 1e-300) > 4:
            log_x(ax, fs, base=10)
        rho = [nr.number(p, "spectral_radius_estimate") for p in pts]
        if min(rho) > 0 and max(rho) / min(rho) > 30:
            ax.set_yscale("log")
        ax.set_xlabel("diagonal dominance factor a_ii / Σ_j≠i |a_ij| [–]")
        ax.set_ylabel("spectral radius estimate ρ(G) [–]")
    extra = [Line2D([], [], color="crimson", ls="--", label="ρ = 1 (convergence limit)"),
             Line2D([], [], color="0.5", ls=":", label="weak dominance (factor 1)")]
    if bad:
        extra.append(Line2D([], [], marker="x", color="black", linestyle="none", label="did not converge"))
    st = fg.draw([pan], "Spectral radius of the Gauss-Seidel iteration matrix vs dominance", ncols=1,
                 configure=conf, bars=False, extra_legend=extra, panel_w=7.0, panel_h=4.4, log=log, name=name)
    write(st, outdir, name, "Spectral radius vs dominance",
          "Power-iteration estimate of the Gauss-Seidel iteration matrix's spectral radius against the diagonal "
          "dominance factor" + (f" ({nr.levels_text(pts)})" if nr.levels_text(pts) else "")
          + "; ρ > 1: the iteration diverges.", "linsolve", figures, log)


FIGURES = [
    ("linsolve", fig_linsolve_time),
    ("linsolve", lambda *a: fig_linsolve_ratio(*a, metric="solve_seconds_median")),
    ("linsolve", lambda *a: fig_linsolve_ratio(*a, metric="sweep_seconds_median")),
    ("linsolve", fig_linsolve_dense), ("linsolve", fig_linsolve_accuracy), ("linsolve", fig_linsolve_iterations),
    ("linsolve", fig_linsolve_residuals), ("linsolve", fig_linsolve_spectral),
    ("linsolve", fig_linsolve_refinement),
    ("attention", lambda *a: fig_attention_time(*a, which="forward")),
    ("attention", lambda *a: fig_attention_tflops(*a, which="forward")),
    ("attention", lambda *a: fig_attention_ratio(*a, which="forward")),
    ("attention", lambda *a: fig_attention_time(*a, which="backward")),
    ("attention", lambda *a: fig_attention_tflops(*a, which="backward")),
    ("attention", lambda *a: fig_attention_ratio(*a, which="backward")),
    ("attention", fig_attention_time_vs_tile), ("attention", fig_attention_memory),
    ("attention", fig_attention_error),
]


def safe_log(msg):
    """print that survives a terminal that cannot show a name (LANG=C, a pipe in ASCII)."""
    enc = getattr(sys.stdout, "encoding", None) or "utf-8"
    print(str(msg).encode(enc, "backslashreplace").decode(enc, "replace"), flush=True)


def make_figures(files, outdir, log=safe_log):
    """Writes every figure the data allows into outdir; returns the list of Figure.

    files: numlab_results.ResultFile objects (or paths)."""
    if files and isinstance(files[0], str):
        files = nr.load_files(files, log=log)
    os.makedirs(outdir, exist_ok=True)
    points = nr.all_points(files)
    LEVELS.clear()
    LEVELS.update(nr.dominance_levels([p for p in points if p["kind"] == "linsolve"]))
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
    files = nr.load_files(args.files, log=safe_log)
    if not files:
        print("error: none of the files could be read", file=sys.stderr)
        return 1
    figs = make_figures(files, args.outdir)
    safe_log(f"{len(figs)} figure(s) in {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
