// SPDX-License-Identifier: MIT
// Shapes and tensor types shared by every attention kernel.
#pragma once

#include <Kokkos_Core.hpp>

#include <cmath>

namespace numlab::attention {

// Q, O, dQ, dO: [B, H, N, D]; K, V, dK, dV: [B, H, N_kv, D]; row-major so a
// head's rows are contiguous (the layout of PyTorch tensors and of the HDF5 inputs).
template <class T, class MemSpace>
using Tensor4 = Kokkos::View<T****, Kokkos::LayoutRight, MemSpace>;
// Per-row statistics (log-sum-exp L_i, D_i = rowsum(dO o O)): [B, H, N], in fp32/fp64
// whatever T is.
template <class T, class MemSpace>
using Tensor3 = Kokkos::View<T***, Kokkos::LayoutRight, MemSpace>;

struct AttentionShape {
  int B = 1;     // batch
  int H = 1;     // heads
  int N = 0;     // query length
  int N_kv = 0;  // key/value length
  int D = 0;     // head dim
  // Causal mask, bottom-right aligned as in FlashAttention >= 2.1: query i sees
  // keys j <= i + (N_kv - N). A query row that sees no key gets O = 0 and
  // L = -inf (and zero gradients).
  bool causal = false;
  double scale() const { return 1.0 / std::sqrt(double(D)); }
  // Last key index visible from query row i (inclusive); < 0 means none.
  KOKKOS_INLINE_FUNCTION int last_key(int i) const { return causal ? i + (N_kv - N) : N_kv - 1; }
};

struct TileSizes {
  int tile_q = 64;  // Br: query rows per team
  int tile_k = 64;  // Bc: key/value rows per scratch tile
};

// The exponent of a softmax term, s * scale - m (or - L), is <= 0 in exact arithmetic (m is the
// row's maximum, L its log-sum-exp); contracted into an FMA or rounded apart it can exceed 0 by
// half an ulp of m, which at large logits (|m| ~ 1e9) reaches exp2(128) = inf and NaN outputs.
// Clamped to 0; NaN stays NaN.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T softmax_exponent(T x) {
  return x > T(0) ? T(0) : x;
}

// FLOPs of one forward pass (4 B H N N_kv D, halved for causal); backward is 2.5x.
inline double attention_forward_flops(AttentionShape const& s) {
  double f = 4.0 * s.B * s.H * double(s.N) * double(s.N_kv) * s.D;
  return s.causal ? f / 2 : f;
}
inline double attention_backward_flops(AttentionShape const& s) { return 2.5 * attention_forward_flops(s); }

}  // namespace numlab::attention
