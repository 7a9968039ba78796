// SPDX-License-Identifier: MIT
// Dense Gaussian elimination with partial pivoting (PA = LU), Kokkos-parallel and blocked, with
// the BLAS-3 work in Kokkos Kernels (BLAS TPL on the host, cuBLAS on CUDA).
#pragma once

#include "core/kokkos_ext/compat.hpp"
#include "linsolve/csr.hpp"
#include "linsolve/detail/dense_lu_impl.hpp"
#include "linsolve/detail/low_precision.hpp"
#include "linsolve/solve_status.hpp"

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <type_traits>

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

using detail::LuPanelKernel;

// Tuning of lu_factor; zeros (and `automatic`) pick per execution space.
struct LuOptions {
  int block_size = 0;  // outer panel width; 0: lu_default_block_size(n)
  int leaf_width = 0;  // panel width that ends the recursion; 0: 8 on the host, 32 on a GPU
  LuPanelKernel panel_kernel = LuPanelKernel::automatic;
  int team_rows = 0;  // fused kernel: rows per team (then as many teams as that takes); 0: automatic
  int team_size = 0;  // threads per team of the fused and team kernels; 0: automatic
  bool gpu_code = false;  // tests: the GPU code path of the fused/team kernels on a host backend too
  // Mixed precision: a float matrix stored in a 16-bit format (detail::round_block after every
  // step's panel, U12 and trailing update; float32/float64: nothing), and its singularity rule.
  FactorPrecision storage = FactorPrecision::float64;
  // The singularity rule's eps (see detail::singular_threshold); < 0: T's or the storage format's.
  // 0: only exact zero (or NaN) pivots, for mixed precision, where n eps_low max|a| exceeds real
  // pivots (n u_bf16 > 1 at n = 256) and the refinement tells whether the factors serve.
  double zero_pivot_eps = -1;
};

// The execution space the dense LU of ExecSpace's data runs on: Serial for a multi-threaded host
// backend (OpenMP, Threads) where Serial is enabled, ExecSpace otherwise. On the host the LU's flops
// are in gemm/trsm, which the BLAS library threads itself; the panel and interchange kernels between
// those calls are short, and every parallel region of the host backend wakes its thread pool, whose
// threads then take the cores from the BLAS's own threads (2-core host, OpenMP pool of 2, OpenBLAS
// pthreads: the LU at N = 100 took 4x its one-thread time). LAPACK's dgetrf works the same way:
// sequential panel code, threaded BLAS.
#ifdef KOKKOS_ENABLE_SERIAL
template <class ExecSpace>
using lu_space_t = std::conditional_t<detail::is_host_space_v<ExecSpace>, Kokkos::Serial, ExecSpace>;
#else
template <class ExecSpace>
using lu_space_t = ExecSpace;
#endif

// Automatic on a GPU: the team kernel for leaves of at most this many rows, the fused one above.
inline constexpr int lu_team_max_rows = 1024;

// The panel kernels lu_factor runs for n x n with `o` on ExecSpace (the automatic choices below;
// on a GPU the leaves at row k0 run team when n - k0 <= lu_team_max_rows, fused before that).
template <class ExecSpace>
char const* lu_panel_kernel_name(int n, LuOptions const& o) {
  if (o.panel_kernel != LuPanelKernel::automatic) return to_string(o.panel_kernel);
  if (detail::is_host_space_v<ExecSpace> || n <= lu_team_max_rows) return "team";
  return "fused_then_team";
}

// The automatic choices. Host (Serial/OpenMP): the team kernel with one thread (no fork-join per
// pivot step; the leaf's few flops need no parallelism) and leaves of 8 columns. GPU: leaves of
// 32 columns; the fused kernel (one launch per column, rows spread over many SMs) while the leaf
// is taller than 1024 rows, below that the team kernel (one launch per leaf; one SM streams such a
// leaf faster than a launch per column costs).
template <class ExecSpace>
detail::PanelWork<ExecSpace> lu_panel_work(int n, LuOptions const& o) {
  detail::PanelWork<ExecSpace> w;
  constexpr bool host = detail::is_host_space_v<ExecSpace>;
  w.leaf_width = std::max(1, o.leaf_width > 0 ? o.leaf_width : (host ? detail::lu_leaf_width : 32));
  w.kernel = o.panel_kernel;
  if (host && w.kernel == LuPanelKernel::automatic) w.kernel = LuPanelKernel::team;
  w.team_max_rows = lu_team_max_rows;
  if (host) {
    w.fused_team_size = 1;
    w.fused_rows_per_team = 64;
    w.fused_max_teams = std::max(1, static_cast<int>(ExecSpace().concurrency()));
    w.team_team_size = 1;
  } else {
    w.fused_team_size = 128;
    w.fused_rows_per_team = 128;  // one row per thread: a step's row is one coalesced column access
    w.fused_max_teams = std::numeric_limits<int>::max();
    w.team_team_size = 512;
  }
  if (o.team_rows > 0) {
    w.fused_rows_per_team = o.team_rows;
    w.fused_max_teams = std::numeric_limits<int>::max();
  }
  if (o.team_size > 0) w.fused_team_size = w.team_team_size = o.team_size;
  if (o.gpu_code) w.gpu_code = true;
  if (w.kernel == LuPanelKernel::per_column) {
    w.best = detail::PivotSlot<ExecSpace>("numlab::lu::pivot");
  } else {
    const int teams = std::min((n + w.fused_rows_per_team - 1) / w.fused_rows_per_team, w.fused_max_teams);
    w.partial = Kokkos::View<detail::PivotCandidate*, typename ExecSpace::memory_space>("numlab::lu::partial",
                                                                                        std::max(1, teams));
    w.ticket = Kokkos::View<int, typename ExecSpace::memory_space>("numlab::lu::ticket");
  }
  return w;
}

