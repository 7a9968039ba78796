#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""numlab results -> a report: figures (PNG), report.md and report.html.

Usage: scripts/report.py RESULTS.h5 [more.h5 ...] -o DIR

Reads numlab HDF5 files and peer files (same schema, root attribute `peer`),
draws every figure the data allows (scripts/plot.py) into DIR/figures/, and
writes DIR/report.md and DIR/report.html (self-contained apart from the PNGs,
which are referenced by relative paths) with:

  - a summary of the files and their statuses,
  - the lab checklist: every item of the lab assignment with its figure or table and a verdict
    computed from the data (scripts/lab_checklist.py), then findings generated from the numbers
    (scripts/lab_findings.py),
  - per experiment the figures and tables: median times, ratios to peer points
    with the same problem parameters, errors, memory, Gauss-Seidel iterations
    and spectral radii,
  - the points that produced no result (failed, skipped, diverged, ...) with reasons,
  - the environment recorded in every file (host, cpu, device, git commit,
    Kokkos version and execution space, creation time, config, command line;
    the peers' library versions).

Example:
  /usr/bin/python3 scripts/report.py results/attn_sweep.h5 results/linsolve_sweep.h5 -o results/report/
"""
import argparse
import collections
import datetime
import html
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lab_checklist  # noqa: E402
import lab_data  # noqa: E402
import lab_findings  # noqa: E402
import numlab_results as nr  # noqa: E402
import plot  # noqa: E402

# ------------------------------------------------------------------------ document model
# A report is a list of blocks rendered twice, to Markdown and to HTML:
#   ("h", level, text)              heading (anchor from the text)
#   ("p", text)                     paragraph; inline `code`, **bold**, [text](href)
#   ("list", [text, ...])
#   ("table", headers, rows, note)  rows: lists of cell strings; note: caption or None
#   ("img", src, title, caption)
#   ("pre", text)
#   ("details", summary, [blocks])  collapsible (HTML <details>; Markdown too)


def slug(text):
    s = re.sub(r"[^\w\- ]", "", text.lower()).strip().replace(" ", "-")
    return re.sub(r"-+", "-", s)


def md_inline(text):
    """Markdown already: inline `code`, **bold** and [links](...) are written as such."""
    return text


def html_inline(text):
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', out)
    return out


def md_cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_md(blocks):
    out = []
    for b in blocks:
        t = b[0]
        if t == "h":
            out.append("#" * b[1] + " " + b[2])
        elif t == "p":
            out.append(md_inline(b[1]))
        elif t == "list":
            out.append("\n".join(f"- {md_inline(x)}" for x in b[1]))
        elif t == "table":
            headers, rows, note = b[1], b[2], b[3]
            lines = ["| " + " | ".join(md_cell(h) for h in headers) + " |",
                     "|" + "|".join("---" for _ in headers) + "|"]
            lines += ["| " + " | ".join(md_cell(c) for c in r) + " |" for r in rows]
            if note:
                lines.append("")
                lines.append(f"*{note}*")
            out.append("\n".join(lines))
        elif t == "img":
            src, title, caption = b[1], b[2], b[3]
            out.append(f"![{title}]({src})\n\n*{title}.* {caption}")
        elif t == "pre":
            fence = "````" if "```" in b[1] else "```"
            out.append(f"{fence}\n{b[1].rstrip()}\n{fence}")
        elif t == "details":
            out.append(f"<details><summary>{html.escape(b[1])}</summary>\n\n{render_md(b[2])}\n\n</details>")
    return "\n\n".join(out) + "\n"


CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dee7; --head: #eef2f8; --stripe: #f8f9fc; --accent: #2463b4; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 1.9em; margin: 0.2em 0 0.4em; }
h2 { font-size: 1.45em; margin: 1.8em 0 0.5em; padding-bottom: 0.25em; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.15em; margin: 1.4em 0 0.4em; }
h4 { font-size: 1.0em; margin: 1.2em 0 0.3em; color: var(--muted); }
a { color: var(--accent); }
code { font: 0.88em/1.4 "DejaVu Sans Mono", Menlo, Consolas, monospace; background: #f1f3f7;
       padding: 0.1em 0.3em; border-radius: 3px; word-break: break-word; }
pre { font: 12.5px/1.45 "DejaVu Sans Mono", Menlo, Consolas, monospace; background: #f6f8fa;
      border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow-x: auto;
      white-space: pre-wrap; word-break: break-word; max-height: 480px; }
.table-wrap { display: inline-block; max-width: 100%; overflow-x: auto; margin: 0.6em 0 1.2em;
              border: 1px solid var(--line); border-radius: 6px; vertical-align: top; }
table { border-collapse: collapse; font-size: 12.5px; }
th, td { padding: 4px 9px; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; }
th { background: var(--head); font-weight: 600; white-space: normal; min-width: 5.5em; max-width: 16em; }
td { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.text, th.text { text-align: left; }
td.wrap { white-space: normal; word-break: break-word; max-width: 44em; text-align: left; }
tr:nth-child(even) td { background: var(--stripe); }
tr:last-child td { border-bottom: none; }
.note { color: var(--muted); font-size: 0.9em; margin: -0.6em 0 1.2em; max-width: 60em; }
figure { margin: 1.2em 0 2em; padding: 10px; border: 1px solid var(--line); border-radius: 8px; background: #fff; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 0.92em; margin-top: 8px; }
figcaption b { color: var(--fg); }
details { margin: 0.6em 0 1.2em; }
summary { cursor: pointer; color: var(--accent); font-weight: 600; }
nav ul { columns: 2; margin: 0.3em 0; }
.meta { color: var(--muted); }
@media print { main { max-width: none; } figure, .table-wrap { break-inside: avoid; } }
"""


def _align_class(cell):
    s = str(cell).strip()
    return "" if re.match(r"^[-+]?[\d.,]+(e[-+]?\d+)?\s*(µs|ms|s|KiB|MiB|GiB|B|×|%)?(\s*\(.*\))?$", s) or s in ("–", "") else "text"


def render_html(blocks, title):
    out = []
    for b in blocks:
        t = b[0]
        if t == "h":
            out.append(f'<h{b[1]} id="{slug(b[2])}">{html_inline(b[2])}</h{b[1]}>')
        elif t == "p":
            out.append(f"<p>{html_inline(b[1])}</p>")
        elif t == "list":
            out.append("<ul>" + "".join(f"<li>{html_inline(x)}</li>" for x in b[1]) + "</ul>")
        elif t == "table":
            headers, rows, note = b[1], b[2], b[3]
            text_cols = [all(_align_class(r[i]) == "text" for r in rows if i < len(r) and str(r[i]).strip() not in ("", "–"))
                         for i in range(len(headers))]
            h = "".join(f'<th class="{"text" if text_cols[i] else ""}">{html_inline(str(x))}</th>'
                        for i, x in enumerate(headers))
            body = []
            for r in rows:
                cells = []
                for i, c in enumerate(r):
                    cls = "text" if (i < len(text_cols) and text_cols[i]) else ""
                    if len(str(c)) > 60:
                        cls = "wrap"
                    cells.append(f'<td class="{cls}">{html_inline(str(c))}</td>')
                body.append("<tr>" + "".join(cells) + "</tr>")
            out.append(f'<div class="table-wrap"><table><thead><tr>{h}</tr></thead><tbody>'
                       + "".join(body) + "</tbody></table></div>")
            if note:
                out.append(f'<p class="note">{html_inline(note)}</p>')
        elif t == "img":
            src, ttl, caption = b[1], b[2], b[3]
            out.append(f'<figure><a href="{html.escape(src)}"><img src="{html.escape(src)}" alt="{html.escape(ttl)}"></a>'
                       f"<figcaption><b>{html.escape(ttl)}.</b> {html_inline(caption)}</figcaption></figure>")
        elif t == "pre":
            out.append(f"<pre>{html.escape(b[1])}</pre>")
        elif t == "details":
            out.append(f"<details><summary>{html.escape(b[1])}</summary>{render_html(b[2], None)}</details>")
    body = "\n".join(out)
    if title is None:
        return body
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n"
            f"<body><main>\n{body}\n</main></body></html>\n")


