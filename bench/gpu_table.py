#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Ratio tables of one bench/gpu run: numlab's HDF5 files beside the peers' files of the
same run (same directory), against issue 5's and 6's targets.

Usage: bench/gpu_table.py OUT_DIR      (prints Markdown tables)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import numlab_results  # noqa: E402  (the one HDF5 reader of the scripts)



def tiles_run(p):
    """The tiles that ran (tile_q_run x tile_k_run, with the kernel), else the requested ones (older files)."""
    if p.get("tile_q_run") is not None:
        return f"{p['tile_q_run']}x{p['tile_k_run']} {p.get('kernel_run', '')}".strip()
    return f"{p.get('tile_q')}x{p.get('tile_k')}"

def load(path):
    """Points of a numlab-schema file ([] if the file is missing): scripts/numlab_results.py."""
    if not os.path.exists(path):
        return []
    return numlab_results.load_file(path, load_arrays=False).points


def device_of(path):
    if not os.path.exists(path):
        return None
    return numlab_results.load_file(path, load_arrays=False).attrs.get("device")


def ok(p):
    return p.get("status") in ("ok", "solved", "converged", "max_iterations")


def key(p):
    return (int(p["N"]), int(p["D"]), str(p["dtype"]), int(bool(p.get("causal", 0))))


def pick(points, method, **match):
    out = {}
    for p in points:
        if p.get("method") != method or not ok(p):
            continue
        if any(str(p.get(k)) != str(v) for k, v in match.items()):
            continue
        out[key(p)] = p
    return out


def fmt(x, spec=".1f"):
    return "-" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def table(title, header, rows, note=""):
    print(f"\n### {title}\n")
    if note:
        print(note + "\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")


