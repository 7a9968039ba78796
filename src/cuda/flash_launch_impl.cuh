// SPDX-License-Identifier: MIT
// Definitions of the launchers of flash_launch.cuh; included only by the per-head-dim TUs.
#pragma once

#include "flash_bwd_dq_kernel.cuh"
#include "flash_bwd_kernel.cuh"
#include "flash_bwd_preprocess.cuh"
#include "flash_fwd_kernel.cuh"
#include "flash_fwd_sm90_ws_kernel.cuh"
#include "flash_launch.cuh"
#include "tiled_fwd_kernel.cuh"

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace numlab::cuda::detail {

// Head dims whose forward can run the wgmma kernel (flash_fwd_sm90_ws_kernel.cuh) on sm_90a, as a mask
// (1: D=64, 2: D=128, 4: D=256); the others run the mma.sync kernel.
#ifndef NUMLAB_FA_SM90_FWD
#define NUMLAB_FA_SM90_FWD 7
#endif

// Whether the device runs this kernel from sm_90a machine code (CMake's "90a" target): only then does
// the wgmma kernel have a body. Cached per device.
template <class Kernel>
bool runs_sm90a_code(Kernel* kernel) {
  static std::atomic<int> cached[64];  // 0 unknown, 1 yes, 2 no (per kernel type: they share one target list)
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return false;
  if (cached[dev].load() == 0) {
    cudaFuncAttributes attr;
    cached[dev].store(cudaFuncGetAttributes(&attr, kernel) == cudaSuccess && attr.binaryVersion == 90 ? 1 : 2);
  }
  return cached[dev].load() == 1;
}

// TMA reads from 16-byte aligned global addresses only.
inline bool tma_addressable(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15) == 0; }

// A kernel whose tile may need more than 48 KiB of dynamic shared memory (opted in here): one CTA
// per tile_rows rows (the last one ragged) of each of `heads` heads.
template <class Kernel, class Params>
void launch_tiled(Kernel* kernel, int rows, int tile_rows, int heads, int threads, int smem_bytes,
                  cudaStream_t stream, Params const& p, char const* name) {
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes);
  const dim3 grid((rows + tile_rows - 1) / tile_rows, heads);
  kernel<<<grid, threads, smem_bytes, stream>>>(p);
  check_launch(name);
}

template <class T, int D>
KernelRun launch_fwd(ForwardArgs const& a, float scale, cudaStream_t stream) {
  using K = FwdKernel<T, D>;
  const AttnShape& s = a.shape;
  FwdParams p{a.q, a.k, a.v, a.o, a.lse, s.N, s.N_kv, s.causal, scale, scale * kLog2e};
#if NUMLAB_HAS_TMA
  const bool sm90 = (NUMLAB_FA_SM90_FWD & (D == 64 ? 1 : D == 128 ? 2 : 4)) && runs_sm90a_code(flash_fwd_sm90_ws_kernel<T, D>);
#else
  const bool sm90 = false;  // no tensor maps before CUDA 12
#endif
  if (a.kernel == cuda::FwdKernel::wgmma_sm90 && !sm90)
    throw std::runtime_error("numlab::cuda::flash_forward: kernel wgmma_sm90 needs a device that runs sm_90a code "
                             "(H100, H200) and a head dim it is built for");
  // TMA reads 16-byte aligned tensors; with no query or no key there is nothing to load (mma_sm80
  // writes O = 0 and L = -inf).
  const bool aligned = tma_addressable(a.q) && tma_addressable(a.k) && tma_addressable(a.v);
  if (a.kernel == cuda::FwdKernel::wgmma_sm90 && !aligned)
    throw std::runtime_error("numlab::cuda::flash_forward: kernel wgmma_sm90 needs 16-byte aligned Q, K and V (its "
                             "tiles arrive by TMA)");
#if NUMLAB_HAS_TMA
  if (sm90 && aligned && s.N > 0 && s.N_kv > 0 && a.kernel != cuda::FwdKernel::mma_sm80) {
    using KW = FwdSm90WsKernel<T, D>;
    constexpr CUtensorMapDataType dt =
        std::is_same_v<T, __half> ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    const long heads = long(s.B) * s.H;
    FwdTmaParams tp{p, {}, {}, {}};
    const bool maps = make_tile_map(tp.q, a.q, dt, heads, s.N, D, KW::BM) &&
                      make_tile_map(tp.k, a.k, dt, heads, s.N_kv, D, KW::BN) &&
                      make_tile_map(tp.v, a.v, dt, heads, s.N_kv, D, KW::BN);
    if (!maps && a.kernel == cuda::FwdKernel::wgmma_sm90)
      throw std::runtime_error("numlab::cuda::flash_forward: kernel wgmma_sm90: the driver could not encode the TMA "
                               "tensor maps (cuTensorMapEncodeTiled)");
    if (maps) {
      launch_tiled(flash_fwd_sm90_ws_kernel<T, D>, s.N, KW::BM, s.B * s.H, KW::NThreads, KW::kSmemBytes, stream, tp,
                   "flash_fwd_sm90_ws_kernel");
      static const std::string variant = "sm_90a wgmma, TMA producer warpgroup + " + std::to_string(KW::NWG) +
                                         " consumer warpgroups" + (KW::Cfg::kPingPong ? " in ping-pong" : "") + ", " +
                                         std::to_string(KW::S) + " stages";
      return {"wgmma_sm90", KW::BM, KW::BN, variant.c_str()};
    }
  }
#endif
  launch_tiled(flash_fwd_kernel<T, D>, s.N, K::BM, s.B * s.H, K::NThreads, K::kSmemBytes, stream, p,
               "flash_fwd_kernel");
  static const std::string variant = "sm_80 mma.sync, " + std::to_string(K::NW) + " warps";
  return {"mma_sm80", K::BM, K::BN, variant.c_str()};
}

