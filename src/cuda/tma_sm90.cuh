// SPDX-License-Identifier: MIT
// Hopper asynchronous-copy primitives for warp-specialised kernels: shared-memory mbarriers
// (arrive, expect-tx, parity wait), TMA tile loads (cp.async.bulk.tensor completing on an mbarrier),
// named barriers between warpgroups, and setmaxnreg. Device code exists only on sm_90a
// (NUMLAB_HAS_WGMMA, wgmma_sm90.cuh); the host builds the tensor maps (make_tile_map). Tensor maps
// exist from CUDA 12.0 (NUMLAB_HAS_TMA); older toolkits (sm_80-only builds) leave all of this out.
#pragma once

#include <cuda_runtime.h>
#if CUDART_VERSION >= 12000
#define NUMLAB_HAS_TMA 1
#else
#define NUMLAB_HAS_TMA 0
#endif
#if NUMLAB_HAS_TMA

#include "wgmma_sm90.cuh"

#include <cuda.h>
#include <cuda_runtime.h>
#include <cudaTypedefs.h>

#include <cstdint>

namespace numlab::cuda::detail {

#if NUMLAB_HAS_WGMMA
__device__ __forceinline__ void mbar_init(uint64_t* bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(count) : "memory");
}
// Makes the initialised barriers visible to the async proxy (TMA) and the other threads; a CTA
// barrier must follow.
__device__ __forceinline__ void mbar_init_fence() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }
// One arrival that also announces `bytes` of TMA traffic the phase must wait for.
__device__ __forceinline__ void mbar_arrive_expect_tx(uint64_t* bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_u32(bar)) : "memory");
}
// Waits until the phase of parity `parity` has completed. A fresh barrier is in phase 0, and the
// phase before it (parity 1) counts as completed: a producer waits on an "empty" barrier with
// parity 1 first and passes at once.
__device__ __forceinline__ void mbar_wait(uint64_t* bar, unsigned parity) {
  asm volatile(
      "{\n.reg .pred p;\nNUMLAB_MBAR_WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
      "@!p bra NUMLAB_MBAR_WAIT;\n}\n" ::"r"(smem_u32(bar)),
      "r"(parity)
      : "memory");
}

// TMA: the box of a rank-3 tensor map at coordinates (c0 innermost, c1, c2) into shared memory at
// dst (1024-byte aligned for the 128-byte swizzle); completes `bar`'s transaction count. Elements
// outside the tensor are zero-filled (and still counted).
__device__ __forceinline__ void tma_load_3d(void* dst, const CUtensorMap* map, uint64_t* bar, int c0, int c1, int c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], [%2];\n" ::"r"(
          smem_u32(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_u32(bar)), "r"(c0), "r"(c1), "r"(c2)
      : "memory");
}
__device__ __forceinline__ void tma_prefetch_map(const CUtensorMap* map) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}

// Named barriers (ids 1..15; 0 is __syncthreads) over `threads` threads: sync waits, arrive does not.
__device__ __forceinline__ void named_bar_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void named_bar_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// Moves registers between warpgroups: every thread of the warpgroup executes it; takes effect only
// under a register cap at entry (__launch_bounds__(threads, 1)).
template <int Regs>
__device__ __forceinline__ void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(Regs));
}
template <int Regs>
__device__ __forceinline__ void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(Regs));
}
#endif  // NUMLAB_HAS_WGMMA

// Host: the tensor map of a [heads][rows][D] tensor of 16-bit elements, read in boxes of box_rows rows
// x 64 columns (128 bytes, the 128-byte swizzle) of one head; rows past `rows` read as zeros, so a
// box never reaches into the next head. The driver's encoder is reached through the runtime (no link
// against libcuda). False where the driver has no encoder or refuses the tensor (the caller then runs
// a kernel without TMA).
inline bool make_tile_map(CUtensorMap& map, const void* base, CUtensorMapDataType dtype, long heads, int rows, int D,
                          int box_rows) {
  static PFN_cuTensorMapEncodeTiled_v12000 encode = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult q{};
#if CUDART_VERSION >= 12050
    const cudaError_t e = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &q);
#else
    const cudaError_t e = cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", &fn, cudaEnableDefault, &q);
#endif
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(e == cudaSuccess && q == cudaDriverEntryPointSuccess ? fn : nullptr);
  }();
  if (!encode) return false;
  const cuuint64_t dims[3] = {cuuint64_t(D), cuuint64_t(rows), cuuint64_t(heads)};
  const cuuint64_t strides[2] = {cuuint64_t(D) * 2, cuuint64_t(rows) * D * 2};  // bytes, dims 1 and 2
  const cuuint32_t box[3] = {64, cuuint32_t(box_rows), 1};
  const cuuint32_t elem_strides[3] = {1, 1, 1};
  return encode(&map, dtype, 3, const_cast<void*>(base), dims, strides, box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) ==
         CUDA_SUCCESS;
}

}  // namespace numlab::cuda::detail
#endif  // NUMLAB_HAS_TMA
