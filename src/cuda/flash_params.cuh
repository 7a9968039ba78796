// SPDX-License-Identifier: MIT
// Kernel parameter blocks (passed by value) of the CUDA FlashAttention kernels.
#pragma once

namespace numlab::cuda::detail {

// Pointers are to element 0 of [B,H,rows,D] tensors; a CTA offsets by its (b*H + h) head.
struct FwdParams {
  const void *q, *k, *v;
  void* o;
  float* lse;
  int N, N_kv;
  bool causal;
  float scale, scale_log2;  // scale_log2 = scale * log2(e): softmax in base 2
};

struct BwdParams {
  const void *q, *k, *v, *dout;
  // Per query row, [B,H,N] each, written by bwd_rowstat_kernel: LSE * log2(e), +inf where LSE = -inf
  // (the row sees no key, so P = 0); D_i = rowsum(dO o O).
  const float *lse2, *dvec;
  // fp32 kernels: LSE log2(e) - lse2 (rounded), and scale log2(e) - scale_log2, so that the exponent
  // s scale log2(e) - LSE log2(e) is formed to fp32 accuracy (its two roundings to fp32 would each add
  // up to |LSE| 2^-24 to it: up to ~8 ulps of P).
  const float* lse2_lo;
  float* dq_accum;    // fp32 [B,H,N,D], atomic mode only
  void *dq, *dk, *dv;
  int N, N_kv;
  bool causal, deterministic;
  float scale, scale_log2;
  float scale_log2_lo;  // fp32 kernels
};

}  // namespace numlab::cuda::detail
