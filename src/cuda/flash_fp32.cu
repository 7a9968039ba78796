// SPDX-License-Identifier: MIT
// The fp32 forward (flash_fwd_fp32_kernel.cuh) for head dims 64 and 128, 3xTF32 and 1xTF32.
#include "flash_fwd_fp32_kernel.cuh"
#include "flash_launch_impl.cuh"

#include <string>

namespace numlab::cuda::detail {

template <int D, int Terms>
KernelRun launch_fwd_fp32_terms(ForwardArgs const& a, float scale, cudaStream_t stream) {
  using K = FwdFp32Kernel<D, Terms>;
  const AttnShape& s = a.shape;
  FwdParams p{a.q, a.k, a.v, a.o, a.lse, s.N, s.N_kv, s.causal, scale, scale * kLog2e};
  launch_tiled(flash_fwd_fp32_kernel<D, Terms>, s.N, K::BM, s.B * s.H, K::NThreads, K::kSmemBytes, stream, p,
               "flash_fwd_fp32_kernel");
  static const std::string variant =
      std::string("sm_80 mma.sync m16n8k8 tf32, ") +
      (Terms == 3 ? "3xTF32 (fp32 operands split hi + lo, hi hi + hi lo + lo hi)" : "1xTF32 (operands rounded to TF32)") +
      ", fp32 softmax, " + std::to_string(K::NW) + " warps";
  return {Terms == 3 ? "mma_sm80_3xtf32" : "mma_sm80_1xtf32", K::BM, K::BN, variant.c_str()};
}

template <int D>
KernelRun launch_fwd_fp32(ForwardArgs const& a, float scale, cudaStream_t stream) {
  if (a.kernel == cuda::FwdKernel::wgmma_sm90)
    throw std::runtime_error("numlab::cuda::flash_forward: dtype fp32 has no wgmma_sm90 kernel (it runs mma_sm80, "
                             "mma.sync on TF32)");
  return a.fp32_products == Fp32Products::tf32x1 ? launch_fwd_fp32_terms<D, 1>(a, scale, stream)
                                                 : launch_fwd_fp32_terms<D, 3>(a, scale, stream);
}

template KernelRun launch_fwd_fp32<64>(ForwardArgs const&, float, cudaStream_t);
template KernelRun launch_fwd_fp32<128>(ForwardArgs const&, float, cudaStream_t);

}  // namespace numlab::cuda::detail
