// SPDX-License-Identifier: MIT
// Dense Gaussian elimination with partial pivoting (PA = LU), Kokkos-parallel and blocked, with
// the BLAS-3 work in Kokkos Kernels (BLAS TPL on the host, cuBLAS on CUDA).
#pragma once

#include "core/kokkos_ext/compat.hpp"
#include "linsolve/csr.hpp"
#include "linsolve/detail/dense_lu_impl.hpp"
#include "linsolve/detail/lu_nopivot.hpp"
#include "linsolve/detail/lu_streams.hpp"
#include "linsolve/detail/lu_swap_plan.hpp"
#include "linsolve/detail/low_precision.hpp"
#include "linsolve/solve_status.hpp"

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <chrono>
#include <utility>
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

// The outer panel width lu_factor uses on ExecSpace: `requested` if > 0, else the host's
// lu_default_block_size and on a GPU panels of 256 (lu_bench mode=time on an H200, widths 128 to
// 2048: 256 best or within 1% of it at N = 2000, 8192, 16384, 13.7 / 64.1 / 186.4 ms against
// 14.7 / 66.3 / 188.6 ms with 512: results/reference/gpu-h200-block-local/lu_scan_block.txt).
template <class ExecSpace>
int lu_block_size(int n, int requested) {
  if (requested > 0) return std::clamp(requested, 1, std::max(1, n));
  return detail::is_host_space_v<ExecSpace> ? lu_default_block_size(n) : std::clamp(n, 1, 256);
}

using detail::LuPanelKernel;

// Where lu_factor's time goes, each phase fenced (LuOptions::phases).
struct LuPhaseTimes {
  double panel = 0;        // the recursive panels (leaf kernels, their trsm/gemm)
  double leaves = 0;       // of which the leaf kernels
  double plans = 0;        // swap plans worked out (GPU)
  double swaps = 0;        // interchanges of the trailing matrix (plans applied, or dlaswp)
  double trsm = 0;         // U12
  double gemm = 0;         // trailing updates
  double lower_swaps = 0;  // deferred interchanges of L
};

// Tuning of lu_factor; zeros (and `automatic`) pick per execution space.
struct LuOptions {
  int block_size = 0;  // outer panel width; 0: lu_block_size's automatic width
  int leaf_width = 0;  // panel width that ends the recursion; 0: 8 on the host, 32 on a GPU
  LuPanelKernel panel_kernel = LuPanelKernel::automatic;
  int team_rows = 0;  // fused kernel: rows per team (then as many teams as that takes); persistent: rows
                      // per team at least; tournament: rows per group of round 1; 0: automatic
  int team_size = 0;  // threads per team of the fused and team kernels; 0: automatic
  bool gpu_code = false;  // tests: the GPU code path of the fused/team kernels on a host backend too
  // Mixed precision: a float matrix stored in a 16-bit format (detail::round_block after every
  // step's panel, U12 and trailing update; float32/float64: nothing), and its singularity rule.
  FactorPrecision storage = FactorPrecision::float64;
  // The singularity rule's eps (see detail::singular_threshold); < 0: T's or the storage format's.
  // 0: only exact zero (or NaN) pivots, for mixed precision, where n eps_low max|a| exceeds real
  // pivots (n u_bf16 > 1 at n = 256) and the refinement tells whether the factors serve.
  double zero_pivot_eps = -1;
  // Factor the next panel on a second stream under the trailing update (CUDA; elsewhere no effect).
  bool lookahead = true;
  // When set: fence after every phase and add its time here (no look-ahead), for bench/kernels/dense_lu.
  LuPhaseTimes* phases = nullptr;
};


