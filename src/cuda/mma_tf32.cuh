// SPDX-License-Identifier: MIT
// TF32 tensor-core primitives for the fp32 kernels: mma.sync m16n8k8 (tf32 x tf32 -> fp32) and the
// split of an fp32 value into two TF32 values (3xTF32: x = hi + lo with hi = rna(x), lo = rna(x - hi),
// so hi carries 11 significant bits and hi + lo 22; x*y ~ hi_x hi_y + hi_x lo_y + lo_x hi_y, the
// dropped lo_x lo_y is below 2^-22 |x y|).
#pragma once

#include <cstdint>

namespace numlab::cuda::detail {

// fp32 -> TF32 (10 fraction bits), round to nearest, ties away from zero; the result is an fp32 bit
// pattern with the low 13 bits zero.
__device__ __forceinline__ uint32_t tf32_rna(float x) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
}

// Rounding to TF32 by integer ops on the bits (cvt.rna.tf32.f32 is 4-5 instructions on sm_90: it
// checks for NaN and infinity; the kernels' finite data need no such checks): adding half of the
// dropped 13 bits' weight to the magnitude bits and clearing them rounds to nearest, ties away from
// zero, as cvt.rna does; a carry moves into the exponent correctly.
__device__ __forceinline__ uint32_t tf32_round_bits(float x) { return (__float_as_uint(x) + 0x1000u) & 0xffffe000u; }

// HiTrunc: hi = x with the low 13 bits cleared (one logic op), lo = round(x - hi) (x - hi is exact),
// |lo| < 2^-10 |x|; else hi = round(x), |lo| <= 2^-11 |x|, and the dropped lo lo is 4x smaller. Either
// way hi + lo = x (1 + O(2^-21)) and lo's rounding is unbiased. The forward truncates
// (NUMLAB_FA_FP32_HI_TRUNC, default 1); the backward rounds (NUMLAB_FA_FP32_BWD_HI_TRUNC, default 0:
// truncated, its errors were 2.5-3.5x standard fp32's on an H200, rounded 1-2x; see fp32_warp_mma.cuh).
#ifndef NUMLAB_FA_FP32_HI_TRUNC
#define NUMLAB_FA_FP32_HI_TRUNC 1
#endif

// Terms of the split: 1 = hi only (1xTF32, plain TF32 accuracy: hi rounded), 3 = 3xTF32, 4 = 3xTF32
// plus lo lo (measured against 3 in the backward's harness).
template <int Terms, bool HiTrunc = NUMLAB_FA_FP32_HI_TRUNC>
struct Tf32Split {
  static_assert(Terms == 1 || Terms == 3 || Terms == 4, "1xTF32, 3xTF32 or 4xTF32");
  uint32_t hi, lo;
  Tf32Split() = default;
  __device__ __forceinline__ explicit Tf32Split(float x) {
    if constexpr (Terms == 1) {
      hi = tf32_round_bits(x);
    } else {
      hi = HiTrunc ? __float_as_uint(x) & 0xffffe000u : tf32_round_bits(x);
      lo = tf32_round_bits(x - __uint_as_float(hi));
    }
  }
};

// c += a * b on m16n8k8 (row.col). Fragments (g = lane / 4, t = lane % 4): a0 (g, t), a1 (g + 8, t),
// a2 (g, t + 4), a3 (g + 8, t + 4); b0 (k = t, n = g), b1 (k = t + 4, n = g); c as for m16n8k16.
__device__ __forceinline__ void mma1688_tf32(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                             uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// c += A B with A and B given as splits: the small products first, then hi * hi (3xTF32), or
// hi * hi alone (1xTF32).
template <int Terms, bool HiTrunc>
__device__ __forceinline__ void mma_split(float (&c)[4], Tf32Split<Terms, HiTrunc> const (&a)[4],
                                          Tf32Split<Terms, HiTrunc> const& b0, Tf32Split<Terms, HiTrunc> const& b1) {
  if constexpr (Terms == 4) mma1688_tf32(c, a[0].lo, a[1].lo, a[2].lo, a[3].lo, b0.lo, b1.lo);
  if constexpr (Terms >= 3) {
    mma1688_tf32(c, a[0].lo, a[1].lo, a[2].lo, a[3].lo, b0.hi, b1.hi);
    mma1688_tf32(c, a[0].hi, a[1].hi, a[2].hi, a[3].hi, b0.lo, b1.lo);
  }
  mma1688_tf32(c, a[0].hi, a[1].hi, a[2].hi, a[3].hi, b0.hi, b1.hi);
}

}  // namespace numlab::cuda::detail
