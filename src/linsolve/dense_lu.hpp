// SPDX-License-Identifier: MIT
// Dense Gaussian elimination with partial pivoting (PA = LU), Kokkos-parallel and blocked, with
// the BLAS-3 work in Kokkos Kernels (BLAS TPL on the host, cuBLAS on CUDA).
#pragma once

#include "core/kokkos_ext/compat.hpp"
#include "linsolve/csr.hpp"
#include "linsolve/detail/dense_lu_impl.hpp"
#include "linsolve/solve_status.hpp"

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <stdexcept>

namespace numlab::linsolve {

struct LuResult {
  SolveStatus status = SolveStatus::solved;
  int zero_pivot = -1;  // first column whose pivot is (numerically) zero, see detail::singular_threshold
};

// Automatic panel width of lu_factor: the whole matrix as one recursive panel (pure dgetrf2
// recursion) up to n = 512, then panels of 512 columns. Measured on the 2-core OpenBLAS host at
// n = 1000..4000: 512 beats 64..256 by 10-25% (the trailing gemm's inner dimension reaches the
// BLAS's K blocking, and fewer panels mean fewer row-swap passes over the trailing matrix) and
// is on par with or ~5% ahead of the pure recursion.
inline int lu_default_block_size(int n) { return std::clamp(n, 1, 512); }

// A := L\U in place with partial pivoting (PA = LU, L unit lower, U upper). piv[k] is the row
// swapped with row k at step k (0-based, LAPACK ipiv semantics). block_size 0 picks
// lu_default_block_size(n). Right-looking blocked LU: each panel is factored recursively
// (detail::factor_panel), its interchanges applied to the other columns, U12 by trsm and the
// trailing update by gemm. A singular matrix is factored to the end (no NaN from a zero pivot)
// and reported as singular with the first zero pivot.
template <class ExecSpace>
LuResult lu_factor(ExecSpace const& space, DenseMatrix<ExecSpace> A,
                   Kokkos::View<int*, typename ExecSpace::memory_space> piv, int block_size = 0) {
  const int n = static_cast<int>(A.extent(0));
  if (A.extent(1) != A.extent(0) || piv.extent(0) < A.extent(0))
    throw std::invalid_argument("numlab::linsolve::lu_factor: A must be square and piv hold n entries");
  if (n == 0) return {};
  const int nb = std::clamp(block_size > 0 ? block_size : lu_default_block_size(n), 1, n);
  const double threshold = detail::singular_threshold(n, detail::max_abs(space, A));

  using range_t = detail::range_t;
  detail::PivotSlot<ExecSpace> best("numlab::lu::pivot");
  for (int k = 0; k < n; k += nb) {
    const int k2 = std::min(k + nb, n);
    detail::factor_panel(space, A, piv, best, k, k2 - k);
    detail::laswp(space, A, piv, k, k2, k2, n);  // the trailing matrix follows the interchanges
    if (k2 < n) {
      auto L11 = Kokkos::subview(A, range_t(k, k2), range_t(k, k2));  // nb x nb, unit lower
      auto A12 = Kokkos::subview(A, range_t(k, k2), range_t(k2, n));  // nb x (n-k2) -> U12
      auto L21 = Kokkos::subview(A, range_t(k2, n), range_t(k, k2));  // (n-k2) x nb
      auto A22 = Kokkos::subview(A, range_t(k2, n), range_t(k2, n));  // (n-k2) x (n-k2)
      detail::trsm_left(space, "L", "U", L11, A12);
      detail::gemm_nn(space, -1.0, L21, A12, 1.0, A22);
    }
  }
  detail::laswp_deferred_lower(space, A, piv, nb);

  LuResult r;
  r.zero_pivot = detail::first_zero_pivot(space, A, threshold);
  if (r.zero_pivot >= 0) r.status = SolveStatus::singular;
  return r;
}

// Solves A x = b with the factors of lu_factor: x holds b on entry, the solution on exit.
// Row interchanges, then L y = Pb (unit lower) and U x = y by trsm. Meaningless (inf/NaN, no
// crash) when lu_factor reported singular.
template <class ExecSpace>
void lu_solve(ExecSpace const& space, DenseMatrix<ExecSpace> LU,
              Kokkos::View<const int*, typename ExecSpace::memory_space> piv, Vector<ExecSpace> x) {
  const int n = static_cast<int>(LU.extent(0));
  if (LU.extent(1) != LU.extent(0) || piv.extent(0) < LU.extent(0) || x.extent(0) != LU.extent(0))
    throw std::invalid_argument("numlab::linsolve::lu_solve: dimensions of LU, piv and x do not match");
  if (n == 0) return;
  // The interchanges are a sequential chain: one work item walks them (n swaps, negligible).
  Kokkos::parallel_for(
      "numlab::lu::solve_laswp", Kokkos::RangePolicy<ExecSpace>(space, 0, 1), KOKKOS_LAMBDA(const int) {
        for (int k = 0; k < n; ++k) {
          const int p = piv(k);
          if (p != k) {
            const double t = x(k);
            x(k) = x(p);
            x(p) = t;
          }
        }
      });
  // x as an n x 1 LayoutLeft matrix, so the triangular solves go to the BLAS TPL.
  Kokkos::View<double**, Kokkos::LayoutLeft, typename Vector<ExecSpace>::device_type,
               Kokkos::MemoryTraits<Kokkos::Unmanaged>>
      X(x.data(), x.extent(0), 1);
  detail::trsm_left(space, "L", "U", LU, X);
  detail::trsm_left(space, "U", "N", LU, X);
}

// Dense copy of a CSR matrix, one row per work item; duplicate entries are summed.
template <class ExecSpace>
DenseMatrix<ExecSpace> densify(ExecSpace const& space, Csr<ExecSpace> const& A) {
  DenseMatrix<ExecSpace> D("numlab::dense", A.numRows(), A.numCols());  // zero-filled
  auto row_map = A.graph.row_map;
  auto entries = A.graph.entries;
  auto values = A.values;
  Kokkos::parallel_for(
      "numlab::densify", Kokkos::RangePolicy<ExecSpace>(space, 0, A.numRows()), KOKKOS_LAMBDA(const int i) {
        for (auto p = row_map(i); p < row_map(i + 1); ++p) D(i, entries(p)) += values(p);
      });
  return D;
}

}  // namespace numlab::linsolve
