// SPDX-License-Identifier: MIT
// Host-side launchers, one instantiation per (element type, head dim); the per-head-dim
// translation units (flash_d64.cu, ...) instantiate them so compilation runs in parallel.
#pragma once

#include "flash_attention_cuda.hpp"

#include <cuda_runtime.h>

#include <cstddef>

namespace numlab::cuda::detail {

inline std::size_t align256(std::size_t n) { return (n + 255) / 256 * 256; }
// Workspace: [LSE in base 2: fp32 B*H*N][D_i: fp32 B*H*N][the low part of LSE in base 2, fp32 B*H*N: the
// fp32 kernels only][dQ accumulator: fp32 B*H*N*D, atomic mode only]
inline std::size_t rowstat_bytes(AttnShape const& s) {
  return align256(3 * sizeof(float) * std::size_t(s.B) * s.H * s.N);
}
inline std::size_t dq_accum_bytes(AttnShape const& s) {
  return sizeof(float) * std::size_t(s.B) * s.H * s.N * std::size_t(s.D);
}

void check_launch(const char* what);  // throws std::runtime_error on a pending launch error

template <class T, int D>
KernelRun launch_fwd(ForwardArgs const& a, float scale, cudaStream_t stream);
template <class T, int D>
KernelRun launch_bwd(BackwardArgs const& a, float scale, cudaStream_t stream);
// dtype fp32, D = 64 or 128 (flash_fp32.cu).
template <int D>
KernelRun launch_fwd_fp32(ForwardArgs const& a, float scale, cudaStream_t stream);
template <int D>
KernelRun launch_bwd_fp32(BackwardArgs const& a, float scale, cudaStream_t stream);
template <class T, int D>
KernelRun launch_tiled_fwd(ForwardArgs const& a, float scale, cudaStream_t stream);

}  // namespace numlab::cuda::detail