# ------------------------------------------------------------------------ formatting

fmt_time = lab_data.fmt_time  # one time format for the tables and the checklist


def fmt_bytes(b):
    if b is None:
        return "–"
    if b < 2 ** 20:
        return f"{b / 2 ** 10:.3g} KiB"
    if b < 2 ** 30:
        return f"{b / 2 ** 20:.3g} MiB"
    return f"{b / 2 ** 30:.3g} GiB"


def fmt_sci(v, digits=2):
    return "–" if v is None else f"{v:.{digits}e}"


def fmt_ratio(r):
    if r is None:
        return "–"
    return f"{r:.3g}×" if r < 100 else f"{r:.0f}×"


def fmt_g(v):
    return "–" if v is None else plot._g(v)


def median(vals):
    vals = sorted(v for v in vals if v is not None)
    if not vals:
        return None
    n = len(vals)
    return vals[n // 2] if n % 2 else 0.5 * (vals[n // 2 - 1] + vals[n // 2])


def _sortable(v):
    if v is None:
        return (2, 0.0, "")
    if isinstance(v, bool):
        return (0, float(v), "")
    if isinstance(v, (int, float)):
        return (0, float(v), "")
    return (1, 0.0, str(v))


# ------------------------------------------------------------------------ tables

class Col:
    """A problem column of a pivot table: header, getter (point -> value), formatter."""

    def __init__(self, header, get, fmt=fmt_g):
        self.header, self.get, self.fmt = header, get, fmt


def varying(points, col):
    return len({col.get(p) for p in points} - {None}) > 1


def method_label(p, exclude=("tile_q", "tile_k", "dq")):
    lab = plot.base_label(p, exclude)
    if p.get("backend") not in (None, ""):
        lab += f", backend={p['backend']}"
    if p.get("is_peer"):
        lab += f" [{p.get('peer')}]"
    return lab


def column_order(labels_first_point):
    return sorted(labels_first_point, key=lambda lab: plot.label_sort_key(lab, labels_first_point[lab]))


def pivot(points, row_cols, col_fn, cell_fn, kind):
    """Rows: problems (numlab points grouped by row_cols, plus a file column where
    two files hold the same problem); columns: col_fn(point); peer points are put
    in every row whose problem they match (numlab_results.problems_match).
    cell_fn(list of points) -> str. Returns (headers, rows)."""
    mine = [p for p in points if not p.get("is_peer")]
    peers = [p for p in points if p.get("is_peer")]
    cols = [c for c in row_cols if c.header in ("N",) or varying(points, c)]
    if not cols:
        cols = row_cols[:1]

    def rkey(p, with_file):
        return tuple(c.get(p) for c in cols) + ((p.get("source"),) if with_file else ())

    cells = collections.defaultdict(list)
    with_file = False
    seen = collections.defaultdict(set)
    for p in mine:
        seen[(rkey(p, False), col_fn(p))].add(p.get("source"))
    if any(len(s) > 1 for s in seen.values()):
        with_file = True
    reps = {}
    for p in mine:
        k = rkey(p, with_file)
        reps.setdefault(k, p)
        cells[(k, col_fn(p))].append(p)
    first = {}
    for p in mine:
        first.setdefault(col_fn(p), p)
    for q in peers:
        matched = False
        for k, rep in reps.items():
            if nr.problems_match(rep, q, kind):
                cells[(k, col_fn(q))].append(q)
                matched = True
        if not matched:
            k = rkey(q, with_file)
            reps.setdefault(k, q)
            cells[(k, col_fn(q))].append(q)
        first.setdefault(col_fn(q), q)
    colnames = column_order(first)
    headers = [c.header for c in cols] + (["file"] if with_file else []) + colnames
    rows = []
    for k in sorted(reps, key=lambda k: [_sortable(v) for v in k]):
        r = [c.fmt(v) for c, v in zip(cols, k)] + ([str(k[-1])] if with_file else [])
        r += [cell_fn(cells.get((k, cn), [])) for cn in colnames]
        rows.append(r)
    return headers, rows


def status_cell(pts):
    st = sorted({nr.status_of(p) for p in pts})
    return ", ".join(st) if st else "–"


def metric_cell(metric, fmt, allow_diag=False):
    def cell(pts):
        if not pts:
            return "–"
        good = [p for p in pts if (nr.is_valid(p) or (allow_diag and nr.has_diagnostics(p)))]
        vals = [nr.number(p, metric) for p in good]
        v = median(vals)
        if v is None:
            return status_cell(pts) if not good else "–"
        s = fmt(v)
        bad = sorted({nr.status_of(p) for p in good if not nr.is_valid(p)})
        return s + (f" ({', '.join(bad)})" if bad else "")
    return cell


# Effective dominance factor -> the named level that gave it, from the points (linsolve_section).
DOMINANCE_NAMES = {}


def dominance_fmt(v):
    if v is None:
        return "–"
    return f"{plot._g(v)} ({DOMINANCE_NAMES[v]})" if v in DOMINANCE_NAMES else plot._g(v)


LINSOLVE_ROWS = [
    Col("generator", lambda p: p.get("generator"), lambda v: "–" if v is None else str(v)),
    Col("N", lambda p: nr.number(p, "N")),
    Col("density", lambda p: nr.number(p, "density")),
    Col("dominance", lambda p: nr.effective_dominance(p), dominance_fmt),
    Col("seed", lambda p: nr.number(p, "seed")),
]


def _shape(p):
    b, h, d = (nr.number(p, k) for k in ("B", "H", "D"))
    if b is None and h is None and d is None:
        return None
    return "×".join(fmt_g(v) for v in (b, h, d))


ATTENTION_ROWS = [
    Col("N", lambda p: nr.number(p, "N")),
    Col("N_kv", lambda p: nr.problem_value(p, "N_kv") if plot._n_kv_differs(p) else None),
    Col("B×H×D", _shape, lambda v: "–" if v is None else v),
    Col("dtype", lambda p: p.get("dtype"), lambda v: "–" if v is None else str(v)),
    Col("causal", lambda p: nr.problem_value(p, "causal"), lambda v: "–" if v is None else ("yes" if v else "no")),
    Col("seed", lambda p: nr.number(p, "seed")),
]


def tiles_of(p):
    tq, tk = plot._tile(p, "tile_q"), plot._tile(p, "tile_k")
    parts = []
    if tq is not None:
        parts.append(f"q{tq}")
    if tk is not None:
        parts.append(f"k{tk}")
    if p.get("dq") and plot._shown(p, "dq"):
        parts.append(f"dq={p['dq']}")
    return " ".join(parts)


def best_time_cell(metric):
    def cell(pts):
        good = [p for p in pts if nr.valid_metric(p, metric) is not None]
        if not good:
            return status_cell(pts) if pts else "–"
        best = min(good, key=lambda p: nr.number(p, metric))
        t = tiles_of(best)
        return fmt_time(nr.number(best, metric)) + (f" ({t})" if t and len(good) > 1 else "")
    return cell


def range_cell(get, fmt):
    def cell(pts):
        vals = [get(p) for p in pts if nr.is_valid(p)]
        vals = [v for v in vals if v is not None]
        if not vals:
            return status_cell(pts) if pts else "–"
        lo, hi = min(vals), max(vals)
        return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)} – {fmt(hi)}"
    return cell


