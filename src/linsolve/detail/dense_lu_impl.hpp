// SPDX-License-Identifier: MIT
// Building blocks of the dense LU in dense_lu.hpp: BLAS-3 wrappers over the Kokkos Kernels 3.4 / 4.x
// API split, row interchanges, the recursive panel and the numerical-singularity test.
#pragma once

#include "core/kokkos_ext/compat.hpp"
#include "linsolve/csr.hpp"

#include <KokkosBlas3_gemm.hpp>
#include <KokkosBlas3_trsm.hpp>
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace numlab::linsolve::detail {

using range_t = Kokkos::pair<int, int>;

// Subviews of a LayoutLeft matrix must stay LayoutLeft (leading dimension = stride(1)), or
// Kokkos Kernels would fall back from the BLAS TPL (OpenBLAS / cuBLAS) to its generic kernels.
template <class View>
inline constexpr bool is_layout_left_v = std::is_same_v<typename View::array_layout, Kokkos::LayoutLeft>;

// C := alpha * A * B + beta * C. Kokkos Kernels 3.4 has no execution-space overload (host TPL
// only, runs in program order), hence the fence there; 4.x enqueues on `space`.
template <class ExecSpace, class AV, class BV, class CV>
void gemm_nn(ExecSpace const& space, double alpha, AV const& A, BV const& B, double beta, CV const& C) {
  static_assert(is_layout_left_v<AV> && is_layout_left_v<BV> && is_layout_left_v<CV>);
  if (C.extent(0) == 0 || C.extent(1) == 0) return;
#if NUMLAB_KOKKOS4
  KokkosBlas::gemm(space, "N", "N", alpha, A, B, beta, C);
#else
  space.fence();
  KokkosBlas::gemm("N", "N", alpha, A, B, beta, C);
#endif
}

// B := op(T)^{-1} B from the left; uplo "L"/"U", diag "U" (unit) / "N".
template <class ExecSpace, class TV, class BV>
void trsm_left(ExecSpace const& space, const char* uplo, const char* diag, TV const& T, BV const& B) {
  static_assert(is_layout_left_v<TV> && is_layout_left_v<BV>);
  if (B.extent(0) == 0 || B.extent(1) == 0) return;
#if NUMLAB_KOKKOS4
  KokkosBlas::trsm(space, "L", uplo, "N", diag, 1.0, T, B);
#else
  space.fence();
  KokkosBlas::trsm("L", uplo, "N", diag, 1.0, T, B);
#endif
}

// Applies the interchanges piv[k0..k1) in order to columns [c0, c1) of A (LAPACK dlaswp).
// One column per work item: its swaps are sequential, the columns independent.
template <class ExecSpace, class AV, class PivView>
void laswp(ExecSpace const& space, AV const& A, PivView const& piv, int k0, int k1, int c0, int c1) {
  if (c1 <= c0 || k1 <= k0) return;
  Kokkos::parallel_for(
      "numlab::lu::laswp", Kokkos::RangePolicy<ExecSpace>(space, c0, c1), KOKKOS_LAMBDA(const int j) {
        for (int k = k0; k < k1; ++k) {
          const int p = piv(k);
          if (p != k) {
            const double t = A(k, j);
            A(k, j) = A(p, j);
            A(p, j) = t;
          }
        }
      });
}

// The reduction result of the pivot search stays in device memory, so a column costs three
// kernel launches and no host round trip.
template <class ExecSpace>
using PivotReducer = Kokkos::MaxLoc<double, int, typename ExecSpace::memory_space>;
template <class ExecSpace>
using PivotSlot = typename PivotReducer<ExecSpace>::result_view_type;

// Unblocked step on column k, rows [k, n): pivot search, interchange within column k only (the
// caller swaps the other columns), scaling of the multipliers. A zero pivot leaves the column
// as it is (as LAPACK dgetf2): no division by zero, the singularity test reports it.
template <class ExecSpace, class AV, class PivView>
void factor_column(ExecSpace const& space, AV const& A, PivView const& piv, PivotSlot<ExecSpace> const& best,
                   int k) {
  const int n = static_cast<int>(A.extent(0));
  using value_type = typename PivotReducer<ExecSpace>::value_type;
  Kokkos::parallel_reduce(
      "numlab::lu::pivot_search", Kokkos::RangePolicy<ExecSpace>(space, k, n),
      KOKKOS_LAMBDA(const int i, value_type& m) {
        const double v = kx::abs(A(i, k));
        if (v > m.val) {
          m.val = v;
          m.loc = i;
        }
      },
      PivotReducer<ExecSpace>(best));
  Kokkos::parallel_for(
      "numlab::lu::pivot_swap", Kokkos::RangePolicy<ExecSpace>(space, 0, 1), KOKKOS_LAMBDA(const int) {
        int p = best().loc;
        if (p < k || p >= n) p = k;  // an all-NaN column leaves the identity location
        piv(k) = p;
        const double t = A(k, k);
        A(k, k) = A(p, k);
        A(p, k) = t;
      });
  Kokkos::parallel_for(
      "numlab::lu::scale", Kokkos::RangePolicy<ExecSpace>(space, k + 1, n), KOKKOS_LAMBDA(const int i) {
        const double d = A(k, k);
        if (d != 0.0) A(i, k) /= d;
      });
}

// Recursive LU of the panel A(k0:n, k0:k0+w) as LAPACK dgetrf2: factor the left half, bring its
// interchanges to the right half, U12 by trsm, A22 -= L21*U12 by gemm, factor the right half,
// bring its interchanges back to L21. Nearly all flops of the panel land in trsm/gemm; pivots
// are absolute row indices.
template <class ExecSpace, class AV, class PivView>
void factor_panel(ExecSpace const& space, AV const& A, PivView const& piv, PivotSlot<ExecSpace> const& best,
                  int k0, int w) {
  if (w == 1) {
    factor_column(space, A, piv, best, k0);
    return;
  }
  const int n = static_cast<int>(A.extent(0));
  const int k1 = k0 + w / 2;
  const int k2 = k0 + w;
  factor_panel(space, A, piv, best, k0, k1 - k0);
  laswp(space, A, piv, k0, k1, k1, k2);
  auto L11 = Kokkos::subview(A, range_t(k0, k1), range_t(k0, k1));  // (w/2) x (w/2), unit lower
  auto A12 = Kokkos::subview(A, range_t(k0, k1), range_t(k1, k2));  // (w/2) x (w - w/2) -> U12
  auto L21 = Kokkos::subview(A, range_t(k1, n), range_t(k0, k1));   // (n-k1) x (w/2)
  auto A22 = Kokkos::subview(A, range_t(k1, n), range_t(k1, k2));   // (n-k1) x (w - w/2)
  trsm_left(space, "L", "U", L11, A12);
  gemm_nn(space, -1.0, L21, A12, 1.0, A22);
  factor_panel(space, A, piv, best, k1, k2 - k1);
  laswp(space, A, piv, k1, k2, k0, k1);
}

// max_ij |A_ij| (one flat index, so consecutive work items read consecutive memory).
template <class ExecSpace, class AV>
double max_abs(ExecSpace const& space, AV const& A) {
  const std::int64_t m = static_cast<std::int64_t>(A.extent(0));
  const std::int64_t total = m * static_cast<std::int64_t>(A.extent(1));
  double amax = 0.0;
  if (total == 0) return amax;
  Kokkos::parallel_reduce(
      "numlab::lu::max_abs", Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, total),
      KOKKOS_LAMBDA(const std::int64_t t, double& v) {
        const double a = kx::abs(A(t % m, t / m));
        if (a > v) v = a;
      },
      Kokkos::Max<double>(amax));
  return amax;
}