namespace detail {

// The singularity rule's threshold for A before factorisation (see singular_threshold): eps is
// opt.zero_pivot_eps, else the emulated storage format's, else T's.
template <class T, class ExecSpace, class AV>
double zero_pivot_threshold(ExecSpace const& space, AV const& A, LuOptions const& opt) {
  const double eps = opt.zero_pivot_eps >= 0     ? opt.zero_pivot_eps
                     : is_emulated(opt.storage) ? 2 * unit_roundoff(opt.storage)
                                                : double(std::numeric_limits<T>::epsilon());
  return singular_threshold(static_cast<int>(A.extent(0)), max_abs(space, A), eps);
}

// The factorisation's outcome: singular at the first pivot at or below the threshold.
template <class ExecSpace, class AV>
LuResult factors_result(ExecSpace const& space, AV const& A, double threshold) {
  LuResult r;
  r.zero_pivot = first_zero_pivot(space, A, threshold);
  if (r.zero_pivot >= 0) r.status = SolveStatus::singular;
  return r;
}

// The L columns of every panel of nb follow the interchanges of the panels after it, deferred to
// the end (no step reads them again): each column streams through memory once per later panel.
// By the panels' swap plans where they were built, else dlaswp's loop.
template <class ExecSpace, class AV, class PivView>
void deferred_lower_swaps(ExecSpace const& space, SwapPlans<typename ExecSpace::memory_space> const* plans,
                          AV const& A, PivView const& piv, int nb) {
  const int n = static_cast<int>(A.extent(0));
  if (plans) {
    for (int p = 1; p * nb < n; ++p) swap_plan_apply(space, *plans, p, A, 0, p * nb);
  } else {
    laswp_deferred_lower(space, A, piv, nb);
  }
}

}  // namespace detail

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

// Automatic on a GPU: the team kernel for leaves of at most this many rows, the persistent one
// above (the fused one beyond the persistent kernel's reach).
inline constexpr int lu_team_max_rows = 1024;

// The persistent kernel's teams must all be resident at once: on a GPU one team per SM (a team
// asks for little: 128 threads and at most 40,000 bytes of scratch, so an SM holds one whatever
// the kernel's registers, which an occupancy query through Kokkos cannot see; concurrency() is
// 2048 threads per SM), on the host one per thread. Blocks of a look-ahead GEMM on the other
// stream may hold SMs first, but they never wait for the leaf: they retire and the remaining
// teams are then scheduled, so the teams' barrier waits, it cannot deadlock.
template <class ExecSpace>
int lu_persistent_max_teams(int team_size) {
  const int concurrency = std::max(1, static_cast<int>(ExecSpace().concurrency()));
  return std::max(1, detail::is_host_space_v<ExecSpace> ? concurrency / std::max(1, team_size) : concurrency / 2048);
}

// The tallest leaf (rows) of width leaf_width the persistent kernel holds: teams x the rows
// whose fp64 copy fits one team's scratch.
template <class ExecSpace>
int lu_persistent_max_rows(int leaf_width, int max_teams) {
  using MS = typename ExecSpace::memory_space;
  using F = detail::LeafPersistent<ExecSpace, Kokkos::View<double**, Kokkos::LayoutLeft, MS>, Kokkos::View<int*, MS>>;
  // Kokkos 4.6 on an H200 reports more level-0 scratch than a launch of 128 threads accepts
  // (64 KiB per team was refused with "insufficient shared memory"); 40,000 bytes launch.
  constexpr std::size_t gpu_scratch_cap = 40000;
  std::size_t cap = Kokkos::TeamPolicy<ExecSpace>(1, 1).scratch_size_max(0);
  if (!detail::is_host_space_v<ExecSpace>) cap = std::min(cap, gpu_scratch_cap);
  const std::size_t fixed = F::scratch_bytes(0, leaf_width);
  long long rows = cap > fixed ? static_cast<long long>((cap - fixed) / (sizeof(double) * std::max(1, leaf_width))) : 0;
  rows = std::min<long long>(rows, 1 << 24) / 32 * 32;
  while (rows > 0 && F::scratch_bytes(static_cast<int>(rows), leaf_width) > cap) rows -= 32;  // alignment padding
  return static_cast<int>(std::min<long long>(rows * max_teams, std::numeric_limits<int>::max()));
}