def ratio_tables(points, kind, row_cols, best_over_tiles):
    """One table per (peer method, time metric): numlab time / peer time per numlab method."""
    blocks = []
    mine = [p for p in points if not p.get("is_peer")]
    peers = [p for p in points if p.get("is_peer") and nr.is_valid(p)]
    for metric in nr.TIME_METRICS:
        pm = [q for q in peers if nr.number(q, metric) is not None]
        # A sweep time is a measurement whether or not the iteration converged.
        ok = nr.has_diagnostics if metric == "sweep_seconds_median" else nr.is_valid
        mm = [p for p in mine if ok(p) and nr.number(p, metric) is not None]
        if not pm or not mm:
            continue
        by_peer = collections.defaultdict(list)
        for q in pm:
            by_peer[method_label(q)].append(q)
        for plabel, qs in sorted(by_peer.items()):
            rows_by_key = collections.OrderedDict()
            methods = {}
            for q in qs:
                for p in mm:
                    if not nr.problems_match(p, q, kind):
                        continue
                    key = tuple(c.get(p) for c in row_cols) + (p.get("source"),)
                    row = rows_by_key.setdefault(key, {"peer": [], "mine": collections.defaultdict(list)})
                    if q not in row["peer"]:
                        row["peer"].append(q)
                    lab = method_label(p)
                    row["mine"][lab].append(p)
                    methods.setdefault(lab, p)
            if not rows_by_key:
                continue
            keys = sorted(rows_by_key, key=lambda k: [_sortable(v) for v in k])
            sample = [mm_p for k in keys for lst in rows_by_key[k]["mine"].values() for mm_p in lst]
            cols = [c for c in row_cols if c.header == "N" or varying(sample, c)]
            many_files = len({k[-1] for k in keys}) > 1
            mcols = column_order(methods)
            headers = [c.header for c in cols] + (["file"] if many_files else []) + [f"{plabel} time"] + \
                [f"{m}" for m in mcols]
            rows = []
            for k in keys:
                row = rows_by_key[k]
                pt = median([nr.number(q, metric) for q in row["peer"]])
                vals = dict(zip([c.header for c in row_cols], k))
                r = [c.fmt(vals[c.header]) for c in cols] + ([str(k[-1])] if many_files else []) + [fmt_time(pt)]
                for m in mcols:
                    ps = row["mine"].get(m, [])
                    ts = [nr.number(p, metric) for p in ps]
                    t = (min(ts) if best_over_tiles else median(ts)) if ts else None
                    r.append(fmt_ratio(t / pt) if t is not None and pt else "–")
                rows.append(r)
            what = metric.replace("_seconds_median", "")
            blocks.append(("h", 4, f"numlab / {plabel}: {what} time ratio"))
            blocks.append(("table", headers, rows,
                           f"numlab's median {what} time divided by the peer's at the same problem parameters "
                           f"(< 1: numlab is faster)" + ("; numlab's best tile size" if best_over_tiles else "")
                           + ". Peer time in the first column."))
    return blocks


