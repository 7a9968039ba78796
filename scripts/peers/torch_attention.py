#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""PyTorch peers of numlab's attention methods, on the points of a numlab config
or on a direct list of shapes; writes numlab's HDF5 schema (peer = 'torch').

Methods:
  sdpa_flash, sdpa_cudnn, sdpa_efficient, sdpa_math
      torch.nn.functional.scaled_dot_product_attention with one backend forced
      (torch.nn.attention.sdpa_kernel([SDPBackend.X])). One point carries the
      forward and the backward: forward_seconds_*, forward_tflops,
      peak_device_bytes (= forward_peak_device_bytes), O_* errors, dataset
      times_seconds (forward); backward_seconds_*, backward_tflops,
      backward_peak_device_bytes, dQ_/dK_/dV_* errors, dataset
      backward_times_seconds; fwd_bwd_seconds_*, fwd_bwd_tflops (3.5x the
      forward FLOPs), dataset fwd_bwd_times_seconds.
      The backward is timed ALONE: one forward builds the graph, then each
      repetition runs torch.autograd.backward(O, dO, retain_graph=True) with the
      gradients reset between repetitions (outside the timed region).
      fwd_bwd_* times a fresh forward + backward per repetition.
      A backend that refuses the dtype/shape -> status 'skipped' with torch's
      reasons; one that runs the forward but not the backward keeps status 'ok'
      with backward_status 'skipped' and backward_reason.
  flash_attn
      the official FlashAttention package (flash-attn, flash_attn_func) where it is importable,
      with the same metrics as the SDPA methods and flash_attn_version; where it is not (the
      package is not installed, or runs CUDA bf16/fp16 only) status 'skipped' with the reason.
  Every point records peer_label: what the peer is (SDPA's flash backend is "FlashAttention-2
  kernels inside PyTorch SDPA", not the official package).
  torch_standard       standard attention in plain torch ops (S = Q K^T scale, softmax, P V; L =
                       logsumexp(S)), gradients by autograd: the peer's baseline. Forward
                       timed under no_grad (forward_*, O_ and L_ errors); backward timed
                       alone as the SDPA methods' (backward_*, dQ_/dK_/dV_ errors).
  torch_lab_tiled      the lab's tiled attention WITHOUT online softmax (per query
                       tile the full score block, exact softmax, P V) - forward
  torch_lab_flash      the lab's flash forward with online softmax (running max m,
                       sum l, rescaled accumulator; also returns L) - forward
  torch_lab_tiled_bwd  the lab's tiled backward (P recomputed per query tile;
                       dV += P^T dO, dS = P o (dP - rowsum(dP o P)), ...) - backward
      Written as the course's pseudo-code, in plain PyTorch tensor ops, in the
      input dtype; tile_q / tile_k from numlab's points on the same problem
      (each distinct pair; a 0 there, numlab's "the kernel's own", and a
      problem without tiled points: --tile, default 128). Metrics as numlab's
      forward or backward methods (forward_* or backward_*, peak_device_bytes).

