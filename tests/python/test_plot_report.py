#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End-to-end test of the post-processing: numlab -> HDF5 -> scripts/report.py
-> PNGs + report.md + report.html, rendered in headless Chromium.

  test_plot_report.py --numlab BUILD/numlab --source-dir SRC [--work-dir DIR]

Runs the real numlab binary on tests/data/report_linsolve.yaml and
report_attention.yaml, writes small synthetic peer files (torch, scipy, in
numlab's schema, with a failed and an unmatched point), runs report.py, and
checks every expected figure (exists, not trivial, not blank), the Markdown and
HTML (each figure referenced, the tables, the environment), that plot.py copes
with files holding only some metrics or only failures, and that Chromium renders
the HTML with its images. Exits 77 (ctest SKIP_RETURN_CODE) only when no
Chromium is installed, after every other check has passed.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

SKIP = 77

EXPECTED_FIGURES = [
    "linsolve_time_vs_N", "linsolve_solve_ratio_to_peer", "linsolve_dense_ge", "linsolve_accuracy_vs_N",
    "linsolve_gs_iterations_vs_N", "linsolve_residual_histories", "linsolve_spectral_radius",
    "attention_forward_time_vs_N", "attention_backward_time_vs_N", "attention_time_vs_tile",
    "attention_forward_tflops_vs_N", "attention_backward_tflops_vs_N", "attention_forward_ratio_to_peer",
    "attention_backward_ratio_to_peer", "attention_peak_memory_vs_N", "attention_error_vs_N",
]

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
    print(r.stdout[-4000:], end="" if r.stdout.endswith("\n") else "\n")
    print(f"  -> exit {r.returncode} in {time.time() - t0:.1f} s", flush=True)
    return r


def write_peer(path, root, points):
    with h5py.File(path, "w") as f:
        for k, v in root.items():
            f.attrs[k] = v
        g = f.create_group("points")
        for i, p in enumerate(points):
            pg = g.create_group(f"p{i:06d}")
            for k, v in p.items():
                if k == "times_seconds":
                    pg.create_dataset(k, data=np.asarray(v, float))
                else:
                    pg.attrs[k] = v
            pg.attrs["point_index"] = i


def make_peers(work, attn_h5, lin_h5):
    """Peer files whose points match some of numlab's (times = numlab's x 0.5 or x 2)."""
    with h5py.File(attn_h5, "r") as f:
        fwd = {}
        bwd = {}
        for g in f["points"].values():
            a = dict(g.attrs)
            if a.get("method") == "standard" and "forward_seconds_median" in a:
                fwd[int(a["N"])] = a
            if a.get("method") == "flash_bwd" and "backward_seconds_median" in a:
                bwd[int(a["N"])] = a
    base = {"B": 1, "H": 2, "D": 16, "dtype": "float32", "causal": False, "seed": 0}
    pts = []
    for n, a in sorted(fwd.items()):
        # Like scripts/peers/torch_attention.py's SDPA points: forward and backward in one point.
        t = float(a["forward_seconds_median"]) * 0.5
        tb = float(bwd[n]["backward_seconds_median"]) * 2.0
        pts.append(dict(base, N=n, N_kv=n, method="sdpa_math", status="ok", forward_seconds_median=t,
                        forward_tflops=4.0 * 2 * n * n * 16 / t / 1e12, peak_device_bytes=int(2 * 4 * n * n * 1.1),
                        backward_seconds_median=tb, backward_tflops=2.5 * 4.0 * 2 * n * n * 16 / tb / 1e12,
                        backward_peak_device_bytes=int(3 * 4 * n * n * 1.1),
                        O_rel_fro_error=3e-7, dQ_rel_fro_error=5e-7, times_seconds=[t, t * 1.1]))
    for n, a in sorted(bwd.items()):
        t = float(a["backward_seconds_median"]) * 4.0
        pts.append(dict(base, N=n, N_kv=n, method="torch_lab_tiled_bwd", tile_q=16, tile_k=16, status="ok",
                        backward_seconds_median=t, backward_tflops=2.5 * 4.0 * 2 * n * n * 16 / t / 1e12,
                        peak_device_bytes=int(4 * 16 * n * 2), dQ_rel_fro_error=4e-7))
    pts.append(dict(base, N=256, N_kv=256, method="sdpa_flash", status="failed",
                    reason="FlashAttention needs fp16/bf16"))
    pts.append(dict(base, N=128, N_kv=128, dtype="bfloat16", method="sdpa_flash", status="ok",
                    forward_seconds_median=1e-5, forward_tflops=1.0, peak_device_bytes=4096,
                    O_rel_fro_error=2e-3))
    attn_peer = os.path.join(work, "attention_peers_torch.h5")
    write_peer(attn_peer, {"schema_version": 1, "peer": "torch", "kind": "attention", "device": "test device",
                           "host": "testhost", "created_utc": "2026-01-01T00:00:00Z", "torch_version": "2.5.0",
                           "numpy_version": np.__version__}, pts)

    with h5py.File(lin_h5, "r") as f:
        ge = [dict(g.attrs) for g in f["points"].values()
              if g.attrs.get("method") == "gauss_elim" and float(g.attrs.get("dominance_factor", 2.0)) == 2.0]
    lpts = [dict(N=int(a["N"]), density=float(a["density"]), dominance="strict", generator="random_sparse",
                 method="scipy_solve", status="solved", solve_seconds_median=float(a["solve_seconds_median"]) * 0.8,
                 rel_error=1e-15, rel_residual=1e-16) for a in ge]
    lpts.append(dict(N=100, density=0.05, method="scipy_spsolve", status="skipped", reason="not run"))
    lin_peer = os.path.join(work, "linsolve_peers_scipy.h5")
    write_peer(lin_peer, {"schema_version": 1, "peer": "scipy", "kind": "linsolve", "host": "testhost",
                          "created_utc": "2026-01-01T00:00:00Z", "scipy_version": "1.10.1"}, lpts)

    # Only failures: no figure can be drawn, nothing may crash.
    failed = os.path.join(work, "only_failed.h5")
    write_peer(failed, {"schema_version": 1, "kind": "attention", "name": "only_failed"},
               [dict(base, N=64, method="flash", status="failed", reason="boom"),
                dict(base, N=64, method="standard", status="skipped", reason="too big")])
    return attn_peer, lin_peer, failed


def image_stats(path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.image as mimg
    im = mimg.imread(path)
    if im.dtype != np.float32 and im.dtype != np.float64:
        im = im.astype(float) / 255.0
    rgb = im[..., :3] if im.ndim == 3 else np.stack([im] * 3, axis=-1)
    nonwhite = float(np.mean(rgb.min(axis=-1) < 0.92))
    colored = float(np.mean((rgb.max(axis=-1) - rgb.min(axis=-1)) > 0.2))
    return rgb.shape, float(rgb.std()), nonwhite, colored


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--numlab", default=os.environ.get("NUMLAB_BINARY"))
    ap.add_argument("--source-dir", default=os.environ.get("NUMLAB_SOURCE_DIR",
                                                         os.path.dirname(os.path.dirname(os.path.dirname(
                                                             os.path.abspath(__file__))))))
    ap.add_argument("--work-dir", default=None)
    args = ap.parse_args()
    src = os.path.abspath(args.source_dir)
    numlab = os.path.abspath(args.numlab or os.path.join(src, "build", "numlab"))
    if not (os.path.isfile(numlab) and os.access(numlab, os.X_OK)):
        print(f"FAIL numlab binary not found: {numlab}")
        return 1
    work = os.path.abspath(args.work_dir) if args.work_dir else tempfile.mkdtemp(prefix="numlab_report_test_")
    if os.path.isdir(work):
        shutil.rmtree(work)
    os.makedirs(work)
    py = sys.executable or "/usr/bin/python3"
    scripts = os.path.join(src, "scripts")
    env_note = f"work dir {work}"
    print(env_note)

    # 1. Real numlab runs.
    lin_h5 = os.path.join(work, "report_linsolve.h5")
    attn_h5 = os.path.join(work, "report_attention.h5")
    for cfg, out in (("report_linsolve.yaml", lin_h5), ("report_attention.yaml", attn_h5)):
        r = run([numlab, os.path.join(src, "tests", "data", cfg), "-o", out, "--overwrite", "-q"], cwd=work)
        check(r.returncode == 0 and os.path.isfile(out), f"numlab {cfg} ran (exit {r.returncode})")
    if failures:
        return 1

    attn_peer, lin_peer, only_failed = make_peers(work, attn_h5, lin_h5)

    # 2. The one command.
    outdir = os.path.join(work, "report")
    r = run([py, os.path.join(scripts, "report.py"), lin_h5, attn_h5, attn_peer, lin_peer, only_failed,
             "-o", outdir], cwd=work)
    check(r.returncode == 0, "report.py exits 0")
    check("Traceback" not in r.stdout and "warning: a figure failed" not in r.stdout,
          "report.py printed no traceback / failed figure")

    # 3. Figures.
    for name in EXPECTED_FIGURES:
        path = os.path.join(outdir, "figures", name + ".png")
        if not check(os.path.isfile(path), f"figure {name}.png exists"):
            continue
        size = os.path.getsize(path)
        shape, std, nonwhite, colored = image_stats(path)
        check(size > 15000, f"{name}.png is not trivial ({size} bytes)")
        check(shape[0] > 300 and shape[1] > 400, f"{name}.png has a sensible size {shape[1]}x{shape[0]}")
        check(std > 0.05 and nonwhite > 0.01 and colored > 0.002,
              f"{name}.png is not blank (std {std:.3f}, non-white {nonwhite:.3f}, coloured {colored:.4f})")

    # 4. Markdown and HTML.
    md_path, html_path = os.path.join(outdir, "report.md"), os.path.join(outdir, "report.html")
    check(os.path.isfile(md_path) and os.path.isfile(html_path), "report.md and report.html exist")
    md = open(md_path, encoding="utf-8").read() if os.path.isfile(md_path) else ""
    doc = open(html_path, encoding="utf-8").read() if os.path.isfile(html_path) else ""
    for name in EXPECTED_FIGURES:
        check(f"](figures/{name}.png)" in md, f"report.md shows figures/{name}.png")
        check(f'<img src="figures/{name}.png"' in doc, f"report.html shows figures/{name}.png")
    md_tables = len(re.findall(r"^\|(?:---\|)+$", md, flags=re.M))
    html_tables = doc.count("<table>")
    check(md_tables >= 12, f"report.md has tables ({md_tables})")
    check(html_tables == md_tables, f"report.html has the same tables ({html_tables})")
    for heading in ("Median solve time", "Relative error", "Gauss-Seidel iterations", "Spectral radius estimate",
                    "Forward time: best over tile sizes", "Backward time: best over tile sizes", "Peak memory",
                    "Errors against the fp64 reference", "numlab / scipy_solve [scipy]: solve time ratio",
                    "numlab / sdpa_math [torch]: forward time ratio",
                    "numlab / torch_lab_tiled_bwd [torch]: backward time ratio",
                    "Points without a result", "Environment"):
        check(heading in md and heading in doc, f"report has '{heading}'")
    # Ratios: the synthetic peer's standard forward is numlab's time x 0.5 -> ratio 2x.
    ratio_block = md.split("numlab / sdpa_math [torch]: forward time ratio", 1)[-1].split("####", 1)[0]
    check(re.search(r"\| 2× \|", ratio_block) is not None, "forward ratio standard / sdpa_math is 2×")
    check("numlab / sdpa_math [torch]: backward time ratio" in md, "the SDPA point's backward is compared too")
    for key in ("git_commit", "kokkos_version", "kokkos_default_execution_space", "created_utc", "command_line",
                "host", "cpu", "device", "torch_version", "scipy_version", "report_attention", "config_text"):
        check(key in md, f"environment shows {key}")
    check("FlashAttention needs fp16/bf16" in md and "diverged" in md,
          "failed / diverged points are listed with their reasons")
    check("bfloat16" in md, "the bf16 peer point appears")

    # 5. Robustness: files with only some metrics, or only failures.
    for files, what in (([attn_peer], "a peer file alone"), ([only_failed], "a file with only failures"),
                        ([lin_peer, only_failed], "peers and failures")):
        d = os.path.join(work, "plot_" + re.sub(r"\W+", "_", what))
        r = run([py, os.path.join(scripts, "plot.py")] + files + ["-o", d], cwd=work)
        check(r.returncode == 0 and "Traceback" not in r.stdout, f"plot.py on {what} exits 0 without a traceback")
    r = run([py, os.path.join(scripts, "plot.py"), only_failed, "-o", os.path.join(work, "plot_failed2")], cwd=work)
    check("note: skipping" in r.stdout, "plot.py notes the figures it skips")
    check(not any(f.endswith(".png") for f in os.listdir(os.path.join(work, "plot_failed2"))),
          "no figure from failed points only")
    r = run([py, os.path.join(scripts, "report.py"), only_failed, "-o", os.path.join(work, "report_failed")], cwd=work)
    check(r.returncode == 0 and os.path.isfile(os.path.join(work, "report_failed", "report.html")),
          "report.py on a file with only failures still writes a report")

    # 6. Chromium renders the HTML, images included.
    chrome = find_chromium()
    if chrome is None:
        if failures:
            print(f"{len(failures)} check(s) failed")
            return 1
        print("SKIP: no Chromium (chromium / chromium-browser / google-chrome) installed; "
              "scripts/install_deps.sh installs it. Every other check passed.")
        return SKIP
    profile = os.path.join(work, "chromium-profile")
    shot = os.path.join(work, "report_screenshot.png")
    pdf = os.path.join(work, "report.pdf")
    common = [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
              "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=15000"]
    url = "file://" + html_path
    env = dict(os.environ, HOME=work)
    for extra, out in (([f"--screenshot={shot}", "--window-size=1280,4000"], shot),
                       ([f"--print-to-pdf={pdf}", "--no-pdf-header-footer"], pdf)):
        for attempt in range(2):
            try:
                r = subprocess.run(common + extra + [url], cwd=work, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, timeout=180)
                rc = r.returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
            if os.path.isfile(out) and os.path.getsize(out) > 0:
                break
        check(os.path.isfile(out), f"chromium wrote {os.path.basename(out)} (exit {rc})")
    if os.path.isfile(shot):
        shape, std, nonwhite, colored = image_stats(shot)
        check(shape[0] >= 3000 and shape[1] >= 1200, f"screenshot is {shape[1]}x{shape[0]}")
        check(std > 0.08 and nonwhite > 0.03, f"screenshot is not blank (std {std:.3f}, non-white {nonwhite:.3f})")
        check(colored > 0.004, f"screenshot shows coloured plots ({colored:.4f} of the pixels coloured)")
    if os.path.isfile(pdf):
        size = os.path.getsize(pdf)
        check(size > 300_000, f"the PDF print embeds the figures ({size} bytes)")

    if failures:
        print(f"{len(failures)} check(s) failed:")
        for f in failures:
            print("  " + f)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