# ------------------------------------------------------------------------ sections

def figure_blocks(figs, kind, outdir):
    blocks = []
    for f in figs:
        if f.kind == kind:
            rel = os.path.relpath(f.path, outdir).replace(os.sep, "/")
            blocks.append(("img", rel, f.title, f.caption))
            if getattr(f, "mapping", None):  # the legend names colours and markers apart: every series here
                headers, rows = f.mapping
                blocks.append(("details", f"Series of \"{f.title}\" ({len(rows)})", [("table", headers, rows, None)]))
    return blocks


def linsolve_section(points, figs, outdir):
    pts = [p for p in points if p["kind"] == "linsolve"]
    if not pts:
        return []
    DOMINANCE_NAMES.update(nr.dominance_levels(pts))
    levels = nr.levels_text(pts)
    b = [("h", 2, "Linear systems"),
         ("p", "Gaussian elimination, Gauss-Seidel variants and library solves on random sparse "
               "matrices (diagonal = dominance factor × off-diagonal row sum" + (f"; {levels}" if levels else "")
               + "), 2D Poisson or Matrix Market files; b = A x_true with a known x_true.")]
    b += [("h", 3, "Figures")] + figure_blocks(figs, "linsolve", outdir)
    b.append(("h", 3, "Tables"))
    col = lambda p: method_label(p)  # noqa: E731
    timed = [p for p in pts if nr.number(p, "solve_seconds_median") is not None or not nr.is_valid(p)]
    if timed:
        h, r = pivot(timed, LINSOLVE_ROWS, col, metric_cell("solve_seconds_median", fmt_time), "linsolve")
        b += [("h", 4, "Median solve time"),
              ("table", h, r, "Median over the timed repetitions; a status instead of a time: the point "
                              "produced no solution. Peer columns ([name]) hold the peer point with the same "
                              "problem parameters.")]
    for metric, title in (("rel_error", "Relative error ‖x − x_true‖ / ‖x_true‖"),
                          ("rel_residual", "Relative residual ‖b − Ax‖ / ‖b‖")):
        mp = [p for p in pts if nr.number(p, metric) is not None or not nr.is_valid(p)]
        if any(nr.number(p, metric) is not None for p in mp):
            h, r = pivot(mp, LINSOLVE_ROWS, col, metric_cell(metric, fmt_sci, allow_diag=True), "linsolve")
            b += [("h", 4, title), ("table", h, r, "Diverged or unconverged runs are marked; their error is "
                                                   "not a solution's error.")]
    gs = [p for p in pts if nr.number(p, "iterations") is not None]
    if gs:
        h, r = pivot(gs, LINSOLVE_ROWS, col, metric_cell("iterations", lambda v: f"{v:.0f}", allow_diag=True),
                     "linsolve")
        b += [("h", 4, "Gauss-Seidel iterations"), ("table", h, r, "Sweeps until the tolerance, or until the "
                                                                   "run stopped (status in brackets).")]
    sr = [p for p in pts if nr.number(p, "spectral_radius_estimate") is not None]
    if sr:
        h, r = pivot(sr, LINSOLVE_ROWS, col,
                     metric_cell("spectral_radius_estimate", lambda v: f"{v:.3g}", allow_diag=True), "linsolve")
        b += [("h", 4, "Spectral radius estimate of the Gauss-Seidel iteration matrix"),
              ("table", h, r, "Power-iteration estimate; ρ < 1 converges, ρ > 1 diverges.")]
    b += ratio_tables(pts, "linsolve", LINSOLVE_ROWS, best_over_tiles=False)
    return b