def native_table(nat, peers, title):
    """Native forward / backward TFLOP/s beside SDPA flash and cuDNN of the same run, per point."""
    if not nat:
        return
    nf = pick(nat, "flash")
    nb = {m: pick(nat, "flash_bwd", dq=m) for m in ("atomic", "separate")}
    fa, cu = pick(peers, "sdpa_flash"), pick(peers, "sdpa_cudnn")
    rows = []
    for k in sorted(nf, key=lambda k: (k[2], k[3], k[1], k[0])):
        a = nf[k].get("forward_tflops")
        fl_ = fa.get(k, {}).get("forward_tflops")
        c = cu.get(k, {}).get("forward_tflops")
        ba = nb["atomic"].get(k, {}).get("backward_tflops")
        bs = nb["separate"].get(k, {}).get("backward_tflops")
        fb = fa.get(k, {}).get("backward_tflops")
        cb = cu.get(k, {}).get("backward_tflops")
        rows.append([k[2], "yes" if k[3] else "no", str(k[1]), str(k[0]), fmt(a), fmt(fl_), fmt(ratio(a, fl_), ".2f"),
                     fmt(c), fmt(ratio(a, c), ".2f"), fmt(ba), fmt(bs), fmt(ratio(ba, bs), ".2f"), fmt(fb),
                     fmt(ratio(ba, fb), ".2f"), fmt(cb), fmt(ratio(ba, cb), ".2f")])
    table(title, ["dtype", "causal", "D", "N", "fwd", "flash", "x flash", "cudnn", "x cudnn", "bwd atomic",
                  "bwd determ.", "determ. time / atomic", "flash bwd", "x flash", "cudnn bwd", "x cudnn"], rows)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "results/bench/gpu"
    f = lambda n: os.path.join(out, n)
    dev = next((d for d in (device_of(os.path.join(out, n)) for n in sorted(os.listdir(out)) if n.endswith(".h5"))
                if d), None) if os.path.isdir(out) else None
    print(f"# bench/gpu on {dev}\n")
    print("TFLOP/s: 4 B H N N_kv D (halved when causal) per forward, 2.5x that per backward; "
          "median of repetitions after warm-up, CUDA events or device fence. Peers from the same run.")

    fp32 = load(f("attn_gpu_fp32.h5")) + load(f("attn_gpu_fp32_bwd.h5"))
    peers32 = load(f("peers_torch_fp32.h5"))
    fl = pick(fp32, "flash")
    eff = pick(peers32, "sdpa_efficient")
    math_ = pick(peers32, "sdpa_math")
    rows = []
    for k in sorted(fl):
        a = fl[k].get("forward_tflops")
        e = eff.get(k, {}).get("forward_tflops")
        rows.append([str(k[0]), str(k[1]), fmt(a), fmt(e), fmt(math_.get(k, {}).get("forward_tflops")),
                     fmt(ratio(a, e), ".2f")])
    table("Kokkos flash forward, fp32 (TF32 off) vs SDPA efficient (target >= 0.7x)",
          ["N", "D", "numlab TFLOP/s", "efficient", "math", "numlab / efficient"], rows)

    rows = []
    by_mode = {m: pick(fp32, "flash_bwd", dq=m) for m in ("atomic", "separate")}
    for mode, b in by_mode.items():
        for k in sorted(b):
            a = b[k].get("backward_tflops")
            e = eff.get(k, {}).get("backward_tflops")
            # The deterministic mode's time over the atomic one's (same flop count: TFLOP/s ratio).
            at = by_mode["atomic"].get(k, {}).get("backward_tflops")
            rows.append([str(k[0]), str(k[1]), mode, tiles_run(b[k]), fmt(a), fmt(e),
                         fmt(ratio(a, e), ".2f"), fmt(ratio(at, a), ".2f") if mode == "separate" else "-"])
    table("Kokkos flash backward, fp32 vs SDPA efficient backward (targets: >= 0.8x; separate <= 1.3x atomic's time)",
          ["N", "D", "dQ", "tiles", "numlab TFLOP/s", "efficient", "ratio", "time / atomic"], rows)

    rows = []
    for k in sorted(fl):
        p = fl[k]
        B, H, N, D = int(p["B"]), int(p["H"]), int(p["N"]), int(p["D"])
        ideal = 4 * (4 * B * H * N * D) + 4 * B * H * N  # Q, K, V, O (fp32) + L
        used = p.get("inputs_device_bytes", 0) + p.get("peak_device_bytes", 0)
        rows.append([str(N), str(D), f"{used / 2**20:.1f}", f"{ideal / 2**20:.1f}", fmt(ratio(used, ideal), ".3f")])
    table("Kokkos flash forward device memory: inputs + method peak vs Q+K+V+O+L (target <= 1.10)",
          ["N", "D", "measured MiB", "Q+K+V+O+L MiB", "ratio"], rows)

    # Issue 17: the native fp32 forward (3xTF32 on tensor cores) against the same SDPA efficient points.
    nf32 = pick(load(f("attn_gpu_fp32_native.h5")), "flash")
    rows = []
    for k in sorted(nf32):
        a = nf32[k].get("forward_tflops")
        e = eff.get(k, {}).get("forward_tflops")
        kk = fl.get(k, {}).get("forward_tflops")
        rows.append([str(k[0]), str(k[1]), str(nf32[k].get("kernel_run", "")), fmt(a), fmt(e), fmt(ratio(a, e), ".2f"),
                     fmt(kk), fmt(ratio(a, kk), ".2f")])
    if rows:
        table("Native fp32 flash forward (backend: cuda_native, 3xTF32) vs SDPA efficient fp32, TF32 off (target >= 2.0x)",
              ["N", "D", "kernel", "native TFLOP/s", "efficient", "native / efficient", "Kokkos flash", "native / Kokkos"],
              rows)
    rows = []
    nb32 = {m: pick(load(f("attn_gpu_fp32_native.h5")), "flash_bwd", dq=m) for m in ("atomic", "separate")}
    for mode, b in nb32.items():
        for k in sorted(b):
            a = b[k].get("backward_tflops")
            e = eff.get(k, {}).get("backward_tflops")
            at = nb32["atomic"].get(k, {}).get("backward_tflops")
            kk = by_mode[mode].get(k, {}).get("backward_tflops")
            rows.append([str(k[0]), str(k[1]), mode, str(b[k].get("kernel_run", "")), fmt(a), fmt(e),
                         fmt(ratio(a, e), ".2f"), fmt(ratio(at, a), ".2f") if mode == "separate" else "-", fmt(kk),
                         fmt(ratio(a, kk), ".2f")])
    if rows:
        table("Native fp32 flash backward (backend: cuda_native, 3xTF32) vs SDPA efficient fp32 backward, TF32 off "
              "(target >= 1.5x)",
              ["N", "D", "dQ", "kernel", "native TFLOP/s", "efficient", "native / efficient", "time / atomic",
               "Kokkos flash_bwd", "native / Kokkos"], rows)
    acc32 = load(f("attn_gpu_fp32_native_accuracy.h5"))
    rows = []
    for p in sorted((p for p in acc32 if ok(p) and p.get("method") == "flash"),
                    key=lambda p: (int(p["D"]), int(bool(p.get("causal", 0))), int(p["N"]))):
        cells = [str(p["D"]), "yes" if p.get("causal") else "no", str(p["N"])]
        for x in ("O", "L"):
            e, b = p.get(f"{x}_max_abs_error"), p.get(f"{x}_max_abs_error_standard_same_precision")
            ef, bf = p.get(f"{x}_rel_fro_error"), p.get(f"{x}_rel_fro_error_standard_same_precision")
            cells += [fmt(e, ".2e"), fmt(b, ".2e"), fmt(ratio(e, b), ".2f"), fmt(ratio(ef, bf), ".2f")]
        rows.append(cells)
    if rows:
        table("Native fp32 forward accuracy: error vs fp64 beside standard attention in fp32 on the host (target <= 2)",
              ["D", "causal", "N", "O max-abs", "std fp32", "ratio", "rel-fro ratio", "L max-abs", "std fp32", "ratio",
               "rel-fro ratio"], rows)
    rows = []
    for p in sorted((p for p in acc32 if ok(p) and p.get("method") == "flash_bwd"),
                    key=lambda p: (int(p["D"]), int(bool(p.get("causal", 0))), int(p["N"]), str(p.get("dq")))):
        cells = [str(p["D"]), "yes" if p.get("causal") else "no", str(p["N"]), str(p.get("dq"))]
        for x in ("dQ", "dK", "dV"):
            e, b = p.get(f"{x}_max_abs_error"), p.get(f"{x}_max_abs_error_standard_same_precision")
            ef, bf = p.get(f"{x}_rel_fro_error"), p.get(f"{x}_rel_fro_error_standard_same_precision")
            cells += [fmt(e, ".2e"), fmt(ratio(e, b), ".2f"), fmt(ratio(ef, bf), ".2f")]
        rows.append(cells)
    if rows:
        table("Native fp32 backward accuracy: error vs fp64 over that of standard attention's backward in fp32 on the "
              "host (target <= 2)",
              ["D", "causal", "N", "dQ", "dQ max-abs", "ratio", "rel-fro ratio", "dK max-abs", "ratio", "rel-fro ratio",
               "dV max-abs", "ratio", "rel-fro ratio"], rows)

    native_table(load(f("attn_cuda_bench.h5")), load(f("peers_torch_half.h5")),
                 "Native tensor-core attention (backend: cuda_native), B N = 16k, H = 2048 / D, vs SDPA flash (FA2) "
                 "and cuDNN (issue 19's targets: forward >= 0.95x cuDNN at D = 128, 0.9x at D = 64, 256; backward "
                 ">= 0.75x cuDNN at D = 64, 128, 0.7x at D = 256; deterministic <= 1.15x atomic's time)")
    native_table(load(f("attn_cuda_long.h5")), load(f("peers_torch_long.h5")),
                 "Native tensor-core attention at long sequences (configs/attn_cuda_long.yaml: B = 1, H = 16, D = 128) "
                 "vs SDPA flash and cuDNN")

    # Accuracy rule of the official FlashAttention tests: error against fp64 <= 2x that of standard
    # attention in the same precision. Worst ratio over the lengths of attn_cuda_accuracy.yaml.
    acc = load(f("attn_cuda_accuracy.h5"))
    worst = {}
    for p in acc:
        if not ok(p):
            continue
        tag = p["method"] + ("" if p["method"] == "flash" else f" ({p.get('dq')})")
        k = (str(p["dtype"]), int(p["D"]), tag)
        for x in ("O", "dQ", "dK", "dV"):
            r = ratio(p.get(f"{x}_max_abs_error"), p.get(f"{x}_max_abs_error_standard_same_precision"))
            if r is not None:
                w = worst.setdefault(k, {})
                w[x] = max(w.get(x, 0.0), r)
                w["N"] = sorted(set(w.get("N", [])) | {int(p["N"])})
    rows = [[k[0], str(k[1]), k[2], ", ".join(map(str, w["N"]))] + [fmt(w.get(x), ".2f") for x in ("O", "dQ", "dK", "dV")]
            for k, w in sorted(worst.items())]
    table("Native attention accuracy: max-abs error / same-precision standard attention's, worst over N and causal "
          "(target <= 2)", ["dtype", "D", "method", "N", "O", "dQ", "dK", "dV"], rows)

    lin = load(f("linsolve_gpu.h5"))
    tl = load(f("peers_torch_linsolve.h5"))
    ts = {int(p["N"]): p for p in tl if p.get("method") == "torch_solve" and ok(p)}
    rows = []
    for p in sorted((p for p in lin if ok(p)), key=lambda p: (int(p["N"]), p.get("point_index", 0))):
        N = int(p["N"])
        t = p.get("solve_seconds_median")
        tt = ts.get(N, {}).get("solve_seconds_median")
        opts = ", ".join(f"{k}={p[k]}" for k in ("panel_kernel", "block_size", "leaf_width", "lookahead") if k in p)
        rows.append([str(N), p["method"] + (f" ({opts})" if opts else ""), fmt(t and t * 1e3, ".1f"),
                     fmt(tt and tt * 1e3, ".1f"), fmt(ratio(t, tt), ".2f"), fmt(p.get("rel_error"), ".1e")])
    table("Dense solve fp64 vs torch.linalg.solve (cuSOLVER) (targets: gauss_elim <= 1.2x at N = 16384, 1.4x at 8192, 2.0x at 2000)",
          ["N", "method", "ms", "torch ms", "ratio", "rel_error"], rows)

    gs = load(f("poisson_gpu.h5"))
    spmv = {int(p["N"]): p for p in tl if p.get("method") == "cusparse_spmv" and ok(p)}
    rows = []
    for p in sorted((p for p in gs if ok(p)), key=lambda p: (int(p["N"]), p.get("point_index", 0))):
        N = int(p["N"])
        sw = p.get("sweep_seconds_median")
        sp = spmv.get(N, {}).get("spmv_seconds_median")
        opts = ", ".join(f"{k}={p[k]}" for k in ("variant", "coloring", "check_every") if k in p)
        rows.append([str(N), opts, fmt(sw and sw * 1e3, ".3f"), fmt(sp and sp * 1e3, ".3f"), fmt(ratio(sw, sp), ".2f"),
                     fmt(p.get("sweep_bandwidth_GBps"), ".0f"), str(p.get("iterations", "-"))])
    table("Gauss-Seidel sweep on 2D Poisson vs one cuSPARSE CSR SpMV (target multicolour <= 2x at N = 10^7)",
          ["N", "variant", "sweep ms", "SpMV ms", "ratio", "GB/s", "sweeps run"], rows)

    it = load(f("poisson_gpu_iterations.h5"))
    rows = [[str(int(p["N"])), str(p.get("variant")), str(p.get("status")), str(p.get("iterations")),
             fmt(p.get("rel_residual"), ".1e")] for p in sorted(it, key=lambda p: (int(p["N"]), p.get("point_index", 0)))]
    table("Iterations to rel. residual 1e-6: lexicographic vs multicolour order", ["N", "variant", "status",
                                                                                 "iterations", "rel_residual"], rows)

    # Mixed precision: every run (a diverged one is no solution) against cuSOLVER fp64 on the same
    # randsvd matrix; speed-up = reference time / this time.
    rows = []
    for name in ("mixed_refinement_gpu.h5", "mixed_gmres_gpu.h5"):
        mp = load(f(name))
        ref = {(int(p["N"]), float(p["cond"])): p for p in mp if p.get("method") == "reference" and ok(p)}
        for p in sorted((p for p in mp if p.get("method") == "mixed_refinement"),
                        key=lambda p: (int(p["N"]), float(p["cond"]), str(p.get("factorization", "")),
                                       str(p.get("factor_precision", "")), str(p.get("pivoting", "")),
                                       int(p.get("butterfly_depth", 0) or 0), int(p.get("block_size", 0) or 0),
                                       str(p.get("panel_kernel", "")), str(p.get("solver", "")))):
            r = ref.get((int(p["N"]), float(p["cond"])))
            t, tr = p.get("solve_seconds_median"), r and r.get("solve_seconds_median")
            inner = p.get("inner_iterations_total")
            lib = p.get("factorization") == "library"
            piv, bd, bs = str(p.get("pivoting", "partial")), int(p.get("butterfly_depth") or 0), int(p.get("block_size") or 0)
            notes = ["library getrf"] if lib else []
            if p.get("panel_kernel") == "tournament":
                notes.append("tournament")
            if bd > 0:
                notes.append(f"butterflies d{bd}")
            if piv != "partial":
                notes.append(piv + (f" {bs}" if bs > 0 and piv == "block_local" else ""))
            how = f" ({', '.join(notes)})" if notes else ""
            rows.append([str(int(p["N"])), f"{float(p['cond']):.0e}", str(p.get("factor_precision")) + how,
                         str(p.get("solver", "classical")), str(p.get("status")),
                         str(p.get("iterations", "-")) + (f" ({inner} Krylov)" if inner is not None else ""),
                         fmt(t and t * 1e3), fmt(p.get("factor_seconds_median") and p["factor_seconds_median"] * 1e3),
                         fmt(tr and tr * 1e3), fmt(ratio(tr, t), ".2f"),
                         fmt(p.get("rel_error"), ".1e"), fmt(r and r.get("rel_error"), ".1e")])
    table("Mixed-precision refinement vs cuSOLVER fp64 on the same matrix (targets at N = 16384: float32 factors >= 1.8x "
          "faster with rel_error within 10x up to cond 1e6; bf16/fp16 on tensor cores >= 3x where it converges)",
          ["N", "cond", "factors", "solver", "status", "corrections", "ms", "of it factor ms", "cuSOLVER ms", "speed-up",
           "rel_error",
           "cuSOLVER rel_error"], rows)

    # numlab's fp64 LU on the same randsvd matrices (partial or tournament pivoting) against cuSOLVER.
    rows = []
    for name in ("mixed_refinement_gpu.h5",):
        mp = load(f(name))
        ref = {(int(p["N"]), float(p["cond"])): p for p in mp if p.get("method") == "reference" and ok(p)}
        for p in sorted((p for p in mp if p.get("method") == "gauss_elim" and ok(p)),
                        key=lambda p: (int(p["N"]), float(p["cond"]), str(p.get("panel_kernel", "")))):
            r = ref.get((int(p["N"]), float(p["cond"])))
            t, tr = p.get("solve_seconds_median"), r and r.get("solve_seconds_median")
            rows.append([str(int(p["N"])), f"{float(p['cond']):.0e}", str(p.get("panel_kernel", "auto")),
                         fmt(t and t * 1e3, ".1f"), fmt(tr and tr * 1e3, ".1f"), fmt(ratio(t, tr), ".2f"),
                         fmt(p.get("rel_error"), ".1e"), fmt(r and r.get("rel_error"), ".1e")])
    table("gauss_elim fp64 on the randsvd matrices vs cuSOLVER (reference) in the same run",
          ["N", "cond", "panel_kernel", "ms", "cuSOLVER ms", "time / cuSOLVER", "rel_error", "cuSOLVER rel_error"], rows)


if __name__ == "__main__":
    main()