// A := L\U in place with partial pivoting (PA = LU, L unit lower, U upper). piv[k] is the row
// swapped with row k at step k (0-based, LAPACK ipiv semantics). Right-looking blocked LU: each
// panel is factored recursively (detail::factor_panel; leaves by the kernel of
// opt.panel_kernel), its interchanges applied to the other columns, U12 by trsm and the trailing
// update by gemm. A singular matrix is factored to the end (no NaN from a zero pivot) and
// reported as singular with the first zero pivot.
//
// Launches at n = 16384 on a GPU (block 512, leaf 32): 480 fused leaves x 33 (a step per column
// and a closing one) + 32 team leaves of one launch + per panel 15 (trsm, gemm) pairs of the
// recursion and one (laswp, trsm, gemm): ~17,000 in all, ~1,000 of them cuBLAS; against ~57,000
// for three launches per column with leaves of 8 and two laswp at every recursion level.
//
// Any scalar T (double for gauss_elim; float for the mixed-precision solver, optionally rounded to
// a 16-bit format: opt.storage). A zero pivot is |u_kk| <= n eps_T max|a_ij|, eps_T of T or of the
// emulated format.
template <class ExecSpace, class T>
LuResult lu_factor(ExecSpace const& space,
                   Kokkos::View<T**, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> A,
                   Kokkos::View<int*, typename ExecSpace::memory_space> piv, LuOptions const& opt) {
  const int n = static_cast<int>(A.extent(0));
  if (A.extent(1) != A.extent(0) || piv.extent(0) < A.extent(0))
    throw std::invalid_argument("numlab::linsolve::lu_factor: A must be square and piv hold n entries");
  if (n == 0) return {};
  const int nb = std::clamp(opt.block_size > 0 ? opt.block_size : lu_default_block_size(n), 1, n);
  const double eps = opt.zero_pivot_eps >= 0        ? opt.zero_pivot_eps
                     : is_emulated(opt.storage) ? 2 * unit_roundoff(opt.storage)
                                                : double(std::numeric_limits<T>::epsilon());
  const double threshold = detail::singular_threshold(n, detail::max_abs(space, A), eps);
  const auto work = lu_panel_work<ExecSpace>(n, opt);

  using range_t = detail::range_t;
  for (int k = 0; k < n; k += nb) {
    const int k2 = std::min(k + nb, n);
    detail::factor_panel(space, A, piv, work, k, k2 - k, k, k2);
    detail::round_block(space, Kokkos::subview(A, range_t(k, n), range_t(k, k2)), opt.storage);
    detail::laswp(space, A, piv, k, k2, k2, n);  // the trailing matrix follows the interchanges
    if (k2 < n) {
      auto L11 = Kokkos::subview(A, range_t(k, k2), range_t(k, k2));  // nb x nb, unit lower
      auto A12 = Kokkos::subview(A, range_t(k, k2), range_t(k2, n));  // nb x (n-k2) -> U12
      auto L21 = Kokkos::subview(A, range_t(k2, n), range_t(k, k2));  // (n-k2) x nb
      auto A22 = Kokkos::subview(A, range_t(k2, n), range_t(k2, n));  // (n-k2) x (n-k2)
      detail::trsm_left(space, "L", "U", L11, A12);
      detail::gemm_nn(space, -1.0, L21, A12, 1.0, A22);
      detail::round_block(space, A12, opt.storage);
      detail::round_block(space, A22, opt.storage);
    }
  }
  detail::laswp_deferred_lower(space, A, piv, nb);

  LuResult r;
  r.zero_pivot = detail::first_zero_pivot(space, A, threshold);
  if (r.zero_pivot >= 0) r.status = SolveStatus::singular;
  return r;
}

// block_size 0 picks lu_default_block_size(n); everything else automatic.
template <class ExecSpace, class T>
LuResult lu_factor(ExecSpace const& space,
                   Kokkos::View<T**, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> A,
                   Kokkos::View<int*, typename ExecSpace::memory_space> piv, int block_size = 0) {
  LuOptions o;
  o.block_size = block_size;
  return lu_factor(space, A, piv, o);
}

// Solves A x = b with the factors of lu_factor: x holds b on entry, the solution on exit.
// Row interchanges, then L y = Pb (unit lower) and U x = y by trsm. Meaningless (inf/NaN, no
// crash) when lu_factor reported singular.
template <class ExecSpace, class T>
void lu_solve(ExecSpace const& space,
              Kokkos::View<T**, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> LU,
              Kokkos::View<const int*, typename ExecSpace::memory_space> piv,
              Kokkos::View<T*, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> x) {
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
            const T t = x(k);
            x(k) = x(p);
            x(p) = t;
          }
        }
      });
  // x as an n x 1 LayoutLeft matrix, so the triangular solves go to the BLAS TPL.
  Kokkos::View<T**, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>,
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
