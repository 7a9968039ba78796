// SPDX-License-Identifier: MIT
// Standard (materialised) attention in bf16/fp16 on tensor cores: the baseline of the native
// path. Plain C++17 interface (no CUDA headers), as flash_attention_cuda.hpp.
//
// Forward, per (b, h) head, batched over B H by cublasGemmStridedBatchedEx (bf16/fp16 operands,
// fp32 accumulation, CUBLAS_COMPUTE_32F, tensor cores):
//   S = scale Q K^T            fp32 [N, N_kv]            (GEMM)
//   P = softmax(S), L          fp32 arithmetic; P rounded to the dtype, written over S's row
//                              (the row's first half: P has leading dimension 2 N_kv)
//   O = P V                    the dtype, rounded once  (GEMM)
// Backward (P recomputed as above, then):
//   dV = P^T dO  (GEMM)   dP = dO V^T  fp32 (GEMM)   dS = P o (dP - rowsum(dP o P)) rounded,
//   written over dP's row   dQ = scale dS K  (GEMM)   dK = scale dS^T Q  (GEMM)
// Memory: one fp32 [B,H,N,N_kv] buffer in the forward (S, then P in place), two in the backward
// (S/P and dP/dS): O(N^2), as standard attention is. cuBLAS' own workspace is not counted.
#pragma once

#include "cuda/flash_attention_cuda.hpp"

#include <cstddef>

namespace numlab::cuda {

// Bytes of the [B,H,N,N_kv] fp32 buffers: one for the forward, two for the backward.
std::size_t standard_forward_workspace_bytes(AttnShape const&);
std::size_t standard_backward_workspace_bytes(AttnShape const&);

// a.kernel is not read. workspace: device, >= standard_forward_workspace_bytes.
KernelRun standard_forward(ForwardArgs const& a, void* workspace, std::size_t workspace_bytes, void* cuda_stream);

struct StandardBackwardArgs {
  AttnShape shape;
  DType dtype = DType::bf16;
  float scale = 0.f;  // 0 -> 1/sqrt(D)
  const void *q = nullptr, *k = nullptr, *v = nullptr, *dout = nullptr;
  void *dq = nullptr, *dk = nullptr, *dv = nullptr;
  void* workspace = nullptr;  // >= standard_backward_workspace_bytes
  std::size_t workspace_bytes = 0;
};
KernelRun standard_backward(StandardBackwardArgs const& a, void* cuda_stream);

}  // namespace numlab::cuda