// Numerical-singularity rule, applied to our U and to the reference's U alike:
//   pivot k is zero  <=>  |u_kk| <= n * eps * max_ij |A_ij|   (A before factorization).
// Backward-stable LU computes the exact factors of A + E with |E| of order n*eps*|A| (times the
// growth factor), so a pivot below that level is indistinguishable from zero: exactly singular
// matrices usually leave such a rounding-level pivot rather than an exact 0. A NaN pivot counts.
inline double singular_threshold(int n, double amax) {
  return static_cast<double>(n) * std::numeric_limits<double>::epsilon() * amax;
}

// First k with a (numerically) zero pivot, or -1.
template <class ExecSpace, class AV>
int first_zero_pivot(ExecSpace const& space, AV const& LU, double threshold) {
  const int n = static_cast<int>(std::min(LU.extent(0), LU.extent(1)));
  if (n == 0) return -1;
  int first = n;
  Kokkos::parallel_reduce(
      "numlab::lu::zero_pivot", Kokkos::RangePolicy<ExecSpace>(space, 0, n),
      KOKKOS_LAMBDA(const int k, int& v) {
        if (!(kx::abs(LU(k, k)) > threshold) && k < v) v = k;
      },
      Kokkos::Min<int>(first));
  return first < n ? first : -1;
}

}  // namespace numlab::linsolve::detail
