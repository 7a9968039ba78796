# SPDX-License-Identifier: MIT
"""Small multiples for scripts/plot.py: a grid of panels, series drawn with
repetition bars, one shared legend of bounded length, and a PNG of bounded size.

A figure is a list of Panel objects, each holding Series (one problem family of
one method: its points at several x). Styles come from two keys of a series:
its colour key (method, options, peer) and its variant key (what else tells
series of one colour apart: the problem family, dtype, ...). With at most
LEGEND_MAX series the legend names each one; with more it is factorised (one
entry per colour and one per variant) and the full mapping is returned as a
table for the report.
"""
import io
import math
import os
import textwrap

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
import numpy as np

DPI = 110
# Page bounds of a figure in the report (its column is 1180 px wide).
LEGEND_MAX = 12
MAX_HEIGHT_PX = 2400
MAX_WIDTH_PX = 1500
MAX_BYTES = 400_000
MAX_COLS = 3
PANEL_W = 4.2  # inches; 3 columns: ~1400 px
PANEL_H = 3.0
MIN_PANEL_H = 2.3
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#17becf", "#e377c2",
           "#bcbd22", "#7f7f7f", "#8c564b"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p"]

plt.rcParams.update({
    "font.size": 9.5, "axes.titlesize": 9.5, "axes.labelsize": 9, "legend.fontsize": 8.5,
    "xtick.labelsize": 8.5, "ytick.labelsize": 8.5,
    "axes.grid": True, "grid.alpha": 0.3, "grid.linestyle": "-", "figure.dpi": DPI,
    "savefig.dpi": DPI, "axes.spines.top": False, "axes.spines.right": False,
})


def text(s):
    """A string matplotlib draws as it is: '$' would start mathtext (and fail on a name like 'a$b')."""
    return str(s).replace("$", r"\$")


class Series:
    """One line: points {x: [(y, lo, hi)]}; lo/hi: the repetitions' spread (None: no bar)."""

    def __init__(self, colour_key, variant_key="", is_peer=False, order=()):
        self.colour_key, self.variant_key, self.is_peer = colour_key, variant_key, is_peer
        self.order = order  # sort key of the colour (method order)
        self.values = {}

    @property
    def key(self):
        return (self.colour_key, self.variant_key)

    @property
    def label(self):
        return self.colour_key + (", " + self.variant_key if self.variant_key else "")

    def add(self, x, y, lo=None, hi=None):
        if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
            return
        self.values.setdefault(float(x), []).append((float(y), lo, hi))

    def arrays(self):
        """xs, ys (median of the values at one x), lo, hi (the extremes of their bars)."""
        xs = sorted(self.values)
        ys, lo, hi = [], [], []
        for x in xs:
            vals = self.values[x]
            y = float(np.median([v[0] for v in vals]))
            ls = [v[1] for v in vals if v[1] is not None] + [v[0] for v in vals]
            hs = [v[2] for v in vals if v[2] is not None] + [v[0] for v in vals]
            ys.append(y)
            lo.append(min(ls))
            hi.append(max(hs))
        return np.array(xs), np.array(ys), np.array(lo), np.array(hi)


class Panel:
    def __init__(self, key, title):
        self.key, self.title = key, title
        self.series = {}
        self.extras = []  # callables ax -> None (reference lines, guides)

    def get(self, colour_key, variant_key="", is_peer=False, order=()):
        k = (colour_key, variant_key)
        if k not in self.series:
            self.series[k] = Series(colour_key, variant_key, is_peer, order)
        return self.series[k]

    def nonempty(self):
        return any(s.values for s in self.series.values())


