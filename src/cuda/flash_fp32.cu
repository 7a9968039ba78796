// SPDX-License-Identifier: MIT
// The fp32 forward (flash_fwd_fp32_kernel.cuh) and backward (flash_bwd_fp32_kernel.cuh,
// flash_bwd_fp32_dq_kernel.cuh) for head dims 64 and 128, 3xTF32 and 1xTF32.
#include "flash_bwd_fp32_dq_kernel.cuh"
#include "flash_bwd_fp32_kernel.cuh"
#include "flash_fwd_fp32_kernel.cuh"
#include "flash_launch_impl.cuh"

#include <algorithm>
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

namespace {
const char* products_name(int terms) {
  if (terms == 4) return "4xTF32 (fp32 operands split hi + lo, every product of the parts)";
  return terms == 3 ? "3xTF32 (fp32 operands split hi + lo, hi hi + hi lo + lo hi)" : "1xTF32 (operands rounded to TF32)";
}
}  // namespace

template <int D, int Terms>
KernelRun launch_bwd_fp32_terms(BackwardArgs const& a, float scale, cudaStream_t stream) {
  const AttnShape& s = a.shape;
  const long rows = long(s.B) * s.H * s.N;
  float* lse2 = static_cast<float*>(a.workspace);
  float* dvec = lse2 + rows;
  float* lse2_lo = dvec + rows;
  float* dq_accum = a.deterministic ? nullptr
                                    : reinterpret_cast<float*>(static_cast<char*>(a.workspace) + rowstat_bytes(s));
  {
    const long threads = rows * (D / 4);
    bwd_rowstat_fp32_kernel<D><<<unsigned((threads + 255) / 256), 256, 0, stream>>>(
        static_cast<const float*>(a.o), static_cast<const float*>(a.dout), a.lse, lse2, lse2_lo, dvec, rows);
    check_launch("bwd_rowstat_fp32_kernel");
  }
  if (dq_accum && cudaMemsetAsync(dq_accum, 0, dq_accum_bytes(s), stream) != cudaSuccess) check_launch("memset dQ");
  const double scale_log2 = double(scale) * 1.4426950408889634;  // log2(e) in fp64
  BwdParams p{a.q, a.k, a.v, a.dout, lse2, dvec, lse2_lo, dq_accum, a.dq, a.dk, a.dv,
              s.N, s.N_kv, s.causal, a.deterministic, scale, float(scale_log2),
              float(scale_log2 - double(float(scale_log2)))};
  using KA = BwdFp32Kernel<D, Terms, true>;
  using KS = BwdFp32Kernel<D, Terms, false>;
  if (a.deterministic) {
    launch_tiled(flash_bwd_fp32_kernel<D, Terms, false>, s.N_kv, KS::BN, s.B * s.H, KS::NThreads, KS::kSmemBytes,
                 stream, p, "flash_bwd_fp32_kernel");
    using KQ = BwdFp32DqKernel<D, Terms>;
    launch_tiled(flash_bwd_fp32_dq_kernel<D, Terms>, s.N, KQ::BM, s.B * s.H, KQ::NThreads, KQ::kSmemBytes, stream, p,
                 "flash_bwd_fp32_dq_kernel");
  } else {
    launch_tiled(flash_bwd_fp32_kernel<D, Terms, true>, s.N_kv, KA::BN, s.B * s.H, KA::NThreads, KA::kSmemBytes,
                 stream, p, "flash_bwd_fp32_kernel");
    const long n4 = rows * D / 4;
    const unsigned blocks = unsigned(std::min<long>((n4 + 255) / 256, 65536));
    bwd_scale_dq_fp32_kernel<<<blocks, 256, 0, stream>>>(dq_accum, static_cast<float*>(a.dq), n4, scale);
    check_launch("bwd_scale_dq_fp32_kernel");
  }
  static const std::string variant = std::string("sm_80 mma.sync m16n8k8 tf32, ") + products_name(Terms) +
                                     ", " + std::to_string(KA::NW) + " warps of 16 keys, " + std::to_string(KA::BM) +
                                     "-row Q/dO blocks in 2 stages";
  return {Terms == 1 ? "mma_sm80_1xtf32" : Terms == 3 ? "mma_sm80_3xtf32" : "mma_sm80_4xtf32", KA::BM, KA::BN, variant.c_str()};
}

// The backward's products for Fp32Products::tf32x3 (4: with lo lo, for the harness to measure).
#ifndef NUMLAB_FA_FP32_BWD_TERMS
#define NUMLAB_FA_FP32_BWD_TERMS 3
#endif

template <int D>
KernelRun launch_bwd_fp32(BackwardArgs const& a, float scale, cudaStream_t stream) {
  return a.fp32_products == Fp32Products::tf32x1 ? launch_bwd_fp32_terms<D, 1>(a, scale, stream)
                                                 : launch_bwd_fp32_terms<D, NUMLAB_FA_FP32_BWD_TERMS>(a, scale, stream);
}

template KernelRun launch_bwd_fp32<64>(BackwardArgs const&, float, cudaStream_t);
template KernelRun launch_bwd_fp32<128>(BackwardArgs const&, float, cudaStream_t);
template KernelRun launch_fwd_fp32<64>(ForwardArgs const&, float, cudaStream_t);
template KernelRun launch_fwd_fp32<128>(ForwardArgs const&, float, cudaStream_t);

}  // namespace numlab::cuda::detail
