// SPDX-License-Identifier: MIT
// Standard attention computed on the host in the precision of the native CUDA kernels:
// the baseline of the accuracy rule for low precision (the official FlashAttention
// tests' rule): a kernel's error against fp64 is at most 2x the error of standard
// attention computed in the same precision.
//
// Inputs are bf16/fp16 values; every product accumulates in fp32; the intermediates are
// rounded to the dtype exactly where the tensor-core kernels round them:
//   forward:  S = Q K^T scale (fp32), P = softmax(S) (fp32), L = logsumexp(S) (fp32),
//             O = round(round(P) V)
//   backward: dV = round(round(P)^T dO), dP = dO V^T (fp32), D_i = rowsum(dO o O) (fp32),
//             dS = round(P o (dP - D_i)), dQ = round(dS K scale), dK = round(dS^T Q scale)
// (O is this computation's own rounded output). S is kept in fp32, so this baseline is
// somewhat more accurate than the official tests' one, which rounds S to the dtype as well.
// Memory: two N x N_kv fp32 matrices per head; time O(B H N N_kv D), rows spread over the
// host's hardware threads.
#pragma once

#include "attention/attention_types.hpp"
#include "cuda/native_low_precision.hpp"

#include <cstdint>
#include <vector>

namespace numlab::attention::native {

struct SamePrecisionResult {
  std::vector<double> O;           // [B,H,N,D], values of the dtype
  std::vector<double> L;           // [B,H,N], fp32 values; -inf for a row that sees no key
  std::vector<double> dQ, dK, dV;  // [B,H,N,D], [B,H,N_kv,D] x 2; empty for a forward-only call
};

// Q, K, V, dO: host, row-major, values already representable in `dtype` (round_to()
// them first); dO null: forward only.
SamePrecisionResult standard_same_precision(AttentionShape const& s, cuda::DType dtype, double const* Q,
                                            double const* K, double const* V, double const* dO = nullptr);

// B H N N_kv D: the size of the work above (one multiply-add of each of the products).
inline double attention_work(AttentionShape const& s) {
  return double(s.B) * s.H * double(s.N) * double(s.N_kv) * s.D;
}

}  // namespace numlab::attention::native