Errors against standard (<X>_max_abs_vs_standard, <X>_rel_fro_vs_standard, as numlab's):
every point of a problem whose vs_standard is always (numlab resolves auto to always when the
config's methods include standard or standard_bwd) is compared with torch_standard on the same
inputs in the same dtype: O and L for the forward methods, dQ, dK, dV for the backward ones.

Where it runs: --device auto (default) is CUDA where torch sees a GPU, else the CPU (Debian's
python3-torch 1.13: no SDPA, so the sdpa_* methods are skipped there with the reason).

Semantics shared with numlab: scale 1/sqrt(D); causal masks are bottom-right
aligned (query i sees keys j <= i + N_kv - N, FlashAttention >= 2.1). SDPA's
is_causal is top-left, so it is used only when N_kv == N; for N_kv > N the SDPA
methods get an explicit boolean mask (backends without mask support skip); for
N_kv < N (query rows without keys: numlab defines O = 0 there, SDPA gives NaN)
the SDPA methods are skipped. fp32 runs with TF32 off.

Inputs: standard normal Q, K, V, dO of the point's shape and dtype from
torch.Generator seeds seed, seed+1, seed+2, seed+3 (as numlab's seeding, not
numlab's numbers); a problem with inputs.path reads Q, K, V (, dO) from that
HDF5 file, as numlab does. Errors (O_max_abs_error, O_rel_fro_error, L_ for
torch_lab_flash, dQ_/dK_/dV_) are against an fp64 reference computed on the GPU
(S, P materialised per chunk of heads); it is skipped where B*H*N*N_kv >
--reference-max-elements (default 2^31), or where the point says reference:
false; the point then has attribute reference_skipped (why).

peak_device_bytes: on CUDA, torch.cuda.max_memory_allocated() during the call
minus memory_allocated() before it (inputs, reference, forward state excluded):
the outputs and workspace the call allocates, as numlab's Kokkos allocation count.
On the CPU, the process's resident high-water mark during the call minus its
resident size before it (/proc/self/clear_refs resets VmHWM, /proc/self/status
reads it; also peak_host_rss_bytes, numlab's name for the same measure): torch's
CPU allocator hands large tensors to malloc/mmap, which tracemalloc does not see,
and the high-water mark counts what the call touched, as numlab's
peak_host_rss_bytes does. Where /proc cannot be written, None.
Times: CUDA events around each call (CPU: perf_counter), warm-up runs first,
median of repetitions.

Usage:
  torch_attention.py CONFIG.yaml [-o OUT.h5] [--methods sdpa_flash,...]
                     [--warmup W] [--repetitions R] [--overwrite | --resume]
  torch_attention.py --shape 2,4,1024,64 [--shape B,H,N,D[,N_kv] ...]
                     [--dtype float32,bfloat16] [--causal 0,1] -o OUT.h5
  torch_attention.py --tokens 16384 --hidden 2048 --N 2048,4096,8192,16384
                     --D 64,128,256 --dtype float32,bfloat16,float16 -o OUT.h5
      (the issue's benchmark grid: B = tokens / N, H = hidden / D)
Exit codes: 0 done, 2 usage / no CUDA / no torch, 3 some point failed.
"""
import argparse
import contextlib
import gc
import math
import os
import re
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_h5  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
    _TORCH_IMPORT_ERROR = None
except ImportError as _e:  # reported by main(); the module still imports for --help and tests
    torch = None
    F = None
    _TORCH_IMPORT_ERROR = _e

SDPA_METHODS = {
    "sdpa_flash": "FLASH_ATTENTION",
    "sdpa_cudnn": "CUDNN_ATTENTION",
    "sdpa_efficient": "EFFICIENT_ATTENTION",
    "sdpa_math": "MATH",
}
LAB_FORWARD = ("torch_lab_tiled", "torch_lab_flash")
LAB_BACKWARD = ("torch_lab_tiled_bwd",)
LAB_METHODS = LAB_FORWARD + LAB_BACKWARD
STANDARD = "torch_standard"
FLASH_ATTN = "flash_attn"
METHODS = [STANDARD] + list(SDPA_METHODS) + [FLASH_ATTN] + list(LAB_METHODS)
# What each peer is, recorded with every point (peer_label): SDPA's flash backend is PyTorch's
# copy of the FlashAttention-2 kernels, not the official package (that is flash_attn).
PEER_LABELS = {
    STANDARD: "standard attention in plain PyTorch ops (matmul, softmax, matmul; autograd backward)",
    "sdpa_math": "PyTorch SDPA math backend (SDPBackend.MATH): materialised attention in PyTorch ops",
    "sdpa_flash": "FlashAttention-2 kernels inside PyTorch SDPA (SDPBackend.FLASH_ATTENTION), not the official "
                  "flash-attn package",
    "sdpa_cudnn": "cuDNN fused attention inside PyTorch SDPA (SDPBackend.CUDNN_ATTENTION)",
    "sdpa_efficient": "memory-efficient attention inside PyTorch SDPA (SDPBackend.EFFICIENT_ATTENTION)",
    FLASH_ATTN: "the official FlashAttention package (flash-attn, Dao-AILab): flash_attn_func",
    "torch_lab_tiled": "the lab's tiled attention without online softmax, in PyTorch ops",
    "torch_lab_flash": "the lab's flash forward with online softmax, in PyTorch ops",
    "torch_lab_tiled_bwd": "the lab's tiled backward, in PyTorch ops",
}


class Unsupported(Exception):
    """The point cannot run with this method (-> status skipped)."""


# ------------------------------------------------------------------ torch --
def torch_dtype(name):
    table = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16,
             "float16": torch.float16}
    if name not in table:
        raise Unsupported(f"dtype {name!r}: this peer runs {', '.join(table)}")
    return table[name]


def is_oom(e):
    oom = getattr(torch.cuda, "OutOfMemoryError", None) or getattr(torch, "OutOfMemoryError", None)
    return (oom is not None and isinstance(e, oom)) or "out of memory" in str(e).lower()


# Where the peers run: CUDA where present, else the CPU (--device).
DEVICE = None


def on_cuda():
    return DEVICE is None or DEVICE.type == "cuda"


def sync():
    if on_cuda():
        torch.cuda.synchronize()


def free_memory():
    gc.collect()
    if on_cuda():
        torch.cuda.empty_cache()


def set_tf32_off():
    """fp32 matmuls in full fp32 (cuBLAS and cuDNN); returns the settings as attributes."""
    attrs = {}
    try:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        attrs["allow_tf32_matmul"] = False
        attrs["allow_tf32_cudnn"] = False
    except (AttributeError, RuntimeError) as e:  # a torch with only the fp32_precision API
        try:
            torch.backends.cuda.matmul.fp32_precision = "ieee"
            torch.backends.cudnn.fp32_precision = "ieee"
            attrs["fp32_precision"] = "ieee"
        except (AttributeError, RuntimeError) as e2:
            raise SystemExit(f"torch_attention: cannot turn TF32 off: {e}; {e2}") from None
    try:
        torch.set_float32_matmul_precision("highest")
        attrs["float32_matmul_precision"] = "highest"
    except (AttributeError, RuntimeError):
        pass
    return attrs


def sdpa_context(method):
    """Context manager forcing the SDPA backend of `method`."""
    name = SDPA_METHODS[method]
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:
        raise Unsupported("this torch has no torch.nn.attention.sdpa_kernel (torch >= 2.3 needed)") from None
    backend = getattr(SDPBackend, name, None)
    if backend is None:
        raise Unsupported(f"this torch has no SDPBackend.{name}")
    return sdpa_kernel([backend])


def _proc_status_bytes(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def reset_host_peak():
    """Resets the process's resident high-water mark; returns the resident size now, or None."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _proc_status_bytes("VmRSS")
    except OSError:
        return None


def host_peak_above(rss0):
    return None if rss0 is None else max(0, _proc_status_bytes("VmHWM") - rss0)


def cuda_timer(run, release, warmup, reps):
    """Times run() with CUDA events (CPU: perf_counter), warmup untimed runs first.

    release() drops the previous run's outputs before each run (outside the
    timed region); returns (times in seconds, peak bytes above the baseline:
    device memory on CUDA, the resident high-water mark on the CPU)."""
    times, peak = [], 0
    if not on_cuda():
        for rep in range(warmup + reps):
            release()
            gc.collect()
            rss0 = reset_host_peak()
            t0 = time.perf_counter()
            run()
            t = time.perf_counter() - t0
            if rep >= warmup:
                times.append(t)
                p = host_peak_above(rss0)
                peak = None if p is None or peak is None else max(peak, p)
        return times, peak
    for rep in range(warmup + reps):
        release()
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        end.synchronize()
        if rep >= warmup:
            times.append(start.elapsed_time(end) * 1e-3)
            peak = max(peak, torch.cuda.max_memory_allocated() - base)
    return times, peak


def first_call(fn):
    """Runs fn() once; returns None, or why the backend refused (torch's warnings + error)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fn()
            sync()
            return None
        except RuntimeError as e:
            if is_oom(e):
                raise
            msgs = [str(w.message) for w in caught] + [str(e)]
    text = " | ".join(re.sub(r"\s+", " ", m).strip() for m in msgs if m.strip())
    return text[:2000]


# ----------------------------------------------------------------- inputs --
class Inputs:
    """Q, K, V, dO on the GPU, the shape, and the causal handling for SDPA."""

    def __init__(self, problem, device, resolve, derived=None):
        """problem: complete (numlab's defaults filled in); derived: numlab's derived values
        (N_kv_effective where the problem gives no N_kv)."""
        dtype = torch_dtype(problem["dtype"])
        self.dtype = dtype
        seed = int(problem["seed"])
        if problem.get("path"):
            self._from_file(resolve(problem["path"]), problem, device, dtype)
        else:
            self.B, self.H = int(problem["B"]), int(problem["H"])
            self.N, self.D = int(problem["N"]), int(problem["D"])
            self.N_kv = int(problem["N_kv"] if problem.get("N_kv") is not None else derived["N_kv_effective"])
            gen = torch.Generator(device=device)
            base = torch.float64 if dtype == torch.float64 else torch.float32

            def normal(rows, s):
                gen.manual_seed(s)
                x = torch.randn(self.B, self.H, rows, self.D, generator=gen, device=device, dtype=base)
                return x.to(dtype)

            self.q = normal(self.N, seed)
            self.k = normal(self.N_kv, seed + 1)
            self.v = normal(self.N_kv, seed + 2)
            self.do = normal(self.N, seed + 3)
        self.causal = bool(problem["causal"])
        self.mask = None
        self.sdpa_causal = False
        self.sdpa_unsupported = None
        if self.causal:
            if self.N_kv == self.N:
                self.sdpa_causal = True  # top-left == bottom-right
            elif self.N_kv > self.N:
                self.mask = causal_mask(self.N, self.N_kv, device, 0, self.N)
            else:
                self.sdpa_unsupported = (
                    f"causal with N_kv = {self.N_kv} < N = {self.N}: the first {self.N - self.N_kv} query rows "
                    "see no key (bottom-right mask); numlab defines O = 0 there, SDPA gives NaN")

    def _from_file(self, path, problem, device, dtype):
        import h5py
        with h5py.File(path, "r") as f:
            arrays = {k: np.asarray(f[k]) for k in ("Q", "K", "V", "dO") if k in f}
        for k in ("Q", "K", "V"):
            if k not in arrays or arrays[k].ndim != 4:
                raise ValueError(f"inputs '{path}': dataset {k} missing or not [B,H,N,D]")
        self.B, self.H, self.N, self.D = arrays["Q"].shape
        self.N_kv = arrays["K"].shape[2]
        for key, val in (("N", self.N), ("N_kv", self.N_kv), ("D", self.D)):
            if problem.get(key) is not None and int(problem[key]) != val:
                raise ValueError(f"inputs '{path}': shape.{key} = {problem[key]} in the config but {val} in the file")
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64)).to(device=device, dtype=dtype)  # noqa
        self.q, self.k, self.v = t(arrays["Q"]), t(arrays["K"]), t(arrays["V"])
        if "dO" in arrays:
            self.do = t(arrays["dO"])
        else:
            gen = torch.Generator(device=device)
            gen.manual_seed(int(problem["seed"]) + 3)
            self.do = torch.randn(self.q.shape, generator=gen, device=device, dtype=torch.float32).to(dtype)

    def shape_attrs(self):
        return {"B": self.B, "H": self.H, "N": self.N, "N_kv": self.N_kv, "D": self.D}

    def flops(self):
        return peer_h5.attention_forward_flops(self.B, self.H, self.N, self.N_kv, self.D, self.causal)


def causal_mask(N, N_kv, device, q0, q1):
    """Bottom-right causal mask rows q0..q1-1: True where query i may see key j (j <= i + N_kv - N)."""
    i = torch.arange(q0, q1, device=device).unsqueeze(1)
    j = torch.arange(N_kv, device=device).unsqueeze(0)
    return j <= i + (N_kv - N)


# -------------------------------------------------------------- reference --
class Reference:
    """fp64 O, L (and dQ, dK, dV) on the GPU, a chunk of heads at a time."""

    def __init__(self, inp, want_grads, chunk_elements=2**27):
        q, k, v, do = inp.q, inp.k, inp.v, inp.do
        B, H, N, D, Nk = inp.B, inp.H, inp.N, inp.D, inp.N_kv
        BH = B * H
        dev = q.device
        f64 = torch.float64
        scale = 1.0 / math.sqrt(D)
        qf, kf, vf, dof = (x.reshape(BH, x.shape[2], D) for x in (q, k, v, do))
        self.O = torch.empty(BH, N, D, dtype=f64, device=dev)
        self.L = torch.empty(BH, N, dtype=f64, device=dev)
        self.dQ = self.dK = self.dV = None
        if want_grads:
            self.dQ = torch.empty(BH, N, D, dtype=f64, device=dev)
            self.dK = torch.empty(BH, Nk, D, dtype=f64, device=dev)
            self.dV = torch.empty(BH, Nk, D, dtype=f64, device=dev)
        allowed = causal_mask(N, Nk, dev, 0, N) if inp.causal else None
        step = max(1, chunk_elements // max(1, N * Nk))
        for s in range(0, BH, step):
            e = min(BH, s + step)
            Q, K, V = qf[s:e].to(f64), kf[s:e].to(f64), vf[s:e].to(f64)
            S = torch.matmul(Q, K.transpose(-1, -2)).mul_(scale)  # (h, N, N_kv)
            if allowed is not None:
                S.masked_fill_(~allowed, -math.inf)
            m = S.amax(dim=-1, keepdim=True)
            m = torch.where(torch.isinf(m), torch.zeros_like(m), m)  # rows without keys
            P = torch.exp(S - m)
            del S
            l_ = P.sum(dim=-1, keepdim=True)
            self.L[s:e] = (m + torch.log(l_)).squeeze(-1)  # -inf for rows without keys
            P.div_(torch.where(l_ == 0, torch.ones_like(l_), l_))
            O = torch.matmul(P, V)
            self.O[s:e] = O
            if want_grads:
                dO = dof[s:e].to(f64)
                self.dV[s:e] = torch.matmul(P.transpose(-1, -2), dO)
                dP = torch.matmul(dO, V.transpose(-1, -2))
                Di = (dO * O).sum(dim=-1, keepdim=True)
                dS = P * (dP - Di)
                del dP, P
                self.dQ[s:e] = torch.matmul(dS, K) * scale
                self.dK[s:e] = torch.matmul(dS.transpose(-1, -2), Q) * scale
                del dS
        shape_q, shape_kv = (B, H, N, D), (B, H, Nk, D)
        self.O = self.O.reshape(shape_q)
        self.L = self.L.reshape(B, H, N)
        if want_grads:
            self.dQ, self.dK, self.dV = self.dQ.reshape(shape_q), self.dK.reshape(shape_kv), self.dV.reshape(shape_kv)


def error_norms(x, ref):
    """numlab's ErrorNorms: max |x - ref| and ||x - ref||_F / ||ref||_F; entries equal in
    both (infinities included) count as exact; a non-finite mismatch gives +inf."""
    xd = x.detach().to(torch.float64).reshape(ref.shape)
    d = torch.where(xd == ref, torch.zeros_like(xd), xd - ref)
    if not bool(torch.isfinite(d).all()):
        return math.inf, math.inf
    rn = float(torch.linalg.vector_norm(torch.where(torch.isfinite(ref), ref, torch.zeros_like(ref))))
    return float(d.abs().max()) if d.numel() else 0.0, float(torch.linalg.vector_norm(d)) / (rn if rn > 0 else 1.0)


def add_errors(r, name, x, ref):
    if ref is None:
        return
    mx, fro = error_norms(x, ref)
    r.metrics[f"{name}_max_abs_error"] = mx
    r.metrics[f"{name}_rel_fro_error"] = fro


# ------------------------------------------------------- lab algorithms ----
# The course's PyTorch algorithms (seeds/course-readme.md pseudo-code), batched
# over B and H, in the inputs' dtype; causal masks bottom-right as numlab's.

def standard_attention(Q, K, V, causal=False):
    """Standard attention as written by hand: S and P materialised; returns O and L = logsumexp(S)."""
    N, N_kv, D = Q.shape[2], K.shape[2], Q.shape[3]
    S = torch.matmul(Q, K.transpose(-1, -2)) * (1.0 / math.sqrt(D))
    if causal:
        S = S.masked_fill(~causal_mask(N, N_kv, Q.device, 0, N), -math.inf)
    L = torch.logsumexp(S, dim=-1)
    P = torch.softmax(S, dim=-1)
    if causal and N_kv < N:
        P = torch.nan_to_num(P, nan=0.0)  # rows without keys: O = 0 as numlab
    return torch.matmul(P, V), L


def lab_tiled_forward(Q, K, V, tile_q, tile_k, causal=False):
    """Tiled attention WITHOUT online softmax: per query tile the full score row block."""
    B, H, N, D = Q.shape
    N_kv = K.shape[2]
    s = 1.0 / math.sqrt(D)
    O = torch.zeros_like(Q)
    for q0 in range(0, N, tile_q):
        q1 = min(q0 + tile_q, N)
        Qi = Q[:, :, q0:q1]
        S_full = torch.zeros(B, H, q1 - q0, N_kv, dtype=Q.dtype, device=Q.device)
        for k0 in range(0, N_kv, tile_k):
            k1 = min(k0 + tile_k, N_kv)
            S_full[:, :, :, k0:k1] = torch.matmul(Qi, K[:, :, k0:k1].transpose(-1, -2)) * s
        if causal:
            S_full.masked_fill_(~causal_mask(N, N_kv, Q.device, q0, q1), -math.inf)
        P = torch.softmax(S_full, dim=-1)
        if causal and N_kv < N:
            P = torch.nan_to_num(P, nan=0.0)  # rows without keys: O = 0 as numlab
        O[:, :, q0:q1] = torch.matmul(P, V)
    return O


def lab_flash_forward(Q, K, V, tile_q, tile_k, causal=False):
    """Flash forward with online softmax (outer loop over query tiles, inner over key tiles).

    Returns O and the log-sum-exp L (-inf for rows without keys)."""
    B, H, N, D = Q.shape
    N_kv = K.shape[2]
    s = 1.0 / math.sqrt(D)
    O = torch.empty_like(Q)
    L = torch.empty(B, H, N, dtype=Q.dtype, device=Q.device)
    for q0 in range(0, N, tile_q):
        q1 = min(q0 + tile_q, N)
        Qi = Q[:, :, q0:q1]
        m_i = torch.full((B, H, q1 - q0), -math.inf, dtype=Q.dtype, device=Q.device)
        l_i = torch.zeros(B, H, q1 - q0, dtype=Q.dtype, device=Q.device)
        acc = torch.zeros(B, H, q1 - q0, D, dtype=Q.dtype, device=Q.device)
        last_key = (q1 - 1 + N_kv - N) if causal else N_kv - 1  # keys past it are masked for the whole tile
        for k0 in range(0, min(N_kv, last_key + 1), tile_k):
            k1 = min(k0 + tile_k, N_kv)
            S_ij = torch.matmul(Qi, K[:, :, k0:k1].transpose(-1, -2)) * s
            if causal and k1 - 1 > q0 + N_kv - N:  # the tile crosses the diagonal
                S_ij.masked_fill_(~causal_mask(N, N_kv, Q.device, q0, q1)[:, k0:k1], -math.inf)
            m_new = torch.maximum(m_i, S_ij.amax(dim=-1))
            m_safe = torch.where(torch.isinf(m_new), torch.zeros_like(m_new), m_new)  # clamp a -inf max
            P_ij = torch.exp(S_ij - m_safe.unsqueeze(-1))
            alpha = torch.exp(m_i - m_safe)  # rescales what was accumulated so far
            l_i = alpha * l_i + P_ij.sum(dim=-1)
            acc = acc * alpha.unsqueeze(-1) + torch.matmul(P_ij, V[:, :, k0:k1])
            m_i = m_new
        has_keys = l_i > 0
        O[:, :, q0:q1] = torch.where(has_keys.unsqueeze(-1), acc / torch.where(has_keys, l_i, torch.ones_like(l_i))
                                     .unsqueeze(-1), torch.zeros_like(acc))
        L[:, :, q0:q1] = torch.where(has_keys, m_i + torch.log(torch.where(has_keys, l_i, torch.ones_like(l_i))),
                                     torch.full_like(l_i, -math.inf))
    return O, L


def lab_tiled_backward(dO, Q, K, V, tile_q, tile_k, causal=False):
    """The tiled backward: P recomputed per query tile against all keys."""
    B, H, N, D = Q.shape
    N_kv = K.shape[2]
    s = 1.0 / math.sqrt(D)
    dQ = torch.zeros_like(Q)
    dK = torch.zeros_like(K)
    dV = torch.zeros_like(V)
    for q0 in range(0, N, tile_q):
        q1 = min(q0 + tile_q, N)
        Qi, dOi = Q[:, :, q0:q1], dO[:, :, q0:q1]
        S_full = torch.zeros(B, H, q1 - q0, N_kv, dtype=Q.dtype, device=Q.device)
        for k0 in range(0, N_kv, tile_k):
            k1 = min(k0 + tile_k, N_kv)
            S_full[:, :, :, k0:k1] = torch.matmul(Qi, K[:, :, k0:k1].transpose(-1, -2)) * s
        if causal:
            S_full.masked_fill_(~causal_mask(N, N_kv, Q.device, q0, q1), -math.inf)
        P = torch.softmax(S_full, dim=-1)
        if causal and N_kv < N:
            P = torch.nan_to_num(P, nan=0.0)
        dV += torch.matmul(P.transpose(-1, -2), dOi)
        dP = torch.matmul(dOi, V.transpose(-1, -2))
        dS = P * (dP - (dP * P).sum(dim=-1, keepdim=True))
        dQ[:, :, q0:q1] = torch.matmul(dS, K) * s
        dK += torch.matmul(dS.transpose(-1, -2), Qi) * s
    return dQ, dK, dV


# ----------------------------------------------------------------- points --
def run_sdpa(method, inp, ref, warmup, reps, backward):
    if inp.sdpa_unsupported:
        return peer_h5.PointResult.skipped(inp.sdpa_unsupported)
    try:
        ctx = sdpa_context(method)
    except Unsupported as e:
        return peer_h5.PointResult.skipped(str(e))
    mask, is_causal = inp.mask, inp.sdpa_causal

    def attn(a, b, c):
        if mask is not None:
            return F.scaled_dot_product_attention(a, b, c, attn_mask=mask)
        return F.scaled_dot_product_attention(a, b, c, is_causal=is_causal)

    metrics = {"sdpa_backend": SDPA_METHODS[method],
               "causal_via": "none" if not inp.causal else "is_causal" if is_causal else "attn_mask"}
    return run_fused(f"SDPBackend.{SDPA_METHODS[method]}", attn, ctx, metrics, inp, ref, warmup, reps, backward)


def flash_attn_package():
    """(module, flash_attn_func, None), or (None, None, why it is not importable)."""
    try:
        import flash_attn
        from flash_attn import flash_attn_func
        return flash_attn, flash_attn_func, None
    except Exception as e:  # noqa: BLE001 - ImportError, or a build that fails to load its extension
        return None, None, f"{type(e).__name__}: {str(e)[:500]}"


def run_flash_attn(inp, ref, warmup, reps, backward):
    """The official flash-attn package (flash_attn_func, [B,N,H,D] layout: the [B,H,N,D] tensors are
    passed as transposed views, no copies; causal bottom-right as numlab's since flash-attn 2.1)."""
    mod, func, why = flash_attn_package()
    if mod is None:
        return peer_h5.PointResult.skipped(f"the official flash-attn package is not importable here ({why})",
                                           flash_attn_version="not installed")
    if not on_cuda():
        return peer_h5.PointResult.skipped("flash-attn runs on CUDA only", flash_attn_version=mod.__version__)
    if inp.dtype not in (torch.bfloat16, torch.float16):
        return peer_h5.PointResult.skipped(f"flash-attn runs bfloat16 / float16, not {inp.dtype}",
                                           flash_attn_version=mod.__version__)
    causal = inp.causal

    def attn(a, b, c):
        return func(a.transpose(1, 2), b.transpose(1, 2), c.transpose(1, 2), causal=causal).transpose(1, 2)

    return run_fused("flash_attn.flash_attn_func", attn, contextlib.nullcontext(),
                     {"flash_attn_version": mod.__version__}, inp, ref, warmup, reps, backward)


def run_fused(who, attn, ctx, metrics, inp, ref, warmup, reps, backward):
    """One fused-attention callable attn(q, k, v) -> O ([B,H,N,D]) under ctx: the forward timed under
    no_grad, then the backward alone through autograd, then forward + backward (see the module doc)."""
    q, k, v, do = inp.q, inp.k, inp.v, inp.do
    flops = inp.flops()
    r = peer_h5.PointResult("ok", metrics=metrics)
    holder = {}
    with ctx:
        with torch.no_grad():
            why = first_call(lambda: attn(q, k, v))
            if why:
                return peer_h5.PointResult.skipped(f"{who} refuses this point: {why}", **metrics)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                times, peak = cuda_timer(lambda: holder.__setitem__("O", attn(q, k, v)),
                                         lambda: holder.pop("O", None), warmup, reps)
        O = holder.pop("O")
        r.metrics.update(peer_h5.time_metrics("forward", times, flops))
        r.metrics["flops"] = flops
        r.metrics["peak_device_bytes"] = peak
        r.metrics["forward_peak_device_bytes"] = peak
        r.arrays["times_seconds"] = times
        add_errors(r, "O", O, ref.O if ref else None)
        r.outputs = {"O": O}
        del O
        if not backward:
            return r

        qg, kg, vg = (x.detach().clone().requires_grad_(True) for x in (q, k, v))

        def reset():
            qg.grad = kg.grad = vg.grad = None

        why = first_call(lambda: torch.autograd.backward(attn(qg, kg, vg), do))
        if why:
            r.metrics["backward_status"] = "skipped"
            r.metrics["backward_reason"] = f"backward of {who} refuses this point: {why}"
            return r
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reset()
            out = attn(qg, kg, vg)
            times_b, peak_b = cuda_timer(lambda: torch.autograd.backward(out, do, retain_graph=True), reset,
                                         warmup, reps)
            grads = (qg.grad, kg.grad, vg.grad)
            r.metrics.update(peer_h5.time_metrics("backward", times_b, 2.5 * flops))
            r.metrics["backward_peak_device_bytes"] = peak_b
            r.arrays["backward_times_seconds"] = times_b
            if ref is not None and ref.dQ is not None:
                for name, g, rg in zip(("dQ", "dK", "dV"), grads, (ref.dQ, ref.dK, ref.dV)):
                    add_errors(r, name, g, rg)
            r.outputs.update({"dQ": grads[0].clone(), "dK": grads[1].clone(), "dV": grads[2].clone()})
            del out, grads
            reset()
            times_fb, _ = cuda_timer(lambda: torch.autograd.backward(attn(qg, kg, vg), do), reset, warmup, reps)
        r.metrics.update(peer_h5.time_metrics("fwd_bwd", times_fb, 3.5 * flops))
        r.arrays["fwd_bwd_times_seconds"] = times_fb
        r.metrics["backward_timing"] = "backward alone: retained graph, gradients reset between repetitions"
    return r


def run_standard(inp, ref, warmup, reps, backward):
    """torch_standard: forward under no_grad, then the backward alone through autograd."""
    q, k, v, do, causal = inp.q, inp.k, inp.v, inp.do, inp.causal
    flops = inp.flops()
    holder = {}
    r = peer_h5.PointResult("ok")
    with torch.no_grad():
        times, peak = cuda_timer(lambda: holder.__setitem__("out", standard_attention(q, k, v, causal)),
                                 lambda: holder.pop("out", None), warmup, reps)
    O, L = holder.pop("out")
    r.metrics.update(peer_h5.time_metrics("forward", times, flops))
    r.metrics["flops"] = flops
    add_peak(r, "forward", peak)
    r.arrays["times_seconds"] = times
    add_errors(r, "O", O, ref.O if ref else None)
    add_errors(r, "L", L, ref.L if ref else None)
    r.outputs = {"O": O, "L": L}
    if not backward:
        return r
    qg, kg, vg = (x.detach().clone().requires_grad_(True) for x in (q, k, v))

    def reset():
        qg.grad = kg.grad = vg.grad = None

    out, _ = standard_attention(qg, kg, vg, causal)
    times_b, peak_b = cuda_timer(lambda: torch.autograd.backward(out, do, retain_graph=True), reset, warmup, reps)
    r.metrics.update(peer_h5.time_metrics("backward", times_b, 2.5 * flops))
    r.metrics["backward_peak_device_bytes"] = peak_b
    if not on_cuda():
        r.metrics["backward_peak_host_rss_bytes"] = peak_b
    r.arrays["backward_times_seconds"] = times_b
    if ref is not None and ref.dQ is not None:
        for name, g, rg in zip(("dQ", "dK", "dV"), (qg.grad, kg.grad, vg.grad), (ref.dQ, ref.dK, ref.dV)):
            add_errors(r, name, g, rg)
    r.metrics["backward_timing"] = "backward alone: retained graph, gradients reset between repetitions"
    r.outputs.update({"dQ": qg.grad, "dK": kg.grad, "dV": vg.grad})
    return r


def add_peak(r, prefix, peak):
    """peak_device_bytes (and on the CPU peak_host_rss_bytes: the same measure, numlab's name)."""
    r.metrics["peak_device_bytes"] = peak
    r.metrics[f"{prefix}_peak_device_bytes"] = peak
    if not on_cuda():
        r.metrics["peak_host_rss_bytes"] = peak
        r.metrics["memory_measure"] = "process resident high-water mark above the resident size before the call"


class StandardBaseline:
    """torch_standard's O, L and gradients on a problem's inputs, in its dtype (the vs-standard metrics)."""

    def __init__(self, inp, with_grads):
        q, k, v, do = inp.q, inp.k, inp.v, inp.do
        with torch.no_grad():
            self.O, self.L = standard_attention(q, k, v, inp.causal)
        self.grads = None
        if with_grads:
            qg, kg, vg = (x.detach().clone().requires_grad_(True) for x in (q, k, v))
            out, _ = standard_attention(qg, kg, vg, inp.causal)
            torch.autograd.backward(out, do)
            self.grads = {"dQ": qg.grad, "dK": kg.grad, "dV": vg.grad}


def add_vs_standard(r, name, x, base):
    mx, fro = error_norms(x, base.detach().to(torch.float64))
    r.metrics[f"{name}_max_abs_vs_standard"] = mx
    r.metrics[f"{name}_rel_fro_vs_standard"] = fro


def run_lab(method, inp, ref, tile_q, tile_k, warmup, reps):
    q, k, v, do, causal = inp.q, inp.k, inp.v, inp.do, inp.causal
    flops = inp.flops()
    holder = {}
    r = peer_h5.PointResult("ok")
    with torch.no_grad():
        if method == "torch_lab_tiled":
            run = lambda: holder.__setitem__("out", lab_tiled_forward(q, k, v, tile_q, tile_k, causal))  # noqa
            prefix, f = "forward", flops
        elif method == "torch_lab_flash":
            run = lambda: holder.__setitem__("out", lab_flash_forward(q, k, v, tile_q, tile_k, causal))  # noqa
            prefix, f = "forward", flops
        else:
            run = lambda: holder.__setitem__("out", lab_tiled_backward(do, q, k, v, tile_q, tile_k, causal))  # noqa
            prefix, f = "backward", 2.5 * flops
        times, peak = cuda_timer(run, lambda: holder.pop("out", None), warmup, reps)
    out = holder.pop("out")
    r.metrics.update(peer_h5.time_metrics(prefix, times, f))
    r.metrics["flops"] = f
    add_peak(r, prefix, peak)
    r.arrays["times_seconds"] = times
    if ref is not None:
        if method == "torch_lab_tiled":
            add_errors(r, "O", out, ref.O)
        elif method == "torch_lab_flash":
            add_errors(r, "O", out[0], ref.O)
            add_errors(r, "L", out[1], ref.L)
        elif ref.dQ is not None:
            for name, g, rg in zip(("dQ", "dK", "dV"), out, (ref.dQ, ref.dK, ref.dV)):
                add_errors(r, name, g, rg)
    r.outputs = {"O": out[0], "L": out[1]} if method == "torch_lab_flash" else \
        {"O": out} if method == "torch_lab_tiled" else dict(zip(("dQ", "dK", "dV"), out))
    return r


class ProblemCache:
    """Inputs and reference of the current problem, shared by its methods."""

    def __init__(self, args, resolve):
        self.args = args
        self.resolve = resolve
        self.key = None
        self.inp = None
        self.ref = None
        self.ref_reason = None
        self.error = None
        self.baseline = None

    def get(self, params, want_grads, derived=None):
        problem = {k: v for k, v in params.items() if k not in ("tile_q", "tile_k")}
        key = peer_h5.canonical_key(problem)
        if key != self.key:
            self.key, self.inp, self.ref, self.ref_reason, self.error = key, None, None, None, None
            self.baseline = None
            free_memory()
            try:
                self.inp = Inputs(problem, DEVICE, self.resolve, derived)
            except Unsupported as e:
                self.error = ("skipped", str(e))
            except RuntimeError as e:
                if not is_oom(e):
                    raise
                self.error = ("failed", f"out of memory making the inputs: {e}")
            except (ValueError, OSError, KeyError) as e:
                self.error = ("failed", f"cannot make the inputs: {e}")
            if self.inp is not None:
                self._reference(problem, want_grads)
        return self.inp, self.ref

    def _reference(self, problem, need_grads):
        inp = self.inp
        elems = inp.B * inp.H * inp.N * inp.N_kv
        if not problem["reference"]:
            self.ref_reason = "reference: false in the config"
        elif elems > self.args.reference_max_elements:
            self.ref_reason = (f"B*H*N*N_kv = {elems} > --reference-max-elements = "
                               f"{self.args.reference_max_elements}")
        else:
            try:
                self.ref = Reference(inp, need_grads)
            except RuntimeError as e:
                if not is_oom(e):
                    raise
                self.ref = None
                self.ref_reason = f"out of memory in the fp64 reference: {e}"
                free_memory()


def run_point(pt, cache, warmup, reps, backward, want_grads, vs_standard=False):
    inp, ref = cache.get(pt["params"], want_grads, pt.get("derived"))
    if cache.error:
        return peer_h5.PointResult(cache.error[0], cache.error[1])
    try:
        if pt["method"] == STANDARD:
            r = run_standard(inp, ref, warmup, reps, backward)
        elif pt["method"] in SDPA_METHODS:
            r = run_sdpa(pt["method"], inp, ref, warmup, reps, backward)
        elif pt["method"] == FLASH_ATTN:
            r = run_flash_attn(inp, ref, warmup, reps, backward)
        else:
            r = run_lab(pt["method"], inp, ref, int(pt["params"]["tile_q"]), int(pt["params"]["tile_k"]),
                        warmup, reps)
    except Exception as e:  # noqa: BLE001 - recorded as the point's reason; the sweep goes on
        if not is_oom(e):
            return peer_h5.PointResult.failed(f"{type(e).__name__}: {str(e)[:2000]}")
        free_memory()
        return peer_h5.PointResult.failed(f"out of memory: {str(e)[:2000]}")
    finally:
        sync()
    r.metrics["peer_label"] = PEER_LABELS[pt["method"]]
    outputs = getattr(r, "outputs", None)
    if vs_standard and r.status == "ok" and outputs:
        try:
            grads = any(n in outputs for n in ("dQ", "dK", "dV"))
            if cache.baseline is None or (grads and cache.baseline.grads is None):
                cache.baseline = StandardBaseline(inp, grads)
            base = dict(O=cache.baseline.O, L=cache.baseline.L, **(cache.baseline.grads or {}))
            for name, x in outputs.items():
                if x is not None and name in base:
                    add_vs_standard(r, name, x, base[name])
        except RuntimeError as e:
            if not is_oom(e):
                raise
            free_memory()
            r.metrics["vs_standard_skipped"] = f"out of memory in the torch_standard baseline: {str(e)[:500]}"
    if ref is None and r.status == "ok":
        r.metrics["reference_skipped"] = cache.ref_reason or "no reference"
    return r


# -------------------------------------------------------------------- CLI --
def direct_problems(args):
    """The direct mode's problems; a parameter not given (--dtype, --causal, --seed) is left out and
    takes numlab's default (peer_h5.expand_problems)."""
    dtypes = [d.strip() for d in (args.dtype or "").split(",") if d.strip()] or [None]
    causals = [c.strip().lower() in ("1", "true", "yes") for c in (args.causal or "").split(",")
               if c.strip()] or [None]
    shapes = []
    for s in args.shape or []:
        vals = peer_h5.parse_int_list(s, "--shape")
        if len(vals) not in (4, 5):
            raise SystemExit(f"--shape {s}: expected B,H,N,D or B,H,N,D,N_kv")
        B, H, N, D = vals[:4]
        shapes.append((B, H, N, vals[4] if len(vals) == 5 else N, D))
    if args.N or args.D:
        if not (args.N and args.D):
            raise SystemExit("--N and --D go together (with --tokens and --hidden)")
        for D in peer_h5.parse_int_list(args.D, "--D"):
            for N in peer_h5.parse_int_list(args.N, "--N"):
                if args.tokens % N or args.hidden % D:
                    raise SystemExit(f"--tokens {args.tokens} / N = {N} and --hidden {args.hidden} / D = {D} "
                                     "must be whole numbers")
                shapes.append((args.tokens // N, args.hidden // D, N, N, D))
    if not shapes:
        raise SystemExit("give a CONFIG, or --shape B,H,N,D, or --N/--D (with --tokens/--hidden)")
    problems = []
    for dtype in dtypes:
        for causal in causals:
            for B, H, N, N_kv, D in shapes:
                p = {"B": B, "H": H, "N": N, "N_kv": N_kv, "D": D, "dtype": dtype, "causal": causal,
                     "seed": args.seed}
                problems.append({k: v for k, v in p.items() if v is not None})
    return problems


def tile_variants(cfg, default_tile):
    """variants_of for peer_points: the torch_lab_* methods once per distinct (tile_q, tile_k) of
    numlab's points on the problem (a 0 there, numlab's "the kernel's own", and a problem without
    tiled points: default_tile)."""
    def variants(problem, method):
        if method not in LAB_METHODS:
            return None
        pairs = []
        for p in (cfg.points_of(problem) if cfg is not None else []):
            o = p["options"]
            if "tile_q" in o and "tile_k" in o:
                t = (int(o["tile_q"]) or default_tile, int(o["tile_k"]) or default_tile)
                if t not in pairs:
                    pairs.append(t)
        return [{"tile_q": tq, "tile_k": tk} for tq, tk in (pairs or [(default_tile, default_tile)])]
    return variants


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    peer_h5.add_common_args(ap, METHODS)
    ap.add_argument("--shape", action="append", help="direct mode: B,H,N,D or B,H,N,D,N_kv (repeatable)")
    ap.add_argument("--tokens", type=int, default=16384, help="direct grid: B*N (default 16384)")
    ap.add_argument("--hidden", type=int, default=2048, help="direct grid: H*D (default 2048)")
    ap.add_argument("--N", default="", help="direct grid: sequence lengths, e.g. 2048,4096,8192,16384")
    ap.add_argument("--D", default="", help="direct grid: head dims, e.g. 64,128,256")
    ap.add_argument("--dtype", default=None, help="direct mode: comma list of float32,bfloat16,float16,float64 "
                    "(default: numlab's)")
    ap.add_argument("--causal", nargs="?", const="1", default=None,
                    help="direct mode: 0, 1 or 0,1 (flag alone: 1; default: numlab's)")
    ap.add_argument("--seed", type=int, default=None, help="direct mode: seed of Q (K, V, dO: seed+1..3; "
                    "default: numlab's)")
    ap.add_argument("--name", default=None, help="direct mode: the file's name attribute (default torch_attention)")
    ap.add_argument("--tile", type=int, default=128, help="tile_q = tile_k of the torch_lab_* methods where the "
                    "config's points give none (default 128)")
    ap.add_argument("--no-backward", action="store_true", help="SDPA methods: forward only")
    ap.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"],
                    help="where torch runs: auto (default) = CUDA where torch sees a GPU, else the CPU")
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU: torch.set_num_threads (default: torch's own)")
    ap.add_argument("--reference-max-elements", type=float, default=2**31,
                    help="skip the fp64 reference where B*H*N*N_kv exceeds this (default 2^31)")
    args = ap.parse_args(argv)
    methods = peer_h5.parse_methods(args.methods, METHODS)

    try:
        if args.config:
            cfg = peer_h5.load_config_of_kind(args, "attention")
            problems, name, resolve, derived_of = cfg.problems, cfg.name, cfg.resolve_path, cfg.derived_of
        else:
            cfg = None
            expanded = peer_h5.expand_problems("attention", direct_problems(args), args.numlab)
            problems = [p for p, _ in expanded]
            derived = {peer_h5.canonical_key(p): d for p, d in expanded}
            derived_of = lambda p: derived[peer_h5.canonical_key(p)]  # noqa: E731
            name, resolve = args.name or "torch_attention", (lambda p: p)
        warmup, reps = peer_h5.timing_counts(args, cfg)
    except peer_h5.ConfigError as e:
        print(f"torch_attention: error: {e}", file=sys.stderr)
        return 2
    points = peer_h5.peer_points(problems, methods, tile_variants(cfg, args.tile), derived_of)

    if args.dry_run:
        peer_h5.print_points(points)
        return 0
    if torch is None:
        print(f"torch_attention: PyTorch is not importable ({_TORCH_IMPORT_ERROR})", file=sys.stderr)
        return 2
    global DEVICE
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    DEVICE = torch.device(device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if on_cuda() and not torch.cuda.is_available():
        print("torch_attention: no CUDA device visible to PyTorch", file=sys.stderr)
        return 2

    tf32 = set_tf32_off()
    root = peer_h5.base_root_attrs("torch", "attention", name, cfg, warmup, reps, len(points))
    if on_cuda():
        root["device"] = torch.cuda.get_device_name()
        cap = torch.cuda.get_device_capability()
        root["device_capability"] = f"{cap[0]}.{cap[1]}"
        root["device_memory_bytes"] = int(torch.cuda.get_device_properties(0).total_memory)
    else:
        root["torch_device"] = "cpu"
        root["device"] = f"cpu: {peer_h5.cpu_model()}"
        root["torch_num_threads"] = int(torch.get_num_threads())
        root["memory_measure"] = ("peak_device_bytes = peak_host_rss_bytes: the process's resident high-water "
                                  "mark during the call minus its resident size before it (/proc/self/clear_refs)")
    root["torch_version"] = torch.__version__
    root["cuda_version"] = str(torch.version.cuda)
    try:
        root["cudnn_version"] = str(torch.backends.cudnn.version())
    except Exception:  # noqa: BLE001 - provenance only
        pass
    fa_mod, _, fa_why = flash_attn_package()
    root["flash_attn_version"] = fa_mod.__version__ if fa_mod is not None else f"not importable ({fa_why})"
    root.update(tf32)
    root["timing"] = (("CUDA events" if on_cuda() else "time.perf_counter") +
                      "; warmup untimed runs, then repetitions; metrics from every repetition")
    root["backward_timing"] = "SDPA backward alone via retained graph; fwd_bwd_* = forward + backward"
    root["reference"] = f"fp64 on the {'GPU' if on_cuda() else 'CPU'} (S and P materialised per chunk of heads)"
    root["vs_standard"] = "<X>_*_vs_standard: against torch_standard on the same inputs in the same dtype"
    root["reference_max_elements"] = float(args.reference_max_elements)
    out = args.output or peer_h5.default_output(name, "torch")
    try:
        pfile = peer_h5.PeerFile(out, root, peer_h5.output_mode(args))
    except FileExistsError as e:
        print(f"torch_attention: error: {e}", file=sys.stderr)
        return 2

    cache = ProblemCache(args, resolve)
    backward = not args.no_backward
    # Reference gradients only when some method checks gradients.
    want_grads = "torch_lab_tiled_bwd" in methods or (
        backward and any(m in SDPA_METHODS or m in (STANDARD, FLASH_ATTN) for m in methods))

    def vs_standard(params):
        """numlab's resolved vs_standard; in direct mode, whenever torch_standard is among the methods."""
        v = params.get("vs_standard")
        return v == "always" or (cfg is None and v != "never" and STANDARD in methods)

    def one(pt):
        r = run_point(pt, cache, warmup, reps, backward, want_grads, vs_standard(pt["params"]))
        if cache.inp is not None:  # the effective shape (N_kv defaults to N; inputs.path gives all)
            pt["params"].update(cache.inp.shape_attrs())
        return r

    rc = peer_h5.run_points(pfile, points, one, args)
    if not args.quiet:
        print(f"wrote {out} ({len(points)} points)")
    return rc


if __name__ == "__main__":
    sys.exit(main())
