#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The lab checklist (scripts/lab_checklist.py) and findings (scripts/lab_findings.py).

  test_lab_checklist.py --numlab BUILD/numlab --source-dir SRC [--work-dir DIR]

1. Every verdict on synthetic points built to make it true and built to make it false (the
   memory formula through a real HDF5 file in numlab's schema, read by numlab_results).
2. No data: every item says "not run" and names a config (or peer script) that exists.
3. The committed GPU reference files (results/reference/gpu-h100, gpu-h200-*): the expected
   rows and states.
4. A small host run of the lab's own configs (linsolve_sweep, linsolve_nondominant, attn_memory,
   attn_host_baselines, shrunk) plus the SciPy peer: the expected rows, then scripts/report.py on
   it: the report opens with the checklist and the findings, and every link of the checklist
   resolves (a figure that exists, an anchor of the HTML).
"""
import argparse
import glob
import html
import math
import os
import re
import subprocess
import sys
import time

import h5py
import yaml

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def run(cmd, cwd, timeout=300):
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.time()
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if r.returncode != 0:
        print(r.stdout[-4000:])
    print(f"  -> exit {r.returncode} in {time.time() - t0:.1f} s", flush=True)
    return r


# ------------------------------------------------------------------ synthetic points

def pt(**kw):
    """A point as lab_data.lab_points returns it (host numlab fp64 linsolve unless told)."""
    p = {"kind": "linsolve", "status": "solved", "platform": "host", "is_peer": False, "peer": "numlab",
         "threads": 1, "native": False, "source": "synthetic", "generator": "random_sparse", "seed": 1}
    p.update(kw)
    return p


def att(method, N, **kw):
    p = pt(kind="attention", status="ok", method=method, N=N, B=1, H=1, D=64, dtype="float32", causal=False, seed=0)
    p.update(kw)
    return p


def item(lc, fn, pts):
    it = fn(pts)
    print(f"     {it.what}: {it.state}: {it.verdict}")
    return it


def expect(lc, fn, good, bad, name):
    it = item(lc, fn, good)
    check(it.state == "yes", f"{name}: true on data built to make it true")
    it = item(lc, fn, bad)
    check(it.state == "no", f"{name}: false on data built to make it false")


def test_linsolve_verdicts(lc):
    ge = lambda N, r, **k: pt(method="gauss_elim", N=N, density=0.1, dominance_factor_effective=2.0,  # noqa: E731
                              rel_residual=r, rel_error=r, solve_seconds_median=1e-9 * N ** 3, **k)
    gs = lambda N, d, st="converged", r=1e-11, f=2.0, rho=None, **k: pt(  # noqa: E731
        method="gauss_seidel", variant="sequential", N=N, density=d, dominance_factor_effective=f, status=st,
        rel_residual=r, rel_error=r, tol=1e-10, iterations=12, solve_seconds_median=1e-8 * N, spectral_radius_estimate=rho, **k)
    # GE backward stable: relative residual <= N eps.
    expect(lc, lc.item_gauss_elim, [ge(100, 1e-16), ge(500, 3e-16)], [ge(100, 1e-16), ge(500, 1e-12)], "GE N·ε residual")
    # GS converges on every strictly dominant matrix.
    expect(lc, lc.item_gauss_seidel, [gs(100, 0.1), gs(500, 0.1)], [gs(100, 0.1), gs(500, 0.1, st="diverged", r=1e3)],
           "GS converges when dominant")
    # SciPy agrees with GE (GE error <= 10x scipy's + N eps).
    sp = lambda N, e: pt(method="scipy_solve", N=N, density=0.1, dominance_factor_effective=2.0, is_peer=True,  # noqa: E731
                         peer="scipy", rel_error=e, rel_residual=e, solve_seconds_median=1e-3)
    expect(lc, lc.item_scipy, [ge(100, 1e-16), sp(100, 1e-16)], [ge(100, 1e-12), sp(100, 1e-16)], "SciPy agrees with GE")
    check(item(lc, lc.item_scipy, [ge(100, 1e-16)]).state == "not run", "SciPy: not run without a SciPy file")
    times_only = {k: v for k, v in sp(100, 1e-16).items() if k not in ("rel_error", "rel_residual")}
    check(item(lc, lc.item_scipy, [ge(100, 1e-16), times_only]).state == "measured",
          "SciPy: a peer file without errors (older script) is measured, not a 'no'")
    # Accuracy: GS at its tolerance.
    expect(lc, lc.item_accuracy_time, [ge(100, 1e-16), gs(100, 0.1)], [ge(100, 1e-16), gs(100, 0.1, r=1e-8)],
           "accuracy: GS at its tolerance")
    # N x density grid complete, GE grows faster with N than GS.
    grid = [f(N, d) for N in (100, 1000) for d in (0.01, 0.1) for f in (lambda N, d: ge(N, 1e-16, ) | {"density": d}, gs)]
    expect(lc, lc.item_grid, grid, grid[:-1] + [gs(1000, 0.1, st="failed", r=None)], "N x density grid complete")
    slow_gs = [p | {"solve_seconds_median": 1e-11 * p["N"] ** 4} if p["method"] == "gauss_seidel" else p for p in grid]
    check(item(lc, lc.item_grid, slow_gs).state == "no", "N x density: false when GS is slower than GE at the largest N")
    # Diverged exactly where rho > 1.
    nd = [gs(500, 0.01, f=0.8, rho=0.6), gs(500, 0.01, f=0.2, st="diverged", r=1e5, rho=2.0), gs(500, 0.01, f=2.0, rho=0.1)]
    expect(lc, lc.item_nondominant, nd, nd[:1] + [gs(500, 0.01, f=0.2, st="diverged", r=1e5, rho=0.9)],
           "diverged exactly where rho > 1")
    check(item(lc, lc.item_nondominant, nd[2:]).state == "not run", "non-dominant: not run with dominant matrices only")


def test_attention_verdicts(lc, ld):
    eps = 2.0 ** -23
    bound = eps * (math.sqrt(64) + math.sqrt(1024))
    # Forward accuracy against fp64: the error model eps (sqrt D + sqrt N).
    expect(lc, lambda p: lc.item_method(p, "flash", "flash", ("O",), (), ()),
           [att("flash", 1024, O_rel_fro_error=0.5 * bound)], [att("flash", 1024, O_rel_fro_error=1.5 * bound)],
           "flash O within eps(sqrt D + sqrt N)")
    # Native points: the official library's rule, 2x standard in the same precision.
    nat = dict(native=True, platform="NVIDIA H200", dtype="bfloat16", O_rel_fro_error_standard_same_precision=2e-3)
    expect(lc, lambda p: lc.item_method(p, "flash", "flash", ("O",), (), ()),
           [att("flash", 1024, O_rel_fro_error=3e-3, **nat)], [att("flash", 1024, O_rel_fro_error=5e-3, **nat)],
           "native flash O within 2x standard same precision")
    # Times: flash faster than standard.
    t = lambda m, N, s: att(m, N, forward_seconds_median=s, tile_q=64, tile_k=64)  # noqa: E731
    expect(lc, lc.item_times, [t("standard", 512, 2.0), t("flash", 512, 1.0)],
           [t("standard", 512, 1.0), t("flash", 512, 2.0)], "flash forward faster than standard")
    # Peak memory standard > tiled > flash, same tiles.
    m = lambda meth, N, b, tq=64: att(meth, N, peak_device_bytes=b, tile_q=tq, tile_k=64)  # noqa: E731
    expect(lc, lc.item_memory_order, [m("standard", 512, 3e6), m("tiled", 512, 2e6), m("flash", 512, 1e6)],
           [m("standard", 512, 3e6), m("tiled", 512, 1e6), m("flash", 512, 2e6)], "memory standard > tiled > flash")
    # Agreement with standard (vs_standard within 2x the bound).
    a = lambda meth, d: att(meth, 1024, O_rel_fro_vs_standard=d, tile_q=64, tile_k=64)  # noqa: E731
    expect(lc, lc.item_agreement, [a("tiled", bound), a("flash", 1.5 * bound)], [a("tiled", bound), a("flash", 3 * bound)],
           "O agrees with standard")
    # Tiled closer to standard than flash.
    expect(lc, lc.item_tiled_closer, [a("tiled", 1e-7), a("flash", 2e-7)], [a("tiled", 3e-7), a("flash", 2e-7)],
           "tiled's error vs standard below flash's")
    # Memory growth: N^2 standard, N tiled / flash.
    ns = (512, 1024, 2048)
    grow = lambda e_std: ([m("standard", N, 8.0 * N ** e_std) for N in ns] + [m("tiled", N, 300.0 * N) for N in ns]  # noqa: E731
                          + [m("flash", N, 260.0 * N) for N in ns])
    expect(lc, lc.item_memory_growth, grow(2.0), grow(1.0), "memory grows as N^2 / N / N")
    check(item(lc, lc.item_memory_growth, [p | {"platform": "NVIDIA H200"} for p in grow(2.0)]).state == "not run",
          "memory growth: CPU only (GPU points: not run)")
    # GPU: numlab flash vs SDPA flash, on the same GPU and problem.
    g = dict(platform="NVIDIA H200", dtype="bfloat16", B=4, H=8)
    mine = att("flash", 4096, native=True, forward_seconds_median=1e-3, **g)
    sdpa = lambda s: att("sdpa_flash", 4096, is_peer=True, peer="torch", forward_seconds_median=s, **g)  # noqa: E731
    expect(lc, lc.item_gpu_bf16, [mine, sdpa(2e-3)], [mine, sdpa(0.5e-3)], "numlab flash at least as fast as SDPA flash")
    check(item(lc, lc.item_gpu_bf16, [mine, sdpa(2e-3) | {"platform": "NVIDIA H100"}]).state == "not run",
          "GPU comparison: a peer on another GPU is no match")
    # Tensor cores: the accuracy rule.
    tc = lambda e: att("flash_bwd", 4096, native=True, dQ_rel_fro_error=e,  # noqa: E731
                       dQ_rel_fro_error_standard_same_precision=2e-3, backward_tflops=200.0, **g)
    expect(lc, lc.item_gpu_tensor_cores, [tc(3e-3)], [tc(5e-3)], "tensor-core kernels: error <= 2x standard's")
    # Dense GE on a GPU vs cuSOLVER.
    d = lambda meth, s: pt(method=meth, N=16384, density=0.01, platform="NVIDIA H200", solve_seconds_median=s)  # noqa: E731
    expect(lc, lc.item_gpu_dense, [d("gauss_elim", 1.05), d("reference", 1.0)], [d("gauss_elim", 1.5), d("reference", 1.0)],
           "dense GE at cuSOLVER speed")


def write_attention_h5(path, points, threads):
    """A results file in numlab's schema (root provenance + /points/pNNNNNN attributes)."""
    with h5py.File(path, "w") as f:
        f.attrs.update({"schema_version": 1, "kind": "attention", "kokkos_default_execution_space": "OpenMP",
                        "kokkos_concurrency": threads, "device": "test CPU", "name": "synthetic_memory"})
        g = f.create_group("points")
        for i, p in enumerate(points):
            pg = g.create_group(f"p{i:06d}")
            for k, v in p.items():
                pg.attrs[k] = v
            pg.attrs["point_index"] = i


