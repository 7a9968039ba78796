# SPDX-License-Identifier: MIT
"""Findings of the lab, generated from the numbers: which method wins where and by how much,
the growth exponents of time and memory with N (least-squares fits in log-log), where
Gauss-Seidel stops converging. Short paragraphs a student can build the report's discussion on.

    paragraphs = lab_findings.findings(lab_data.lab_points(files))   # [(title, text), ...]
    blocks = lab_findings.report_blocks(paragraphs)
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab_checklist as lc  # noqa: E402
import lab_data as ld  # noqa: E402
import numlab_results as nr  # noqa: E402

T = "solve_seconds_median"


def _median(vals):
    vals = sorted(v for v in vals if v is not None)
    if not vals:
        return None
    n = len(vals)
    return vals[n // 2] if n % 2 else 0.5 * (vals[n // 2 - 1] + vals[n // 2])


def _label(p):
    return ld.gs_label(p) + (f" [{p['peer']}]" if p.get("is_peer") else "")


def linsolve_sweep(pts):
    sw = lc.lab_sweep(pts)
    if not sw:
        return None
    labels = sorted({_label(p) for p in sw})
    ns = sorted({nr.number(p, "N") for p in sw})
    # Median over densities of each method's time at each N.
    med = {lab: {n: _median([nr.number(p, T) for p in sw if _label(p) == lab and nr.number(p, "N") == n and ld.valid(p, T)])
                 for n in ns} for lab in labels}
    exps = {lab: ld.loglog_slope([n for n in ns if med[lab][n]], [med[lab][n] for n in ns if med[lab][n]]) for lab in labels}
    parts = []
    wins = []
    for n in ns:
        have = {lab: med[lab][n] for lab in labels if med[lab][n]}
        if len(have) >= 2:
            order = sorted(have, key=have.get)
            wins.append(f"N = {ld.g3(n)}: {order[0]} ({ld.fmt_time(have[order[0]])}, {have[order[1]] / have[order[0]]:.3g}× "
                        f"ahead of {order[1]})")
    if wins:
        parts.append("Fastest method (median over densities): " + "; ".join(wins) + ".")
    fits = [f"{lab} N^{exps[lab]:.2f}" for lab in labels if exps[lab] is not None]
    if fits:
        parts.append(f"Time grows with N (log-log fit over N = {ld.g3(ns[0])}–{ld.g3(ns[-1])}): " + ", ".join(fits)
                     + "; dense elimination is O(N³) in theory (small N are dominated by overheads), one Gauss-Seidel "
                       "sweep O(nnz) = O(density·N²).")
    ge, gs = "gauss_elim", "gauss_seidel sequential"
    if ge in med and gs in med and med[ge][ns[-1]] and med[gs][ns[-1]]:
        parts.append(f"At N = {ld.g3(ns[-1])} sequential Gauss-Seidel is {med[ge][ns[-1]] / med[gs][ns[-1]]:.3g}× faster than "
                     "Gaussian elimination: sparse sweeps against a dense factorisation.")
    its = [nr.number(p, "iterations") for p in sw if ld.method(p) == "gauss_seidel" and ld.valid(p, "iterations")]
    by_d = ld.by([p for p in sw if ld.gs_label(p) == gs and ld.valid(p, "iterations")], lambda p: nr.number(p, "density"))
    if its:
        per_d = ", ".join(f"{ld.g3(d)}: {_median([nr.number(p, 'iterations') for p in ps]):.0f}"
                          for d, ps in sorted(by_d.items()))
        parts.append(f"Gauss-Seidel needs {min(its):.0f}–{max(its):.0f} sweeps on these strictly dominant matrices"
                     + (f" (median by density {per_d}: denser rows, larger diagonal, faster contraction)" if per_d else "") + ".")
    d_err = [nr.number(p, "rel_error") for p in sw if ld.method(p) in lc.DIRECT and ld.valid(p, "rel_error")]
    g_err = [nr.number(p, "rel_error") for p in sw if ld.method(p) == "gauss_seidel" and ld.valid(p, "rel_error")]
    if d_err and g_err:
        parts.append(f"Accuracy: the direct solves reach {lc.span(d_err)} (rounding level), Gauss-Seidel {lc.span(g_err)}, "
                     "set by its stopping tolerance, not by rounding.")
    return ("Linear systems: who wins where", " ".join(parts)) if parts else None


def nondominant(pts):
    gs = [p for p in ld.numlab(pts, "gauss_seidel", kind="linsolve") if nr.effective_dominance(p) is not None
          and nr.status_of(p) in ("converged", "diverged") and p.get("direction") in (None, "", "forward")
          and str(p.get("variant") or "sequential") == "sequential"]
    if not any(nr.effective_dominance(p) < 1 for p in gs):
        return None
    parts = []
    for n, ps in sorted(ld.by(gs, lambda p: nr.number(p, "N")).items()):
        if not any(nr.effective_dominance(p) < 1 for p in ps):
            continue
        conv = [p for p in ps if nr.status_of(p) == "converged"]
        div = [p for p in ps if nr.status_of(p) == "diverged"]
        txt = f"N = {ld.g3(n)}:"
        if conv:
            c = min(conv, key=nr.effective_dominance)
            rho = nr.number(c, "spectral_radius_estimate")
            txt += f" converges down to factor {ld.g3(nr.effective_dominance(c))}"
            if rho:
                txt += f" (ρ = {rho:.2f}, {nr.number(c, 'iterations'):.0f} sweeps"
                tol = nr.number(c, "tol")
                if tol and 0 < rho < 1:
                    txt += f"; log(tol)/log(ρ) predicts {math.log(tol) / math.log(rho):.0f}"
                txt += ")"
        if div:
            d = max(div, key=nr.effective_dominance)
            rho = nr.number(d, "spectral_radius_estimate")
            txt += (f"{',' if conv else ''} diverges from factor {ld.g3(nr.effective_dominance(d))}"
                    + (f" (ρ = {rho:.2f})" if rho else ""))
        parts.append(txt)
    ge = [p for p in ld.numlab(pts, "gauss_elim", kind="linsolve") if lc.non_dominant(p)]
    ge_text = (f"; Gaussian elimination solves {sum(ld.valid(p) for p in ge)} of the {len(ge)} non-dominant systems it ran on"
               if ge else "")
    return ("Gauss-Seidel without diagonal dominance",
            "Diagonal dominance is sufficient, not necessary: " + "; ".join(parts)
            + ". Convergence follows the spectral radius ρ of the iteration matrix (about log(tol)/log(ρ) sweeps), "
              "not the dominance factor" + ge_text + ".")


def _heads(p):
    return (nr.number(p, "B") or 1) * (nr.number(p, "H") or 1)


def attention_series(points, metric, m, min_heads=1):
    """The method's series (best over tiles per N; B, H, D, dtype, causal fixed) with the most N
    values, then the most work: [(N, value, point)]. min_heads: leave out problems of fewer
    B·H heads (on a GPU one head leaves most SMs idle: its time is launch latency, not N²)."""
    pp = [p for p in ld.numlab(points, m, kind="attention") if ld.valid(p, metric) and _heads(p) >= min_heads]
    best, best_key = None, None
    for key, ps in ld.by(pp, lambda p: ld.attention_problem(p)[:3] + ld.attention_problem(p)[5:]).items():
        ser = []
        for n, qs in sorted(ld.by(ps, lambda p: nr.number(p, "N")).items()):
            b = ld.best(qs, metric)
            ser.append((n, nr.number(b, metric), b))
        rank = (len(ser), sum(_heads(b) * n * n * (nr.number(b, "D") or 1) for n, _, b in ser))
        if best is None or rank > best_key:
            best, best_key = ser, rank
    return best or []


def attention_time(pts, platform):
    here = [p for p in pts if p["platform"] == platform]
    parts = []
    min_heads = 1 if platform == "host" else 8
    for metric, methods, name in (("forward_seconds_median", ld.FORWARD, "Forward"),
                                  ("backward_seconds_median", ld.BACKWARD, "Backward")):
        sers = {m: attention_series(here, metric, m, min_heads) for m in methods}
        sers = {m: s for m, s in sers.items() if s}
        if not sers:
            continue
        fits = []
        for m, s in sers.items():
            e = ld.loglog_slope([n for n, _, _ in s], [v for _, v, _ in s]) if len(s) >= 3 else None
            if e is not None:
                fits.append(f"{m} N^{e:.2f}")
        n_top = max(n for s in sers.values() for n, _, _ in s)
        at_top = {m: [(v, p) for n, v, p in s if n == n_top][0] for m, s in sers.items() if any(n == n_top for n, _, _ in s)}
        order = sorted(at_top, key=lambda m: at_top[m][0])
        txt = f"{name}, at N = {ld.g3(n_top)}: " + ", ".join(
            f"{m} {ld.fmt_time(at_top[m][0])}" + (f" (tiles {'×'.join(str(t) for t in ld.tiles(at_top[m][1]) if t)})"
                                                 if any(ld.tiles(at_top[m][1])) else "") for m in order)
        if len(order) >= 2:
            txt += f": {order[0]} is {at_top[order[-1]][0] / at_top[order[0]][0]:.3g}× faster than {order[-1]}"
        if fits:
            txt += f". Time grows as {', '.join(fits)}" + (" (every method does the same 4·B·H·N²·D FLOPs, 2.5× that "
                                                          "backward: N² in theory)" if name == "Forward" else "")
        parts.append(txt + ".")
    return parts


def attention_memory(pts):
    ex = lc.memory_exponents(pts, "host")
    parts = []
    if ex:
        parts.append("Peak memory grows as " + ", ".join(f"{m} N^{s:.2f}" for m, (s, _) in ex.items())
                     + " (S and P are N×N per head; tiled keeps one tile_q×N score block per concurrent team; flash only "
                       "O and the log-sum-exp).")
    sers = {m: attention_series([p for p in pts if p["platform"] == "host"], "peak_device_bytes", m) for m in ld.FORWARD}
    sers = {m: s for m, s in sers.items() if s}
    if sers:
        n_top = max(n for s in sers.values() for n, _, _ in s)
        at = {m: v for m, s in sers.items() for n, v, _ in s if n == n_top}
        if at:
            txt = f"At N = {ld.g3(n_top)}: " + ", ".join(f"{m} {ld.fmt_bytes(v)}"
                                                         for m, v in sorted(at.items(), key=lambda kv: -kv[1]))
            if "flash" in at and "standard" in at:
                txt += f"; flash needs {at['standard'] / at['flash']:.3g}× less than standard"
            if "flash" in at and "tiled" in at:
                txt += f", online softmax saves {ld.fmt_bytes(at['tiled'] - at['flash'])} against tiled"
            skipped = [p for p in ld.numlab(pts, "standard", kind="attention") if nr.status_of(p) == "skipped"]
            if skipped:
                txt += f"; standard was skipped at {lc.ns_text(skipped)} ({str(skipped[0].get('reason') or 'over max_gib')[:80]})"
            parts.append(txt + ".")
    return parts


def attention_accuracy(pts):
    att = [p for p in ld.numlab(pts, kind="attention") if ld.valid(p, "O_rel_fro_vs_standard")]
    rows = []
    for key, ps in ld.by(att, ld.attention_problem).items():
        t = [nr.number(p, "O_rel_fro_vs_standard") for p in ps if ld.method(p) == "tiled"]
        f = [nr.number(p, "O_rel_fro_vs_standard") for p in ps if ld.method(p) == "flash"]
        if t and f:
            rows.append((_median(t), _median(f), ld.dtype_of(ps[0])))
    if not rows:
        return []
    return [f"Against standard attention in the same dtype, tiled's O differs by {lc.span([t for t, _, _ in rows])} and "
            f"flash's by {lc.span([f for _, f, _ in rows])} ({', '.join(sorted({d for _, _, d in rows}))}): tiled computes "
            "the exact softmax of the full score row as standard does, flash rescales its running sum at every key tile."]


def peers_text(pts):
    tp = [q for q in ld.peers(pts, "attention") if str(q.get("peer")) == "torch"]
    if not tp:
        return []
    out = []
    pairs = (("standard", "torch_standard"), ("tiled", "torch_lab_tiled"), ("flash", "torch_lab_flash"),
             ("flash", "sdpa_flash"), ("flash", "sdpa_cudnn"), ("tiled_bwd", "torch_lab_tiled_bwd"))
    for m, q in pairs:
        metric = "backward_seconds_median" if m.endswith("bwd") else "forward_seconds_median"
        mine = lc.best_by_problem([p for p in ld.numlab(pts, m, kind="attention")], metric)
        ratios = []
        for key, p in mine.items():
            match = [x for x in tp if ld.method(x) == q and x["platform"] == p["platform"]
                     and nr.problems_match(p, x, "attention")]
            b = ld.best(match, metric)
            if b is not None:
                ratios.append(nr.number(p, metric) / nr.number(b, metric))
        if ratios:
            out.append(f"{m} / {q} {lc.span(ratios, unit='×')} (median {_median(ratios):.3g}×, {len(ratios)} problems)")
    if not out:
        return []
    return ["numlab against PyTorch on the same problems (time ratio, < 1: numlab faster): " + "; ".join(out) + "."]


def gpu_text(pts):
    nat = [p for p in ld.numlab(pts, kind="attention") if p["native"] and ld.valid(p)]
    if not nat:
        return None
    parts = []
    for dev, ps in ld.by(nat, lambda p: p["platform"]).items():
        for metric in ("forward_tflops", "backward_tflops"):
            b = max((p for p in ps if nr.number(p, metric) is not None), key=lambda p: nr.number(p, metric), default=None)
            if b is not None:
                parts.append(f"{dev}: peak {metric.split('_')[0]} {nr.number(b, metric):.0f} TFLOP/s ({ld.method(b)}, "
                             f"{ld.dtype_of(b)}, N = {ld.g3(nr.number(b, 'N'))}, D = {ld.g3(nr.number(b, 'D'))}"
                             + (f", {b['kernel_run']}" if b.get("kernel_run") else "") + ")")
    item = lc.item_gpu_bf16(pts)
    if item.run is None:
        parts.append("against PyTorch SDPA: " + item.verdict)
    return ("GPU", "; ".join(parts) + ".") if parts else None


def findings(points):
    """[(title, paragraph)] from the points (lab_data.lab_points)."""
    out = []
    for fn in (linsolve_sweep, nondominant):
        r = fn(points)
        if r:
            out.append(r)
    for plat in sorted({p["platform"] for p in points if p.get("kind") == "attention"}, key=lambda s: (s != "host", s)):
        parts = attention_time(points, plat)
        if plat == "host":
            parts += attention_memory(points)
        here = [p for p in points if p["platform"] == plat]
        parts += attention_accuracy(here) + peers_text(here)
        if parts:
            out.append((f"Attention ({'host CPU' if plat == 'host' else plat})", " ".join(parts)))
    r = gpu_text(points)
    if r:
        out.append(r)
    return out


def report_blocks(paragraphs):
    if not paragraphs:
        return []
    blocks = [("h", 2, "Findings"),
              ("p", "Generated from the numbers of the files above; the exponents are least-squares slopes in log-log.")]
    for title, text in paragraphs:
        blocks += [("p", f"**{title}.** {text}")]
    return blocks