class Styles:
    """Colour per colour key, marker per variant key; peers dashed with hollow markers."""

    def __init__(self, series_list):
        colours, variants = [], []
        for s in sorted(series_list, key=lambda s: (s.is_peer, s.order, natural(s.colour_key))):
            if s.colour_key not in colours:
                colours.append(s.colour_key)
        for s in series_list:
            if s.variant_key not in variants:
                variants.append(s.variant_key)
        variants.sort(key=natural)
        self.colours, self.variants = colours, variants
        self.peer = {s.colour_key: s.is_peer for s in series_list}
        self.room = LEGEND_MAX
        self.labels = sorted({s.key: s for s in series_list}.values(),
                             key=lambda s: (s.is_peer, s.order, natural(s.colour_key), natural(s.variant_key)))

    def colour(self, ck):
        i = self.colours.index(ck)
        base = PALETTE[i % len(PALETTE)]
        if i >= len(PALETTE):  # a second round of the palette: darker
            rgb = np.array(matplotlib.colors.to_rgb(base)) * 0.6
            return tuple(rgb)
        return base

    def __call__(self, s):
        peer = s.is_peer
        vi = self.variants.index(s.variant_key)
        col = self.colour(s.colour_key)
        return dict(color=col, marker=MARKERS[vi % len(MARKERS)], linestyle="--" if peer else "-",
                    linewidth=1.5, markersize=5, markerfacecolor="white" if peer else col)

    def factorised(self, room=LEGEND_MAX):
        return len(self.labels) > room

    def markers_fit(self, room=LEGEND_MAX):
        return len(self.colours) + len([v for v in self.variants if v]) <= room

    def legend(self, room=LEGEND_MAX):
        """(handles, labels) of at most `room` entries: one per series; with more series one per
        colour and one per marker; with more still one per colour and a pointer to the series table
        (mapping())."""
        if not self.factorised(room):
            hs = [Line2D([], [], **self(s)) for s in self.labels]
            return hs, [text(s.label) for s in self.labels]
        hs, labs = [], []
        if len(self.colours) >= room:
            return [Line2D([], [], color="0.35", lw=2)], [f"{len(self.labels)} series: see the series table"]
        for ck in self.colours:
            hs.append(Line2D([], [], color=self.colour(ck), linestyle="--" if self.peer[ck] else "-", lw=2))
            labs.append(text(ck))
        if self.markers_fit(room):
            for vi, vk in enumerate(self.variants):
                if vk:
                    hs.append(Line2D([], [], color="0.35", marker=MARKERS[vi % len(MARKERS)], linestyle="none"))
                    labs.append(text(vk))
        elif len(hs) < room:
            hs.append(Line2D([], [], color="0.35", marker="o", linestyle="none"))
            labs.append(f"markers: {len(self.variants)} variants, see the series table")
        return hs[:room], labs[:room]

    def mapping(self):
        """(headers, rows) of every series and its style, or None when the legend names each one."""
        if not self.factorised(self.room):
            return None
        rows = []
        for s in self.labels:
            st = self(s)
            rows.append([s.colour_key, s.variant_key or "–", f"{matplotlib.colors.to_hex(st['color'])} "
                         f"{'dashed' if s.is_peer else 'solid'}, marker {st['marker']}"])
        return ["series", "variant", "style"], rows


def natural(s):
    import re
    parts = re.split(r"(\d+(?:\.\d+)?(?:e[-+]?\d+)?)", str(s))
    return [(0, float(t), "") if i % 2 else (1, 0.0, t) for i, t in enumerate(parts)]