// The panel kernels lu_factor runs for n x n with `o` on ExecSpace (the automatic choices below;
// on a GPU the leaves at row k0 run team when n - k0 <= lu_team_max_rows, persistent above that,
// fused where the leaf is taller than the persistent kernel holds).
template <class ExecSpace>
char const* lu_panel_kernel_name(int n, LuOptions const& o) {
  const int leaf = o.leaf_width > 0 ? o.leaf_width : (detail::is_host_space_v<ExecSpace> ? 8 : 32);
  const int team_size = o.team_size > 0 ? o.team_size : (detail::is_host_space_v<ExecSpace> ? 1 : 128);
  const int teams = lu_persistent_max_teams<ExecSpace>(team_size);
  const bool persistent_holds = n <= lu_persistent_max_rows<ExecSpace>(leaf, teams);
  // An explicit persistent choice runs fused for leaves taller than its resident teams hold (and
  // inside an OpenMP parallel region, where no point is recorded: the driver never calls from one).
  if (o.panel_kernel == LuPanelKernel::persistent) return persistent_holds ? "persistent" : "fused_persistent";
  if (o.panel_kernel != LuPanelKernel::automatic) return to_string(o.panel_kernel);
  if (detail::is_host_space_v<ExecSpace> || n <= lu_team_max_rows) return "team";
  return persistent_holds ? "persistent_then_team" : "fused_persistent_team";
}

