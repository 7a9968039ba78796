// SPDX-License-Identifier: MIT
// Global <-> registers <-> shared-memory chunk transfers of the register-tiled GPU flash kernels
// (flash_fwd_gpu_kernel.hpp, flash_bwd_gpu_kernel.hpp): a team of NT threads moves a chunk of a
// contiguous row-major [rows][D] fp32 matrix as float4s, the next chunk travelling in registers
// while the current one is multiplied from shared memory.
#pragma once

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace numlab::attention::detail {

struct alignas(16) Float4 {
  float v[4];
};

template <int NT, int D>
struct GpuTileIo {
  // Columns c0 .. c0 + 15 of rows row0 .. row0 + ROWS - 1 (zeros at and past n_rows): ROWS / 32
  // float4s per thread, four threads per 64-byte row segment ...
  template <int ROWS>
  KOKKOS_INLINE_FUNCTION static void fetch_cols(float const* X, int row0, int n_rows, int c0, int t,
                                                Float4 (&r)[ROWS * 4 / NT]) {
    for (int e = 0; e < ROWS * 4 / NT; ++e) {
      int const idx = t + NT * e, row = idx / 4, c4 = idx % 4;
      if (row < n_rows) {
        r[e] = *reinterpret_cast<Float4 const*>(X + std::size_t(row0 + row) * D + c0 + 4 * c4);
      } else {
        for (int u = 0; u < 4; ++u) r[e].v[u] = 0.f;
      }
    }
  }
  // ... stored transposed, dst[c][row] with pitch LD.
  template <int ROWS, int LD>
  KOKKOS_INLINE_FUNCTION static void store_cols_transposed(Float4 const (&r)[ROWS * 4 / NT], int t, float* dst) {
    for (int e = 0; e < ROWS * 4 / NT; ++e) {
      int const idx = t + NT * e, row = idx / 4, c4 = idx % 4;
      for (int u = 0; u < 4; ++u) dst[(4 * c4 + u) * LD + row] = r[e].v[u];
    }
  }
  // Rows row0 .. row0 + ROWS - 1 (zeros at and past n_rows), all D columns ...
  template <int ROWS>
  KOKKOS_INLINE_FUNCTION static void fetch_rows(float const* X, int row0, int n_rows, int t,
                                                Float4 (&r)[ROWS * D / 4 / NT]) {
    for (int e = 0; e < ROWS * D / 4 / NT; ++e) {
      int const idx = t + NT * e, row = idx / (D / 4), c4 = idx % (D / 4);
      if (row < n_rows) {
        r[e] = *reinterpret_cast<Float4 const*>(X + std::size_t(row0 + row) * D + 4 * c4);
      } else {
        for (int u = 0; u < 4; ++u) r[e].v[u] = 0.f;
      }
    }
  }
  // ... stored row-major, dst[row][D] (idx * 4 is row * D + 4 c4).
  template <int ROWS>
  KOKKOS_INLINE_FUNCTION static void store_rows(Float4 const (&r)[ROWS * D / 4 / NT], int t, float* dst) {
    for (int e = 0; e < ROWS * D / 4 / NT; ++e) *reinterpret_cast<Float4*>(dst + std::size_t(t + NT * e) * 4) = r[e];
  }
};

}  // namespace numlab::attention::detail