def attention_section(points, figs, outdir):
    pts = [p for p in points if p["kind"] == "attention"]
    if not pts:
        return []
    b = [("h", 2, "Attention"),
         ("p", "Standard attention (S and P materialised), tiled without online softmax, FlashAttention-2 "
               "forward; tiled and FlashAttention-2 backward. Errors against numlab's fp64 reference.")]
    b += [("h", 3, "Figures")] + figure_blocks(figs, "attention", outdir)
    b.append(("h", 3, "Tables"))
    col = lambda p: method_label(p)  # noqa: E731
    for which in ("forward", "backward"):
        metric = f"{which}_seconds_median"
        tp = [p for p in pts if nr.number(p, metric) is not None
              or (not nr.is_valid(p) and (which == "forward") != str(p.get("method", "")).endswith("bwd"))]
        if any(nr.number(p, metric) is not None for p in tp):
            h, r = pivot(tp, ATTENTION_ROWS, col, best_time_cell(metric), "attention")
            b += [("h", 4, f"{which.capitalize()} time: best over tile sizes"),
                  ("table", h, r, f"Median {which} time of the fastest tile size (in brackets: tile_q, tile_k).")]
    mem = [p for p in pts if nr.number(p, "peak_device_bytes") is not None or nr.number(p, "peak_host_bytes") is not None]
    if mem:
        h, r = pivot(mem, ATTENTION_ROWS, col, range_cell(lambda p: plot.memory_bytes(p)[0], fmt_bytes), "attention")
        b += [("h", 4, "Peak memory"),
              ("table", h, r, "Peak of the allocations the method makes (numlab: Kokkos allocations through "
                              "Kokkos Tools; peers: their own measure); a range spans the tile sizes.")]
    errs = [(m, t) for m, t in plot.ERROR_METRICS if any(nr.number(p, m) is not None for p in pts)]
    if errs:
        rows_by = collections.OrderedDict()
        cols = [c for c in ATTENTION_ROWS if c.header == "N" or varying(pts, c)]
        for p in pts:
            if not any(nr.valid_metric(p, m) is not None for m, _ in errs):
                continue
            key = tuple(c.get(p) for c in cols) + (method_label(p), p.get("source"))
            rows_by.setdefault(key, []).append(p)
        many = len({k[-1] for k in rows_by}) > 1
        rows = []
        for k in sorted(rows_by, key=lambda k: [_sortable(v) for v in k[:-2]] + [plot.label_sort_key(k[-2], rows_by[k][0]), k[-1]]):
            ps = rows_by[k]
            r = [c.fmt(v) for c, v in zip(cols, k)] + [k[-2]] + ([str(k[-1])] if many else [])
            for m, _ in errs:
                vals = [nr.valid_metric(p, m) for p in ps]
                vals = [v for v in vals if v is not None]
                r.append(fmt_sci(max(vals)) if vals else "–")
            rows.append(r)
        headers = [c.header for c in cols] + ["method"] + (["file"] if many else []) + \
            [f"{t.split(' ')[0]} rel. error" for _, t in errs]
        b += [("h", 4, "Errors against the fp64 reference"),
              ("table", headers, rows, "Relative Frobenius error ‖X − X_ref‖_F / ‖X_ref‖_F; the worst over tile sizes.")]
    b += ratio_tables(pts, "attention", ATTENTION_ROWS, best_over_tiles=True)
    # Every point, collapsible.
    cols = [c for c in ATTENTION_ROWS if c.header == "N" or varying(pts, c)]
    many = len({p.get("source") for p in pts}) > 1
    headers = [c.header for c in cols] + ["method", "tiles", "status"] + (["file"] if many else []) + \
        ["fwd time", "fwd TFLOP/s", "bwd time", "bwd TFLOP/s", "peak memory", "O err", "dQ err"]
    rows = []
    for p in sorted(pts, key=lambda p: ([_sortable(c.get(p)) for c in cols],
                                        plot.label_sort_key(method_label(p), p), tiles_of(p))):
        rows.append([c.fmt(c.get(p)) for c in cols] + [method_label(p), tiles_of(p) or "–", nr.status_of(p)]
                    + ([str(p.get("source"))] if many else [])
                    + [fmt_time(nr.valid_metric(p, "forward_seconds_median")),
                       fmt_sci(nr.valid_metric(p, "forward_tflops"), 3),
                       fmt_time(nr.valid_metric(p, "backward_seconds_median")),
                       fmt_sci(nr.valid_metric(p, "backward_tflops"), 3),
                       fmt_bytes(nr.valid_metric(p, "peak_device_bytes") or nr.valid_metric(p, "peak_host_bytes")),
                       fmt_sci(nr.valid_metric(p, "O_rel_fro_error")),
                       fmt_sci(nr.valid_metric(p, "dQ_rel_fro_error"))])
    b.append(("details", f"Every attention point ({len(rows)})", [("table", headers, rows, None)]))
    return b