def layout(npanels, ncols=None, legend_rows=0, panel_w=PANEL_W, panel_h=PANEL_H):
    """(ncols, nrows, panel_h, kept): panels shrink towards MIN_PANEL_H to stay within
    MAX_HEIGHT_PX; beyond that only the first `kept` panels fit."""
    ncols = max(1, min(ncols or MAX_COLS, npanels, int(MAX_WIDTH_PX / DPI // panel_w) or 1))
    nrows = int(math.ceil(npanels / ncols))
    extra = 0.9 + 0.19 * legend_rows  # title and legend [in]
    avail = MAX_HEIGHT_PX / DPI - extra
    h = min(panel_h, avail / nrows) if nrows else panel_h
    if h < MIN_PANEL_H:
        h = MIN_PANEL_H
        nrows = max(1, int(avail // h))
    kept = min(npanels, nrows * ncols)
    return ncols, int(math.ceil(kept / ncols)), h, kept


def legend_rows(labels, width_in):
    if not labels:
        return 0, 1
    longest = max(len(lab) for lab in labels)
    ncol = max(1, min(len(labels), int(width_in * 72 / (longest * 5.4 + 36))))
    return int(math.ceil(len(labels) / ncol)), ncol


def draw_series(ax, s, styles, bars=True, last_marker=False):
    xs, ys, lo, hi = s.arrays()
    if not len(xs):
        return
    st = styles(s)
    ax.plot(xs, ys, markevery=[len(xs) - 1] if last_marker else None, **st)
    if bars and (np.any(lo < ys) or np.any(hi > ys)):
        ax.errorbar(xs, ys, yerr=[np.maximum(ys - lo, 0), np.maximum(hi - ys, 0)], fmt="none",
                    ecolor=st["color"], elinewidth=1.0, capsize=2.5, alpha=0.8)


# Fixed margins [in] (a fixed layout costs one draw; tight_layout and a tight bounding box cost
# three, most of the time of a 15-panel figure): tick labels and axis label left of each panel,
# title above, x label below.
LEFT, RIGHT, TOP, GAP_W, GAP_H, BOTTOM = 0.85, 0.2, 0.6, 0.95, 0.85, 0.55
LEGEND_LINE = 0.2


def _sort(series):
    return sorted(series, key=lambda s: (s.is_peer, s.order, s.colour_key))


def _fill(ax, p, styles, configure, bars, last_marker):
    for s in _sort(p.series.values()):
        draw_series(ax, s, styles, bars, last_marker)
    for e in p.extras:
        e(ax)
    ax.set_title(text(p.title))
    if configure:
        configure(ax, p)
    plain_log_ticks(ax)


def plain_log_ticks(ax):
    """A log y axis spanning less than two decades: ticks as plain numbers (21, 0.35), not 2.1×10¹."""
    if ax.get_yscale() != "log":
        return
    lo, hi = ax.get_ylim()
    if lo > 0 and hi / lo < 100:
        fmt = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.3g}")
        ax.yaxis.set_major_formatter(fmt)
        # minor ticks named only within one decade (else 2..9 of each decade crowd the axis)
        ax.yaxis.set_minor_formatter(fmt if hi / lo < 8 else matplotlib.ticker.NullFormatter())


def draw(panels, suptitle, ncols=None, configure=None, bars=True, extra_legend=(), panel_w=PANEL_W,
         panel_h=PANEL_H, log=print, name="", last_marker=False, per_panel=False):
    """Draws the panels (those with data) into a new figure with one shared legend under them
    (per_panel: one legend under each panel, each with its own styles). configure(ax, panel)
    sets scales and labels. Returns (fig, styles, legend_entries, panels_drawn); the figure
    carries `tight` (whether save_bounded must crop it)."""
    panels = [p for p in panels if p.nonempty()]
    if len(panels) == 1 and panel_w == PANEL_W:  # a figure of one panel: the width of two
        panel_w, panel_h = 1.6 * PANEL_W, 1.4 * PANEL_H
    all_series = [s for p in panels for s in p.series.values() if s.values]
    styles = Styles(all_series)
    styles.room = LEGEND_MAX - len(extra_legend)
    handles, labels = styles.legend(styles.room)
    handles = handles + list(extra_legend)
    labels = labels + [text(h.get_label()) for h in extra_legend]
    ncols0 = max(1, min(ncols or MAX_COLS, len(panels)))
    lrows, lncol = legend_rows(labels, ncols0 * panel_w)
    if per_panel:
        lrows = 0
    ncols, nrows, h, kept = layout(len(panels), ncols, lrows, panel_w, panel_h)
    if kept < len(panels):
        log(f"note: {name}: {len(panels) - kept} of {len(panels)} panels left out (figure height bound)")
        panels = panels[:kept]
    legend_h = (lrows * LEGEND_LINE + 0.25) if handles and not per_panel else 0.0
    W = panel_w * ncols
    title = textwrap.fill(text(suptitle), width=max(40, int(W * 72 / 6.0)))
    tlines = max(text(p.title).count("\n") for p in panels) if panels else 0  # panel titles of 2 lines
    top = TOP + 0.2 * title.count("\n") + 0.17 * tlines
    gap_h = GAP_H + 0.17 * tlines
    H = h * nrows + legend_h + 0.1 + (top - TOP) + (nrows - 1) * (gap_h - GAP_H)
    fig, axes = plt.subplots(nrows, ncols, figsize=(W, H), squeeze=False)
    axw = (W - LEFT - RIGHT - (ncols - 1) * GAP_W) / ncols
    axh = (H - top - BOTTOM - legend_h - (nrows - 1) * gap_h) / nrows
    fig.subplots_adjust(left=LEFT / W, right=1 - RIGHT / W, top=1 - top / H, bottom=(BOTTOM + legend_h) / H,
                        wspace=GAP_W / axw, hspace=gap_h / axh)
    flat = list(axes.ravel())
    for ax in flat[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title, y=1 - 0.12 / H, va="top", fontsize=11)
    if not per_panel:
        for ax, p in zip(flat, panels):
            _fill(ax, p, styles, configure, bars, last_marker)
        if handles:
            fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.05 / H), ncol=lncol,
                       frameon=False)
        fig.tight = False
        return fig, styles, len(handles), len(panels)
    entries = 0
    for ax, p in zip(flat, panels):
        st = Styles([s for s in p.series.values() if s.values])
        st.room = LEGEND_MAX - len(extra_legend)
        _fill(ax, p, st, configure, bars, last_marker)
        hs, ls = st.legend(st.room)
        hs, ls = hs + list(extra_legend), ls + [text(h.get_label()) for h in extra_legend]
        entries = max(entries, len(hs))
        ax.legend(hs, ls, loc="upper center", bbox_to_anchor=(0.5, -0.5 / axh), frameon=False, fontsize=8)
        styles = st if st.mapping() else styles
    fig.tight = True  # the legends hang below the figure
    return fig, styles, entries, len(panels)


def save_bounded(fig, path):
    """Writes the PNG; one over MAX_BYTES is written again with a 256-colour palette.
    Returns (width_px, height_px, bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight" if getattr(fig, "tight", True) else None,
                facecolor="white", pad_inches=0.12)
    plt.close(fig)
    data = buf.getvalue()
    from PIL import Image
    im = Image.open(io.BytesIO(data))
    if len(data) > MAX_BYTES:
        out = io.BytesIO()
        im.convert("RGB").quantize(colors=256).save(out, format="PNG", optimize=True)
        data = out.getvalue()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return im.size[0], im.size[1], len(data)
