#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/gpu_table.py on committed H200 runs: the dense-solve ratios and the mixed-precision
speed-ups (results/reference/gpu-h200-linsolve-stamps), and the native attention ratios to cuDNN
(results/reference/gpu-h200-ws-forward), against a hand computation from the HDF5 attributes
(h5py only); a diverged run shown as refinement_diverged, never solved.

  test_gpu_table.py [--source-dir SRC]
"""
import argparse
import os
import subprocess
import sys

import h5py

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def attrs(path):
    with h5py.File(path, "r") as f:
        return [{k: (v.decode() if isinstance(v, bytes) else v) for k, v in g.attrs.items()} for g in f["points"].values()]


def rows_of(text, title_start):
    """The table rows (lists of cells) of the section whose title starts with title_start."""
    sec = next(s for s in text.split("\n### ") if s.startswith(title_start))
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in sec.splitlines()
            if line.startswith("| ") and not line.startswith("| N |")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source-dir", default=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    src = os.path.abspath(ap.parse_args().source_dir)
    d = os.path.join(src, "results", "reference", "gpu-h200-linsolve-stamps")
    out = subprocess.run([sys.executable, os.path.join(src, "bench", "gpu_table.py"), d], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=120)
    check(out.returncode == 0, f"gpu_table.py exits 0 ({out.returncode})")
    text = out.stdout
    check(text.startswith("# bench/gpu on NVIDIA H200"), "the heading names the device of the files")

    # Dense: gauss_elim (automatic) at N = 16384 over torch.linalg.solve.
    ge = [a for a in attrs(os.path.join(d, "linsolve_gpu.h5")) if a["method"] == "gauss_elim" and int(a["N"]) == 16384
          and str(a.get("panel_kernel")) == "auto" and int(a.get("block_size", 0)) == 0 and bool(a.get("lookahead"))]
    tp = [a for a in attrs(os.path.join(d, "peers_torch_linsolve.h5")) if int(a["N"]) == 16384 and a["status"] == "solved"]
    want = float(ge[0]["solve_seconds_median"]) / float(tp[0]["solve_seconds_median"])
    dense = [r for r in rows_of(text, "Dense solve") if r[0] == "16384" and "panel_kernel=auto, block_size=0" in r[1]
             and "lookahead=1" in r[1]]
    check(len(ge) == 1 and len(dense) == 1 and abs(float(dense[0][4]) - want) < 0.006,
          f"dense ratio at N = 16384: table {dense[0][4] if dense else None} vs hand {want:.3f}")

    # Mixed precision: speed-up = cuSOLVER time / this time, on the same matrix.
    pts = attrs(os.path.join(d, "mixed_gmres_gpu.h5"))
    ref = {float(a["cond"]): a for a in pts if a["method"] == "reference"}
    mixed = rows_of(text, "Mixed-precision")
    for a in (a for a in pts if a["method"] == "mixed_refinement"):
        want = float(ref[float(a["cond"])]["solve_seconds_median"]) / float(a["solve_seconds_median"])
        got = [r for r in mixed if r[0] == "16384" and float(r[1]) == float(a["cond"]) and r[3] == a["solver"]
               and abs(float(r[6]) - 1e3 * float(a["solve_seconds_median"])) < 0.06]
        check(len(got) == 1 and abs(float(got[0][9]) - want) < 0.006 and got[0][4] == a["status"],
              f"mixed {a['solver']} cond {a['cond']:.0e}: speed-up {got[0][9] if got else None} vs hand {want:.3f}, "
              f"status {a['status']}")
    check(any(r[4] == "refinement_diverged" for r in mixed), "a diverged run is listed as refinement_diverged")

    # Native attention (results/reference/gpu-h200-ws-forward): forward and atomic backward over
    # cuDNN's, the deterministic backward's time over the atomic one's, at B N = 16k and long N.
    d = os.path.join(src, "results", "reference", "gpu-h200-ws-forward")
    out = subprocess.run([sys.executable, os.path.join(src, "bench", "gpu_table.py"), d], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=120)
    check(out.returncode == 0, f"gpu_table.py exits 0 on {os.path.basename(d)} ({out.returncode})")
    for name, peers, title in (("attn_cuda_bench", "peers_torch_half", "Native tensor-core attention (backend"),
                               ("attn_cuda_long", "peers_torch_long", "Native tensor-core attention at long")):
        key = lambda a: (a["dtype"], int(a["D"]), int(a["N"]), int(bool(a["causal"])))
        nat = [a for a in attrs(os.path.join(d, name + ".h5")) if a["status"] == "ok"]
        peer = {(a["method"],) + key(a): a for a in attrs(os.path.join(d, peers + ".h5")) if a["status"] == "ok"}
        rows = {(r[0], int(r[2]), int(r[3]), int(r[1] == "yes")): r for r in rows_of(out.stdout, title) if r[0] != "dtype"}
        atomic = {key(a): a for a in nat if a["method"] == "flash_bwd" and a.get("dq") == "atomic"}
        # Every native point with both peers has its row; each ratio column equals the hand computation.
        want_rows = {key(a) for a in nat if ("sdpa_cudnn",) + key(a) in peer and ("sdpa_flash",) + key(a) in peer}
        check(want_rows and want_rows <= set(rows), f"{name}: a table row for each of the {len(want_rows)} measured cases")
        n = bad = 0
        for a in nat:
            k = key(a)
            if k not in want_rows or k not in rows:
                continue
            r, fl, cu = rows[k], peer[("sdpa_flash",) + k], peer[("sdpa_cudnn",) + k]
            if a["method"] == "flash":
                pairs = [(r[6], a["forward_tflops"] / fl["forward_tflops"]), (r[8], a["forward_tflops"] / cu["forward_tflops"])]
            elif a["method"] == "flash_bwd" and a.get("dq") == "atomic":
                pairs = [(r[13], a["backward_tflops"] / fl["backward_tflops"]),
                         (r[15], a["backward_tflops"] / cu["backward_tflops"])]
            elif a["method"] == "flash_bwd" and a.get("dq") == "separate":
                pairs = [(r[11], atomic[k]["backward_tflops"] / a["backward_tflops"])]
            else:
                continue
            for got, want in pairs:
                n += 1
                if abs(float(got) - float(want)) >= 0.006:
                    bad += 1
                    check(False, f"{name} {a['method']} {a.get('dq', '')} {k}: table {got} vs hand {want:.3f}")
        check(bad == 0 and n == 5 * len(want_rows), f"{name}: {n} ratios of the table equal the hand computation "
              f"(5 per case: forward and atomic backward over flash and cuDNN, deterministic over atomic time)")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