def test_memory_formula(lc, ld, nr, work):
    """tiled - flash = G tile_q ceil(N_kv/tile_k) tile_k sizeof(T), G = min(threads, B H ceil(N/tile_q)),
    through a real HDF5 file; a 10% error, or G = B (the naive tile_q N 4 B), is caught."""
    def points(extra):
        out = []
        for N, B, H, tq, tk in ((512, 2, 4, 64, 64), (1024, 1, 1, 128, 64), (300, 1, 1, 512, 128)):
            flash = B * H * N * 64 * 4 + B * H * N * 4                     # O and L
            G = min(4, B * H * math.ceil(N / tq))                            # 4 threads
            ws = G * tq * math.ceil(N / tk) * tk * 4
            common = {"B": B, "H": H, "N": N, "D": 64, "dtype": "float32", "causal": 0, "status": "ok",
                      "tile_q": tq, "tile_k": tk, "memory_space": "HostSpace", "forward_seconds_median": 0.01}
            out.append(dict(common, method="flash", peak_device_bytes=flash))
            out.append(dict(common, method="tiled", peak_device_bytes=flash + extra(ws, B)))
        return out
    for name, extra, want in (("exact", lambda ws, B: ws, "yes"), ("10% off", lambda ws, B: int(1.1 * ws), "no")):
        path = os.path.join(work, f"memory_{name.replace('%', '').replace(' ', '_')}.h5")
        write_attention_h5(path, points(extra), threads=4)
        pts = ld.lab_points(nr.load_files([path], derive=False))
        it = item(lc, lc.item_online_softmax_share, pts)
        check(it.state == want, f"tiled − flash = G·tile_q·⌈N_kv/tile_k⌉·tile_k·4 ({name}): {want}")
    # The formula's G: a single head with one query tile has one team whatever the thread count.
    p = att("tiled", 300, tile_q=512, tile_k=128)
    check(lc.tiled_workspace_bytes(p, 4) == 1 * 512 * 3 * 128 * 4, "G = min(threads, B·H·⌈N/tile_q⌉) = 1 for one tile")


