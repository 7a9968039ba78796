// SPDX-License-Identifier: MIT
// C_bh = alpha op(A_bh) op(B_bh) + beta C_bh for every head (b, h) of [B,H,rows,cols] tensors, through
// KokkosBlas::gemm on each head's 2-D subview: the host BLAS (OpenBLAS) or cuBLAS where Kokkos
// Kernels has the TPL, its own GEMM elsewhere. A loop of per-head calls compiles with Kokkos
// Kernels 3.4 and 4.x alike; each call is large (N x N_kv x D), so the loop's overhead is not
// what a point measures. KokkosBatched's serial/team GEMMs are the register-level kind, far
// slower than the library's on these sizes.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/fwd_backend.hpp"

#include <KokkosBlas3_gemm.hpp>
#include <KokkosKernels_config.h>
#include <Kokkos_Core.hpp>

#include <string>
#include <type_traits>

namespace numlab::attention::detail {

// Which GEMM KokkosBlas::gemm hands the heads to on ExecSpace (kernel_variant of the BLAS methods).
template <class ExecSpace>
std::string head_gemm_library() {
  if constexpr (is_host_exec_v<ExecSpace>) {
#ifdef KOKKOSKERNELS_ENABLE_TPL_BLAS
    return "KokkosBlas::gemm per head -> host BLAS (TPL)";
#else
    return "KokkosBlas::gemm per head (Kokkos Kernels' own GEMM)";
#endif
  } else {
#ifdef KOKKOSKERNELS_ENABLE_TPL_CUBLAS
    return "KokkosBlas::gemm per head -> cuBLAS (TPL)";
#else
    return "KokkosBlas::gemm per head (Kokkos Kernels' own GEMM)";
#endif
  }
}

// ta, tb: "N" or "T". The heads' subviews of LayoutRight tensors are LayoutRight and contiguous, so
// the TPL takes them (as transposed column-major operands). gemm runs on the default instance of
// the views' execution space: the caller fences its own instance before and after.
template <class AV, class BV, class CV>
void head_gemm(char const* ta, char const* tb, typename CV::non_const_value_type alpha, AV const& A, BV const& B,
               typename CV::non_const_value_type beta, CV const& C) {
  static_assert(AV::rank == 4 && BV::rank == 4 && CV::rank == 4, "head_gemm: [B,H,rows,cols] tensors");
  static_assert(std::is_same_v<typename AV::array_layout, Kokkos::LayoutRight> &&
                    std::is_same_v<typename BV::array_layout, Kokkos::LayoutRight> &&
                    std::is_same_v<typename CV::array_layout, Kokkos::LayoutRight>,
                "head_gemm: LayoutRight tensors (a head's rows contiguous)");
  if (C.extent(2) == 0 || C.extent(3) == 0) return;
  for (std::size_t b = 0; b < C.extent(0); ++b)
    for (std::size_t h = 0; h < C.extent(1); ++h)
      KokkosBlas::gemm(ta, tb, alpha, Kokkos::subview(A, b, h, Kokkos::ALL, Kokkos::ALL),
                       Kokkos::subview(B, b, h, Kokkos::ALL, Kokkos::ALL), beta,
                       Kokkos::subview(C, b, h, Kokkos::ALL, Kokkos::ALL));
}

}  // namespace numlab::attention::detail