def problem_str(p):
    """'N=500, density=0.01, dominance=0.2, seed=3' from the normalised problem parameters."""
    parts = []
    for k in nr.problem_keys(p["kind"]):
        v = nr.problem_value(p, k)
        if v is None or (k == "N_kv" and not plot._n_kv_differs(p)):
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        parts.append(f"{k}={fmt_g(v) if not isinstance(v, str) else v}")
    return ", ".join(parts) or "–"


def problems_section(points):
    bad = [p for p in points if not nr.is_valid(p)]
    if not bad:
        return [("h", 2, "Points without a result"), ("p", "None: every point is ok / solved / converged.")]
    rows = []
    for p in bad[:300]:
        params = problem_str(p)
        rows.append([str(p.get("source")), str(p.get("group")), method_label(p, exclude=()), params,
                     nr.status_of(p), str(p.get("reason", "")) or "–"])
    note = f"{len(bad)} point(s)" + (", the first 300 listed" if len(bad) > 300 else "") + \
        ". Diverged / max_iterations runs keep their diagnostics (residual history, spectral radius) in the figures."
    return [("h", 2, "Points without a result"),
            ("table", ["file", "point", "method", "problem", "status", "reason"], rows, note)]


ENV_KEYS = ["name", "kind", "peer", "description", "host", "cpu", "device", "created_utc", "git_commit",
            "git_dirty", "numlab_version", "kokkos_version", "kokkos_default_execution_space",
            "kokkos_default_host_execution_space", "kokkos_concurrency", "kokkos_layout", "kokkos_origin",
            "kokkos_backends_enabled", "host_threads_description", "blas_threading", "backend_requested",
            "build_type", "compiler", "hdf5_version", "config_path", "command_line", "repetitions", "warmup",
            "total_points", "schema_version"]