def test_not_run(lc, src):
    items = lc.checklist([])
    check(len(items) >= 20, f"the checklist has every item ({len(items)} rows)")
    check(all(it.state == "not run" for it in items), "no data: every item is 'not run'")
    for it in items:
        named = re.findall(r"(configs/[\w.]+\.yaml|scripts/peers/\w+\.py)", it.verdict)
        check(named and all(os.path.exists(os.path.join(src, n)) for n in named),
              f"'{it.what}' names what runs it, and it exists: {', '.join(named)}")
    tasks = [it.task for it in items]
    check(tasks.count("Task 1") == 6 and tasks.count("Task 2") == 11 and tasks.count("GPU") == 3,
          f"6 Task 1 rows, 11 Task 2 rows, 3 GPU rows ({tasks.count('Task 1')}, {tasks.count('Task 2')}, {tasks.count('GPU')})")


def states(items):
    return {it.what: it.state for it in items}


def test_gpu_reference(lc, ld, lf, nr, src):
    paths = sorted(glob.glob(os.path.join(src, "results/reference/gpu-h100/*.h5"))
                   + glob.glob(os.path.join(src, "results/reference/gpu-h200-*/*.h5")))
    if not check(len(paths) >= 10, f"committed GPU reference files found ({len(paths)})"):
        return
    pts = ld.lab_points(nr.load_files(paths, log=lambda m: None, derive=False))
    items = lc.checklist(pts)
    for it in items:
        print(f"     [{it.task}] {it.what}: {it.state}: {it.verdict}")
    s = states(items)
    want = {
        "Gaussian elimination (with partial pivoting)": "yes",
        "flash forward (online softmax)": "yes",
        "peak memory: standard > tiled > flash": "no",          # native tiled keeps no score block
        "tiled (no online softmax) closer to standard than flash": "yes",
        "online softmax's share of peak memory": "yes",
        "tensor-core kernels: the official library's accuracy rule, TFLOP/s": "yes",
        "SciPy reference solve": "not run",
        "CPU memory growth with N": "not run",
    }
    for what, st in want.items():
        check(s.get(what) == st, f"GPU reference: '{what}' is {st} ({s.get(what)})")
    gpu = [it for it in items if it.task == "GPU"]
    check(all(it.state != "not run" for it in gpu), "GPU reference: every GPU row has data")
    mem = [it for it in items if it.what.startswith("peak memory")][0]
    check("tiled = flash at 5/5" in mem.verdict, "GPU reference: the memory row says why tiled = flash")
    titles = [t for t, _ in lf.findings(pts)]
    check(any("NVIDIA H200" in t for t in titles) and "GPU" in titles, f"GPU reference findings: {titles}")


