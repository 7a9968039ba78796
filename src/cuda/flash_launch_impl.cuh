// SPDX-License-Identifier: MIT
// Definitions of the launchers of flash_launch.cuh; included only by the per-head-dim TUs.
#pragma once

#include "flash_bwd_dq_kernel.cuh"
#include "flash_bwd_kernel.cuh"
#include "flash_bwd_preprocess.cuh"
#include "flash_fwd_kernel.cuh"
#include "flash_launch.cuh"

namespace numlab::cuda::detail {

template <class T, int D>
void launch_fwd(ForwardArgs const& a, float scale, cudaStream_t stream) {
  using K = FwdKernel<T, D>;
  const AttnShape& s = a.shape;
  FwdParams p{a.q, a.k, a.v, a.o, a.lse, s.N, s.N_kv, s.causal, scale, scale * kLog2e};
  auto kernel = flash_fwd_kernel<T, D>;
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, K::kSmemBytes);
  const dim3 grid((s.N + K::BM - 1) / K::BM, s.B * s.H);
  kernel<<<grid, K::NThreads, K::kSmemBytes, stream>>>(p);
  check_launch("flash_fwd_kernel");
}

template <class T, int D>
void launch_bwd(BackwardArgs const& a, float scale, cudaStream_t stream) {
  const AttnShape& s = a.shape;
  const long rows = long(s.B) * s.H * s.N;
  float* dvec = static_cast<float*>(a.workspace);
  float* dq_accum = a.deterministic ? nullptr
                                    : reinterpret_cast<float*>(static_cast<char*>(a.workspace) + dvec_bytes(s));
  {
    const long threads = rows * (D / 8);
    bwd_dot_do_o_kernel<T, D><<<unsigned((threads + 255) / 256), 256, 0, stream>>>(
        static_cast<const T*>(a.o), static_cast<const T*>(a.dout), dvec, rows);
    check_launch("bwd_dot_do_o_kernel");
  }
  if (dq_accum && cudaMemsetAsync(dq_accum, 0, dq_accum_bytes(s), stream) != cudaSuccess) check_launch("memset dQ");

  BwdParams p{a.q, a.k, a.v, a.dout, a.lse, dvec, dq_accum, a.dq, a.dk, a.dv,
              s.N, s.N_kv, s.causal, a.deterministic, scale, scale * kLog2e};
  {
    using K = BwdKernel<T, D>;
    auto kernel = flash_bwd_kernel<T, D>;
    cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, K::kSmemBytes);
    const dim3 grid((s.N_kv + K::BN - 1) / K::BN, s.B * s.H);
    kernel<<<grid, K::NThreads, K::kSmemBytes, stream>>>(p);
    check_launch("flash_bwd_kernel");
  }
  if (a.deterministic) {
    using K = BwdDqKernel<T, D>;
    auto kernel = flash_bwd_dq_kernel<T, D>;
    cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, K::kSmemBytes);
    const dim3 grid((s.N + K::BM - 1) / K::BM, s.B * s.H);
    kernel<<<grid, K::NThreads, K::kSmemBytes, stream>>>(p);
    check_launch("flash_bwd_dq_kernel");
  } else {
    const long n4 = rows * D / 4;
    const unsigned blocks = unsigned(std::min<long>((n4 + 255) / 256, 65536));
    bwd_convert_dq_kernel<T><<<blocks, 256, 0, stream>>>(dq_accum, static_cast<T*>(a.dq), n4, scale);
    check_launch("bwd_convert_dq_kernel");
  }
}

}  // namespace numlab::cuda::detail

// Instantiates both element types for one head dim.
#define NUMLAB_FLASH_INSTANTIATE(D)                                                                          \
  namespace numlab::cuda::detail {                                                                          \
  template void launch_fwd<__nv_bfloat16, D>(ForwardArgs const&, float, cudaStream_t);                      \
  template void launch_fwd<__half, D>(ForwardArgs const&, float, cudaStream_t);                             \
  template void launch_bwd<__nv_bfloat16, D>(BackwardArgs const&, float, cudaStream_t);                     \
  template void launch_bwd<__half, D>(BackwardArgs const&, float, cudaStream_t);                            \
  }
