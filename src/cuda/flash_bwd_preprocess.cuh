// SPDX-License-Identifier: MIT
// Backward helpers outside the main loop: the row statistics {LSE in base 2, D_i = rowsum(dO o O)}
// before it, and the fp32 dQ accumulator -> dQ (times the softmax scale) after it in atomic mode.
#pragma once

#include "mma_sm80.cuh"

namespace numlab::cuda::detail {

// D/8 consecutive lanes own one row, 16 bytes of O and dO each, then reduce over the group.
template <class T, int D>
__global__ void __launch_bounds__(256) bwd_rowstat_kernel(const T* __restrict__ o, const T* __restrict__ dout,
                                                          const float* __restrict__ lse, float* __restrict__ lse2,
                                                          float* __restrict__ dvec, long rows) {
  constexpr int G = D / 8;
  static_assert(G <= 32 && 32 % G == 0, "row group must fit a warp");
  const long gid = (long)blockIdx.x * blockDim.x + threadIdx.x;
  const long row = gid / G;
  const int c = int(gid % G) * 8;
  float acc = 0.f;
  if (row < rows) {
    const uint4 a = *reinterpret_cast<const uint4*>(o + row * D + c);
    const uint4 b = *reinterpret_cast<const uint4*>(dout + row * D + c);
    const uint32_t* pa = reinterpret_cast<const uint32_t*>(&a);
    const uint32_t* pb = reinterpret_cast<const uint32_t*>(&b);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 x = unpack2<T>(pa[i]), y = unpack2<T>(pb[i]);
      acc = fmaf(x.x, y.x, fmaf(x.y, y.y, acc));
    }
  }
#pragma unroll
  for (int s = G / 2; s > 0; s >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, s);
  if (row < rows && gid % G == 0) {
    const float l = lse[row];
    lse2[row] = l == -INFINITY ? INFINITY : l * kLog2e;
    dvec[row] = acc;
  }
}

template <class T>
__global__ void __launch_bounds__(256) bwd_convert_dq_kernel(const float* __restrict__ acc, T* __restrict__ dq,
                                                             long n4, float scale) {
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += (long)gridDim.x * blockDim.x) {
    const float4 a = reinterpret_cast<const float4*>(acc)[i];
    uint2 out;
    out.x = pack2<T>(a.x * scale, a.y * scale);
    out.y = pack2<T>(a.z * scale, a.w * scale);
    reinterpret_cast<uint2*>(dq)[i] = out;
  }
}

}  // namespace numlab::cuda::detail