LONG_KEYS = ("config_text", "kokkos_configuration")


def environment_section(files):
    b = [("h", 2, "Environment")]
    for f in files:
        a = f.attrs
        kind = "peer " + f.peer if f.is_peer else "numlab"
        b.append(("h", 3, f"{f.source} ({kind}, {f.kind})"))
        rows = [["file", f"`{f.path}`"]]
        for k in ENV_KEYS:
            if k in a and a[k] not in ("", None):
                v = a[k]
                if k == "git_commit":
                    v = f"`{v}`"
                elif k in ("command_line", "config_path"):
                    v = f"`{v}`"
                rows.append([k, str(v)])
        for k in sorted(a):
            if k not in ENV_KEYS and k not in LONG_KEYS:
                v = a[k]
                if isinstance(v, list):
                    v = ", ".join(map(str, v))
                rows.append([k, str(v)])
        if f.is_peer and not nr.version_attrs(a):
            rows.append(["library versions", "not recorded in the file"])
        b.append(("table", ["attribute", "value"], rows, None))
        for k in LONG_KEYS:
            if a.get(k):
                b.append(("details", f"{k} of {f.source}", [("pre", str(a[k]))]))
    return b


def summary_section(files):
    rows = []
    for f in files:
        st = collections.Counter(nr.status_of(p) for p in f.points)
        rows.append([f.source, "peer " + f.peer if f.is_peer else "numlab", f.kind, str(len(f.points)),
                     ", ".join(f"{k}: {v}" for k, v in sorted(st.items())) or "–",
                     str(f.attrs.get("created_utc", "–")), str(f.attrs.get("host", "–")),
                     str(f.attrs.get("device", "–"))])
    return [("table", ["file", "from", "kind", "points", "statuses", "created (UTC)", "host", "device"], rows, None)]


