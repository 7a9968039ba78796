// SPDX-License-Identifier: MIT
// Native CUDA FlashAttention (forward + FlashAttention-2 backward) on tensor cores.
// Plain C++17 interface: no CUDA headers, so Kokkos code and tests can include it.
#pragma once

#include <cstddef>

namespace numlab::cuda {

// fp32: D = 64 and 128, forward and backward on TF32 tensor cores with split operands
// (flash_fwd_fp32_kernel.cuh, flash_bwd_fp32_kernel.cuh); tensors of fp32.
enum class DType { bf16, fp16, fp32 };

// How the fp32 kernels form their products: tf32x3 (every operand x = hi + lo in TF32, x y ~ hi hi +
// hi lo + lo hi: fp32-level accuracy, the default) or tf32x1 (hi hi alone: TF32 accuracy, ~1e-3
// relative; only to measure what the split costs).
enum class Fp32Products { tf32x3, tf32x1 };

// The forward kernel: automatic = wgmma_sm90 where the device runs sm_90a code (H100, H200),
// else mma_sm80.
enum class FwdKernel { automatic, wgmma_sm90, mma_sm80 };

// What a call launched: the main kernel's name and its tile (rows of Q x rows of K/V per CTA).
struct KernelRun {
  const char* name = "";
  int tile_m = 0, tile_n = 0;
  const char* variant = "";  // its compile-time configuration (architecture, warps, stages)
};

// causal: bottom-right aligned (FlashAttention >= 2.1): query i sees key j iff j <= i + N_kv - N.
struct AttnShape {
  int B = 1, H = 1, N = 0, N_kv = 0, D = 0;
  bool causal = false;
};

// All tensors contiguous row-major [B,H,N,D] (Q, O, dO, dQ) or [B,H,N_kv,D] (K, V, dK, dV),
// element type per DType, device pointers. lse: fp32 [B,H,N], natural log:
// lse_i = max_j(s_ij) + log(sum_j exp(s_ij - max)), s = scale * q.k.
// Rows with no admissible key (causal, N > N_kv) get O = 0 and lse = -inf.
struct ForwardArgs {
  AttnShape shape;
  DType dtype = DType::bf16;
  float scale = 0.f;  // 0 -> 1/sqrt(D)
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;
  float* lse = nullptr;
  FwdKernel kernel = FwdKernel::automatic;
  Fp32Products fp32_products = Fp32Products::tf32x3;  // dtype fp32 only
};

// deterministic = true: dQ from a separate pass over key blocks (no floating-point atomics,
// bitwise reproducible); false: dQ accumulated with fp32 atomics in the workspace.
struct BackwardArgs {
  AttnShape shape;
  DType dtype = DType::bf16;
  float scale = 0.f;
  bool deterministic = false;
  const void *q = nullptr, *k = nullptr, *v = nullptr, *o = nullptr, *dout = nullptr;
  const float* lse = nullptr;
  void *dq = nullptr, *dk = nullptr, *dv = nullptr;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  Fp32Products fp32_products = Fp32Products::tf32x3;  // dtype fp32 only
};

bool supports_head_dim(int D);  // 64, 128, 256
bool supports_head_dim(DType t, int D);  // fp32: 64, 128; bf16, fp16: 64, 128, 256
std::size_t element_bytes(DType t);      // 2 or 4
// LSE * log2(e) (as hi + lo), D_i = rowsum(dO o O) (fp32 [B,H,N] each) plus, unless deterministic, the fp32 dQ
// accumulator [B,H,N,D].
std::size_t backward_workspace_bytes(AttnShape const&, bool deterministic);
// Both throw std::runtime_error on an unsupported head dim, bad arguments or a launch error
// (tiled_forward: on dtype fp32, which has no such kernel).
// cuda_stream is a cudaStream_t (nullptr: the legacy default stream).
// Both return what they launched; a forced kernel that cannot run throws std::runtime_error.
KernelRun flash_forward(ForwardArgs const&, void* cuda_stream);
KernelRun flash_backward(BackwardArgs const&, void* cuda_stream);  // workspace_bytes >= backward_workspace_bytes
// The lab's tiled forward without online softmax (tiled_fwd_kernel.cuh): pass 1 writes lse (row
// max and sum), pass 2 O = P V with the exact P = exp(s - lse) rounded to the dtype. Same arguments
// and outputs as flash_forward (a.kernel is not read: one kernel, mma.sync); no workspace.
KernelRun tiled_forward(ForwardArgs const&, void* cuda_stream);
// 4 B H N N_kv D, halved when causal (the numlab convention of attention_forward_flops;
// it ignores the exact count of admissible pairs). Backward does 2.5x these FLOPs.
std::size_t forward_flops(AttnShape const&);

}  // namespace numlab::cuda