// The automatic choices. Host (Serial/OpenMP): the team kernel with one thread (no fork-join per
// pivot step; the leaf's few flops need no parallelism) and leaves of 8 columns. GPU: leaves of
// 32 columns; the persistent kernel (one launch per leaf, rows spread over the SMs, a grid
// barrier per column) while the leaf is taller than 1024 rows, the fused one (a launch per
// column) for leaves taller than the persistent kernel's resident teams hold, and below 1024 rows
// the team kernel (one launch per leaf; one SM streams such a leaf faster than grid steps cost).
// value_bytes: the matrix's scalar (the tournament's scratch rows).
template <class ExecSpace>
detail::PanelWork<ExecSpace> lu_panel_work(int n, LuOptions const& o, std::size_t value_bytes = sizeof(double)) {
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
  w.persistent_team_size = host ? 1 : 128;
  w.persistent_min_rows = host ? 64 : 128;
  if (o.team_rows > 0) w.persistent_min_rows = o.team_rows;
  if (o.team_size > 0) w.persistent_team_size = o.team_size;
  w.persistent_max_teams = lu_persistent_max_teams<ExecSpace>(w.persistent_team_size);
  w.persistent_max_rows = lu_persistent_max_rows<ExecSpace>(w.leaf_width, w.persistent_max_teams);
  // The host's automatic choice is team (above), so there the exchange exists only when asked for.
  if (w.kernel == LuPanelKernel::persistent || w.kernel == LuPanelKernel::automatic) {
    const int t = w.persistent_max_teams;
    w.pslot = decltype(w.pslot)("numlab::lu::persistent_slot", 2, t);
    w.pcand_row = decltype(w.pcand_row)("numlab::lu::persistent_cand_row", 2, t, w.leaf_width);
    w.prow_c = decltype(w.prow_c)("numlab::lu::persistent_row_c", 2, w.leaf_width);
  }
  if (w.kernel == LuPanelKernel::tournament)
    w.tournament = detail::tournament_work<typename ExecSpace::memory_space>(n, w.leaf_width, o.team_rows, o.team_size,
                                                                             value_bytes);
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
// Launches at n = 16384 on a GPU (block 256, leaf 32): 512 leaves of one launch each (persistent,
// team for the last 1024 rows) + per panel 7 (trsm, gemm) pairs of the recursion and one (swap
// plan, trsm, gemm): ~1,600 in all, ~1,000 of them cuBLAS (block 512: as many). With the fused kernel's launch per column
// it was ~17,000, with three launches per column and leaves of 8 ~57,000.
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
  const int nb = lu_block_size<ExecSpace>(n, opt.block_size);
  const double threshold = detail::zero_pivot_threshold<T>(space, A, opt);
  auto work = lu_panel_work<ExecSpace>(n, opt, sizeof(T));
  if (opt.phases) work.leaf_seconds = &opt.phases->leaves;

  // GPU: each panel's interchanges as a gather plan (detail/lu_swap_plan.hpp); host: dlaswp's loop.
  const bool plans_on = work.gpu_code && nb <= detail::swap_plan_max_nb;
  const int panels = (n + nb - 1) / nb;
  detail::SwapPlans<typename ExecSpace::memory_space> plans;
  if (plans_on) plans = detail::SwapPlans<typename ExecSpace::memory_space>(panels, nb);

  // Look-ahead: the next panel is factored on a second stream while the rest of the trailing
  // update runs (detail/lu_streams.hpp; one stream in program order on host backends). Timing the
  // phases fences after each of them, on the caller's space, without overlap.
  LuPhaseTimes* const ph = opt.phases;
  const auto st = detail::lu_streams(space, opt.lookahead && ph == nullptr);
  ExecSpace const& M = st.main;
  ExecSpace const& S = st.side;
  detail::stream_wait(st, M, space);
  auto phase = [&](double LuPhaseTimes::*field, auto&& f) {
    if (!ph) return f();
    space.fence();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    space.fence();
    ph->*field += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  using range_t = detail::range_t;
  auto factor = [&](ExecSpace const& x, int k) {
    const int k2 = std::min(k + nb, n);
    detail::factor_panel(x, A, piv, work, k, k2 - k, k, k2);
    detail::round_block(x, Kokkos::subview(A, range_t(k, n), range_t(k, k2)), opt.storage);
  };
  // Columns [c0, c1) follow the interchanges of panel k, get their rows of U (trsm) and the
  // panel's rank-nb update (gemm).
  auto update = [&](ExecSpace const& x, int k, int c0, int c1) {
    if (c1 <= c0) return;
    const int k2 = std::min(k + nb, n);
    phase(&LuPhaseTimes::swaps, [&] {
      if (plans_on) detail::swap_plan_apply(x, plans, k / nb, A, c0, c1);
      else detail::laswp(x, A, piv, k, k2, c0, c1);
    });
    auto L11 = Kokkos::subview(A, range_t(k, k2), range_t(k, k2));    // nb x nb, unit lower
    auto A12 = Kokkos::subview(A, range_t(k, k2), range_t(c0, c1));   // -> U12
    auto L21 = Kokkos::subview(A, range_t(k2, n), range_t(k, k2));    // (n-k2) x nb
    auto A22 = Kokkos::subview(A, range_t(k2, n), range_t(c0, c1));
    phase(&LuPhaseTimes::trsm, [&] { detail::trsm_left(x, "L", "U", L11, A12); });
    phase(&LuPhaseTimes::gemm, [&] { detail::gemm_nn(x, -1.0, L21, A12, 1.0, A22); });
    detail::round_block(x, A12, opt.storage);
    detail::round_block(x, A22, opt.storage);
  };

  phase(&LuPhaseTimes::panel, [&] { factor(M, 0); });
  for (int k = 0; k < n; k += nb) {
    const int k2 = std::min(k + nb, n);
    const int k3 = std::min(k2 + nb, n);
    if (plans_on) phase(&LuPhaseTimes::plans, [&] { detail::swap_plan_build(M, plans, k / nb, piv, k, k2); });
    update(M, k, k2, k3);  // the next panel's columns first,
    if (k2 < n) {          // which then factor on the side stream
      detail::stream_wait(st, S, M);
      phase(&LuPhaseTimes::panel, [&] { factor(S, k2); });
    }
    update(M, k, k3, n);  // while the rest of the update runs here
    if (k2 < n) detail::stream_wait(st, M, S);  // the next step needs that panel's pivots
  }
  phase(&LuPhaseTimes::lower_swaps, [&] { detail::deferred_lower_swaps(M, plans_on ? &plans : nullptr, A, piv, nb); });
  detail::stream_wait(st, space, M);

  return detail::factors_result(space, A, threshold);
}

// A := L\U in place WITHOUT pivoting (A = LU; detail/lu_nopivot.hpp): for a matrix made safe for it
// (a random butterfly transformation, linsolve/butterfly.hpp), never for gauss_elim. Blocks of
// opt.block_size columns (0: lu_block_size's automatic width); the leaves' width is
// detail::lu_nopivot_leaf, opt's panel options do not apply. Zero pivots as lu_factor reports them.
template <class ExecSpace, class T>
LuResult lu_factor_unpivoted(ExecSpace const& space,
                             Kokkos::View<T**, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> A,
                             LuOptions const& opt) {
  const int n = static_cast<int>(A.extent(0));
  if (A.extent(1) != A.extent(0)) throw std::invalid_argument("numlab::linsolve::lu_factor_unpivoted: A must be square");
  if (n == 0) return {};
  const int nb = lu_block_size<ExecSpace>(n, opt.block_size);
  const double threshold = detail::zero_pivot_threshold<T>(space, A, opt);
  detail::lu_factor_nopivot(space, A, nb, opt.storage);
  return detail::factors_result(space, A, threshold);
}

// PA = LU with the interchanges restricted to each diagonal block of opt.block_size rows (0:
// lu_block_size's automatic width): P is block diagonal, piv[k] stays inside k's block. Per block the
// diagonal block is factored with partial pivoting among its own rows (lu_factor, opt's panel
// options), its interchanges are applied to the rest of its rows, then L21 = A21 U11^-1 and U12 by
// trsm and the trailing update by gemm: no pivot search below the block, so no tall panel. Less
// stable than partial pivoting (|l_ij| is not bounded by 1 below the block), far more than none;
// for the mixed-precision solver, after a random butterfly transformation (measured at n = 2048,
// randsvd, float32, blocks of 512: first backward errors as partial pivoting's, 100x below none's).
template <class ExecSpace, class T>
LuResult lu_factor_block_local(ExecSpace const& space,
                               Kokkos::View<T**, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> A,
                               Kokkos::View<int*, typename ExecSpace::memory_space> piv, LuOptions const& opt) {
  using MS = typename ExecSpace::memory_space;
  using matrix_t = Kokkos::View<T**, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, MS>>;
  const int n = static_cast<int>(A.extent(0));
  if (A.extent(1) != A.extent(0) || piv.extent(0) < A.extent(0))
    throw std::invalid_argument("numlab::linsolve::lu_factor_block_local: A must be square and piv hold n entries");
  if (n == 0) return {};
  const int nb = lu_block_size<ExecSpace>(n, opt.block_size);
  const double threshold = detail::zero_pivot_threshold<T>(space, A, opt);
  const bool plans_on = (opt.gpu_code || !detail::is_host_space_v<ExecSpace>) && nb <= detail::swap_plan_max_nb;
  const int panels = (n + nb - 1) / nb;
  detail::SwapPlans<MS> plans;
  if (plans_on) plans = detail::SwapPlans<MS>(panels, nb);
  LuOptions bo = opt;  // the diagonal blocks: one recursive panel each, in program order
  bo.block_size = nb;
  bo.lookahead = false;
  bo.phases = nullptr;
  Kokkos::View<int*, MS> lpiv("numlab::lu::block_piv", nb);
  using range_t = detail::range_t;
  for (int k = 0; k < n; k += nb) {
    const int k2 = std::min(k + nb, n);
    matrix_t D = Kokkos::subview(A, range_t(k, k2), range_t(k, k2));
    lu_factor(space, D, lpiv, bo);
    Kokkos::parallel_for("numlab::lu::block_piv_offset", Kokkos::RangePolicy<ExecSpace>(space, 0, k2 - k),
                         KOKKOS_LAMBDA(const int i) { piv(k + i) = k + lpiv(i); });
    if (plans_on) detail::swap_plan_build(space, plans, k / nb, piv, k, k2);  // the last one too: for L
    if (k2 == n) break;
    if (plans_on) {
      detail::swap_plan_apply(space, plans, k / nb, A, k2, n);
    } else {
      detail::laswp(space, A, piv, k, k2, k2, n);
    }
    detail::eliminate_below_block(space, A, k, k2, n, opt.storage);  // U12 from P A12
  }
  detail::deferred_lower_swaps(space, plans_on ? &plans : nullptr, A, piv, nb);
  return detail::factors_result(space, A, threshold);
}

// block_size 0 picks lu_block_size's automatic width; everything else automatic.
template <class ExecSpace, class T>
LuResult lu_factor(ExecSpace const& space,
                   Kokkos::View<T**, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> A,
                   Kokkos::View<int*, typename ExecSpace::memory_space> piv, int block_size = 0) {
  LuOptions o;
  o.block_size = block_size;
  return lu_factor(space, A, piv, o);
}

// L U x = y for y = P b (the interchanges already applied): x overwrites y. The triangular
// solves go to the BLAS TPL (y as an n x 1 LayoutLeft matrix).
template <class ExecSpace, class T>
void lu_solve_permuted_rhs(ExecSpace const& space,
                           Kokkos::View<T**, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> LU,
                           Kokkos::View<T*, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> y) {
  if (LU.extent(1) != LU.extent(0) || y.extent(0) != LU.extent(0))
    throw std::invalid_argument("numlab::linsolve::lu_solve_permuted_rhs: dimensions of LU and y do not match");
  if (LU.extent(0) == 0) return;
  Kokkos::View<T**, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>,
               Kokkos::MemoryTraits<Kokkos::Unmanaged>>
      Y(y.data(), y.extent(0), 1);
  detail::trsm_left(space, "L", "U", LU, Y);
  detail::trsm_left(space, "U", "N", LU, Y);
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
  // The interchanges are a sequential chain: one work item walks them (for one solve; many solves
  // with one factorisation take lu_permutation's gather).
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
  lu_solve_permuted_rhs(space, LU, x);
}

// lu_factor's interchanges as one gather, (P b)(k) = b(perm(k)): the swaps applied to the
// identity, once, on the host (a chain of n dependent steps: on a GPU thread it costs each solve
// milliseconds at n = 16384, on the host microseconds once). For many solves with one factorisation.
template <class ExecSpace>
Kokkos::View<int*, typename ExecSpace::memory_space> lu_permutation(ExecSpace const& space,
                                                                    Kokkos::View<const int*, typename ExecSpace::memory_space> piv,
                                                                    int n) {
  if (piv.extent(0) < static_cast<std::size_t>(n)) throw std::invalid_argument("numlab::linsolve::lu_permutation: piv holds fewer than n entries");
  Kokkos::View<int*, typename ExecSpace::memory_space> perm(Kokkos::ViewAllocateWithoutInitializing("numlab::lu::perm"), n);
  Kokkos::View<int*, Kokkos::HostSpace> hp(Kokkos::ViewAllocateWithoutInitializing("numlab::lu::piv_host"), n);
  Kokkos::deep_copy(space, hp, Kokkos::subview(piv, Kokkos::make_pair(0, n)));
  space.fence();
  auto hperm = Kokkos::create_mirror_view(Kokkos::HostSpace(), perm);
  for (int k = 0; k < n; ++k) hperm(k) = k;
  for (int k = 0; k < n; ++k) std::swap(hperm(k), hperm(hp(k)));
  Kokkos::deep_copy(space, perm, hperm);
  space.fence();  // hperm goes out of scope
  return perm;
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