def lab_sections(files, figs, headings, outdir, log):
    """The lab checklist and findings (scripts/lab_checklist.py, lab_findings.py); like a figure, a
    failure there costs only these sections (reported as a warning), not the report."""
    try:
        pts = lab_data.lab_points(files)
        return (lab_checklist.report_blocks(lab_checklist.checklist(pts), figs, headings, outdir, slug)
                + lab_findings.report_blocks(lab_findings.findings(pts)))
    except Exception as e:  # noqa: BLE001 - the traceback goes to the log
        import traceback
        log(f"warning: the lab checklist failed: {e!r}\n{traceback.format_exc()}")
        return []


def build_report(paths, outdir, log=plot.safe_log):
    files = nr.load_files(paths, log=log)
    if not files:
        raise SystemExit("error: none of the input files could be read")
    os.makedirs(outdir, exist_ok=True)
    notes = []

    def log2(msg):
        log(msg)
        if msg.startswith(("note:", "warning:")):
            notes.append(msg.split(":", 1)[1].strip().split("\n")[0])

    figs = plot.make_figures(files, os.path.join(outdir, "figures"), log=log2)
    points = nr.all_points(files)
    kinds = [k for k in ("linsolve", "attention") if any(p["kind"] == k for p in points)]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    blocks = [("h", 1, "numlab report"),
              ("p", f"Generated {now} by `scripts/report.py` from {len(files)} file(s), {len(points)} point(s), "
                    f"{len(figs)} figure(s)."),
              ("list", [f"[{t}](#{slug(t)})" for t in
                        (["Linear systems"] if "linsolve" in kinds else []) + (["Attention"] if "attention" in kinds else [])
                        + ["Points without a result", "Environment"] + (["Notes"] if notes else [])])]
    blocks += summary_section(files)
    blocks += linsolve_section(points, figs, outdir)
    blocks += attention_section(points, figs, outdir)
    blocks += problems_section(points)
    blocks += environment_section(files)
    # The report opens with the lab checklist and the findings; their links point into the sections below.
    lab = lab_sections(files, figs, [b[2] for b in blocks if b[0] == "h"], outdir, log2)
    blocks[2] = ("list", [f"[{t}](#{slug(t)})" for t in ("Lab checklist", "Findings") if ("h", 2, t) in lab] + blocks[2][1])
    blocks[4:4] = lab  # after the title, the contents and the table of files
    if notes:
        blocks += [("h", 2, "Notes"), ("list", notes)]
    md_path = os.path.join(outdir, "report.md")
    html_path = os.path.join(outdir, "report.html")
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(render_md(blocks))
    with open(html_path, "w", encoding="utf-8") as f:
        f.write(render_html(blocks, "numlab report"))
    log(f"wrote {md_path}")
    log(f"wrote {html_path}")
    return md_path, html_path, figs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="numlab or peer HDF5 files")
    ap.add_argument("-o", "--outdir", default="report", help="output folder (default: report)")
    args = ap.parse_args(argv)
    missing = [p for p in args.files if not os.path.exists(p)]
    for p in missing:
        print(f"warning: {p} does not exist", file=sys.stderr)
    paths = [p for p in args.files if p not in missing]
    if not paths:
        print("error: no input file exists", file=sys.stderr)
        return 1
    build_report(paths, args.outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
