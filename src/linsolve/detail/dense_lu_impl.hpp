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

// Brings the interchanges of later panels to the L columns of earlier ones, deferred to the end
// (no step reads those columns again), so each column streams through memory once instead of
// once per panel: column j (in panel j/nb) gets piv[(j/nb+1)*nb .. n).
template <class ExecSpace, class AV, class PivView>
void laswp_deferred_lower(ExecSpace const& space, AV const& A, PivView const& piv, int nb) {
  const int n = static_cast<int>(A.extent(0));
  const int last_panel = (n - 1) / nb * nb;  // its columns have nothing left to apply
  if (last_panel == 0) return;
  Kokkos::parallel_for(
      "numlab::lu::laswp_lower", Kokkos::RangePolicy<ExecSpace>(space, 0, last_panel), KOKKOS_LAMBDA(const int j) {
        for (int k = (j / nb + 1) * nb; k < n; ++k) {
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

// Panels this narrow end the recursion: below it trsm/gemm calls are too small to pay for
// themselves (a BLAS or cuBLAS call per 1-2 columns), and the unblocked kernels' flops,
// about n^2/2 * leaf width in all, are a negligible share of the 2/3 n^3.
inline constexpr int lu_leaf_width = 8;

// Unblocked LU (LAPACK dgetf2) of the leaf A(k0:n, k0:k0+w): per column c, pivot search, row
// interchange within the leaf's columns only (the callers swap the other columns), multipliers
// and the rank-1 update of the leaf's remaining columns. A zero pivot (whole column zero) skips
// the division: no NaN, and the singularity test reports it.
template <class ExecSpace, class AV, class PivView>
void factor_leaf(ExecSpace const& space, AV const& A, PivView const& piv, PivotSlot<ExecSpace> const& best,
                 int k0, int w) {
  const int n = static_cast<int>(A.extent(0));
  const int k2 = k0 + w;
  using value_type = typename PivotReducer<ExecSpace>::value_type;
  for (int c = k0; c < k2; ++c) {
    Kokkos::parallel_reduce(
        "numlab::lu::pivot_search", Kokkos::RangePolicy<ExecSpace>(space, c, n),
        KOKKOS_LAMBDA(const int i, value_type& m) {
          const double v = kx::abs(A(i, c));
          if (v > m.val) {
            m.val = v;
            m.loc = i;
          }
        },
        PivotReducer<ExecSpace>(best));
    Kokkos::parallel_for(
        "numlab::lu::pivot_swap", Kokkos::RangePolicy<ExecSpace>(space, 0, 1), KOKKOS_LAMBDA(const int) {
          int p = best().loc;
          if (p < c || p >= n) p = c;  // an all-NaN column leaves the identity location
          piv(c) = p;
          if (p == c) return;
          for (int j = k0; j < k2; ++j) {
            const double t = A(c, j);
            A(c, j) = A(p, j);
            A(p, j) = t;
          }
        });
    Kokkos::parallel_for(
        "numlab::lu::eliminate", Kokkos::RangePolicy<ExecSpace>(space, c + 1, n), KOKKOS_LAMBDA(const int i) {
          const double d = A(c, c);
          if (d == 0.0) return;
          const double l = A(i, c) / d;
          A(i, c) = l;
          for (int j = c + 1; j < k2; ++j) A(i, j) -= l * A(c, j);
        });
  }
}

// Recursive LU of the panel A(k0:n, k0:k0+w) as LAPACK dgetrf2: factor the left half, bring its
// interchanges to the right half, U12 by trsm, A22 -= L21*U12 by gemm, factor the right half,
// bring its interchanges back to L21. Nearly all flops of the panel land in trsm/gemm; pivots
// are absolute row indices.
template <class ExecSpace, class AV, class PivView>
void factor_panel(ExecSpace const& space, AV const& A, PivView const& piv, PivotSlot<ExecSpace> const& best,
                  int k0, int w) {
  if (w <= lu_leaf_width) {
    factor_leaf(space, A, piv, best, k0, w);
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

// max_ij |A_ij|; the 2-D range iterates rows fastest (LayoutLeft: contiguous, coalesced on GPUs).
template <class ExecSpace, class AV>
double max_abs(ExecSpace const& space, AV const& A) {
  double amax = 0.0;
  if (A.extent(0) == 0 || A.extent(1) == 0) return amax;
  using policy_t = Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2, Kokkos::Iterate::Left, Kokkos::Iterate::Left>>;
  Kokkos::parallel_reduce(
      "numlab::lu::max_abs",
      policy_t(space, {0, 0}, {static_cast<std::int64_t>(A.extent(0)), static_cast<std::int64_t>(A.extent(1))}),
      KOKKOS_LAMBDA(const std::int64_t i, const std::int64_t j, double& v) {
        const double a = kx::abs(A(i, j));
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