def shrink(src, work, name, out, **over):
    c = yaml.safe_load(open(os.path.join(src, "configs", name + ".yaml"), encoding="utf-8"))
    c.update(over)
    c["output"] = out
    path = os.path.join(work, name + ".yaml")
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(c, f)
    return path


def test_host_run(lc, ld, lf, nr, src, work, numlab):
    """The lab's host configs, shrunk to seconds, then the checklist and the report."""
    res = os.path.join(work, "host")
    os.makedirs(res, exist_ok=True)
    cfgs = [
        shrink(src, work, "linsolve_sweep", os.path.join(res, "linsolve_sweep.h5"), repetitions=1,
               sweep={"product": {"N": [100, 400, 1600], "density": [0.05, 0.1]}}),  # GE N^3 clearly above GS
        shrink(src, work, "linsolve_nondominant", os.path.join(res, "linsolve_nondominant.h5"), repetitions=1,
               sweep={"product": {"N": [300], "dominance_factor": [2.0, 0.8, 0.2]}}),
        shrink(src, work, "attn_memory", os.path.join(res, "attn_memory.h5"),
               sweep={"product": {"N": [256, 512, 1024]}}),
        shrink(src, work, "attn_host_baselines", os.path.join(res, "attn_host_baselines.h5"), repetitions=1, warmup=0,
               sweep={"product": {"N": [128, 256], "tile_k": [64], "tile_q": [64]}}),
    ]
    for c in cfgs:
        r = run([numlab, c, "--overwrite"], work)
        check(r.returncode == 0, f"numlab {os.path.basename(c)}")
    py = sys.executable
    scipy_out = os.path.join(res, "linsolve_sweep_scipy.h5")
    r = run([py, os.path.join(src, "scripts/peers/scipy_linsolve.py"), cfgs[0], "-o", scipy_out, "--overwrite",
             "--numlab", numlab], work)
    check(r.returncode == 0, "the SciPy peer")
    paths = sorted(glob.glob(os.path.join(res, "*.h5")))
    pts = ld.lab_points(nr.load_files(paths, log=lambda m: None, derive=False))
    items = lc.checklist(pts)
    for it in items:
        print(f"     [{it.task}] {it.what}: {it.state}: {it.verdict}")
    s = states(items)
    for what in ("Gaussian elimination (with partial pivoting)", "Gauss-Seidel iteration", "SciPy reference solve",
                 "accuracy and time of the three methods", "N × density sensitivity", "Gauss-Seidel on non-dominant matrices",
                 "standard attention forward", "tiled forward without online softmax", "flash forward (online softmax)",
                 "tiled backward", "peak memory: standard > tiled > flash",
                 "agreement with standard attention (forward and gradients)",
                 "tiled (no online softmax) closer to standard than flash", "online softmax's share of peak memory",
                 "CPU memory growth with N"):
        check(s.get(what) == "yes", f"host run: '{what}' is yes ({s.get(what)})")
    check(s.get("PyTorch and FlashAttention comparison") == "not run", "host run without the torch peer: PyTorch row not run")
    check(all(it.state == "not run" for it in items if it.task == "GPU"), "host run: the GPU rows are not run")
    titles = [t for t, _ in lf.findings(pts)]
    check(titles[:3] == ["Linear systems: who wins where", "Gauss-Seidel without diagonal dominance", "Attention (host CPU)"],
          f"host findings: {titles}")
    text = dict(lf.findings(pts))["Attention (host CPU)"]
    check(re.search(r"standard N\^1\.[89]\d, tiled N\^1\.0\d, flash N\^1\.0\d", text) is not None,
          "host findings: memory exponents ~2, 1, 1")

    # The report: checklist and findings first, every link resolving.
    out = os.path.join(work, "report")
    env = dict(os.environ, MPLBACKEND="Agg")
    r = subprocess.run([py, os.path.join(src, "scripts/report.py")] + paths + ["-o", out], cwd=work, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    if not check(r.returncode == 0, "report.py on the host run"):
        print(r.stdout[-4000:])
        return
    md = open(os.path.join(out, "report.md"), encoding="utf-8").read()
    page = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    heads = re.findall(r"^## (.+)$", md, re.M)
    check(heads[:3] == ["Lab checklist", "Findings", "Linear systems"], f"report opens with the checklist ({heads[:3]})")
    table = md.split("## Lab checklist", 1)[1].split("## Findings", 1)[0]
    rows = [ln for ln in table.splitlines() if ln.startswith("| Task") or ln.startswith("| GPU")]
    check(len(rows) == 20, f"the checklist table has 20 rows ({len(rows)})")
    section = page.split('id="lab-checklist"', 1)[-1].split('id="findings"', 1)[0]
    targets = [html.unescape(t) for t in re.findall(r'<a href="([^"]+)"', section)]
    check(len(targets) >= 40 and "](" not in re.sub(r"<[^>]+>", "", section),
          f"the checklist's links are links in the HTML ({len(targets)}), no Markdown left over")
    ids = set(re.findall(r'id="([^"]+)"', page))
    figs = [t for t in targets if not t.startswith("#")]
    anchors = [t[1:] for t in targets if t.startswith("#")]
    check(figs and all(os.path.isfile(os.path.join(out, t)) for t in figs),
          f"every figure the checklist links exists ({len(figs)} links)")
    check(anchors and all(a in ids for a in anchors), f"every table the checklist links is an anchor of the HTML "
          f"({len(anchors)} links; missing: {sorted(set(a for a in anchors if a not in ids))})")
    check(html.escape("tiled − flash peak") in page, "the HTML holds the checklist's verdicts")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--numlab", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--work-dir", default=None)
    a = ap.parse_args()
    src = os.path.abspath(a.source_dir)
    work = os.path.abspath(a.work_dir or os.path.join(os.getcwd(), "lab_checklist"))
    os.makedirs(work, exist_ok=True)
    os.environ["NUMLAB_BIN"] = os.path.abspath(a.numlab)  # the scripts ask numlab for its schema
    sys.path.insert(0, os.path.join(src, "scripts"))
    import lab_checklist as lc
    import lab_data as ld
    import lab_findings as lf
    import numlab_results as nr
    t0 = time.time()
    test_linsolve_verdicts(lc)
    test_attention_verdicts(lc, ld)
    test_memory_formula(lc, ld, nr, work)
    test_not_run(lc, src)
    test_gpu_reference(lc, ld, lf, nr, src)
    test_host_run(lc, ld, lf, nr, src, work, os.path.abspath(a.numlab))
    print(f"{len(failures)} failure(s) in {time.time() - t0:.0f} s")
    for f in failures:
        print("  FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