template <class T, int D>
KernelRun launch_bwd(BackwardArgs const& a, float scale, cudaStream_t stream) {
  const AttnShape& s = a.shape;
  const long rows = long(s.B) * s.H * s.N;
  float* lse2 = static_cast<float*>(a.workspace);
  float* dvec = lse2 + rows;
  float* dq_accum = a.deterministic ? nullptr
                                    : reinterpret_cast<float*>(static_cast<char*>(a.workspace) + rowstat_bytes(s));
  {
    const long threads = rows * (D / 8);
    bwd_rowstat_kernel<T, D><<<unsigned((threads + 255) / 256), 256, 0, stream>>>(
        static_cast<const T*>(a.o), static_cast<const T*>(a.dout), a.lse, lse2, dvec, rows);
    check_launch("bwd_rowstat_kernel");
  }
  if (dq_accum && cudaMemsetAsync(dq_accum, 0, dq_accum_bytes(s), stream) != cudaSuccess) check_launch("memset dQ");

  BwdParams p{a.q, a.k, a.v, a.dout, lse2, dvec, nullptr, dq_accum, a.dq, a.dk, a.dv,
              s.N, s.N_kv, s.causal, a.deterministic, scale, scale * kLog2e, 0.f};
  using KB = BwdKernel<T, D>;
  launch_tiled(flash_bwd_kernel<T, D>, s.N_kv, KB::BN, s.B * s.H, KB::NThreads, KB::kSmemBytes, stream, p,
               "flash_bwd_kernel");
  if (a.deterministic) {
    using KQ = BwdDqKernel<T, D>;
    launch_tiled(flash_bwd_dq_kernel<T, D>, s.N, KQ::BM, s.B * s.H, KQ::NThreads, KQ::kSmemBytes, stream, p,
                 "flash_bwd_dq_kernel");
  } else {
    const long n4 = rows * D / 4;
    const unsigned blocks = unsigned(std::min<long>((n4 + 255) / 256, 65536));
    bwd_convert_dq_kernel<T><<<blocks, 256, 0, stream>>>(dq_accum, static_cast<T*>(a.dq), n4, scale);
    check_launch("bwd_convert_dq_kernel");
  }
  static const std::string variant = "sm_80 mma.sync, " + std::to_string(KB::NW) + " warps, " +
                                     std::to_string(KB::Cfg::kStages) + "-stage Q/dO";
  return {"mma_sm80", KB::BM, KB::BN, variant.c_str()};
}

// The two passes of tiled_fwd_kernel: L from pass 1, then O from pass 2 (same stream, so in order).
template <class T, int D>
KernelRun launch_tiled_fwd(ForwardArgs const& a, float scale, cudaStream_t stream) {
  const AttnShape& s = a.shape;
  FwdParams p{a.q, a.k, a.v, a.o, a.lse, s.N, s.N_kv, s.causal, scale, scale * kLog2e};
  using K1 = TiledFwdKernel<T, D, false>;
  using K2 = TiledFwdKernel<T, D, true>;
  launch_tiled(tiled_fwd_kernel<T, D, false>, s.N, K1::BM, s.B * s.H, K1::NThreads, K1::kSmemBytes, stream, p,
               "tiled_fwd_kernel (pass 1: L)");
  launch_tiled(tiled_fwd_kernel<T, D, true>, s.N, K2::BM, s.B * s.H, K2::NThreads, K2::kSmemBytes, stream, p,
               "tiled_fwd_kernel (pass 2: O)");
  static const std::string variant = "sm_80 mma.sync, " + std::to_string(K2::NW) +
                                     " warps; pass 1 row max/sum -> L, pass 2 P = exp(S - L) rounded, O = P V";
  return {"mma_sm80_two_pass", K2::BM, K2::BN, variant.c_str()};
}

}  // namespace numlab::cuda::detail

// Instantiates both element types for one head dim.
#define NUMLAB_FLASH_INSTANTIATE(D)                                                                          \
  namespace numlab::cuda::detail {                                                                          \
  template KernelRun launch_fwd<__nv_bfloat16, D>(ForwardArgs const&, float, cudaStream_t);                 \
  template KernelRun launch_fwd<__half, D>(ForwardArgs const&, float, cudaStream_t);                        \
  template KernelRun launch_bwd<__nv_bfloat16, D>(BackwardArgs const&, float, cudaStream_t);                \
  template KernelRun launch_bwd<__half, D>(BackwardArgs const&, float, cudaStream_t);                       \
  template KernelRun launch_tiled_fwd<__nv_bfloat16, D>(ForwardArgs const&, float, cudaStream_t);           \
  template KernelRun launch_tiled_fwd<__half, D>(ForwardArgs const&, float, cudaStream_t);                  \
  }
