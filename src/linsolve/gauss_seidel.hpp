// SPDX-License-Identifier: MIT
// Gauss-Seidel / SOR on CSR: the exact lexicographic sweep, a parallel multicolour sweep and
// Kokkos Kernels' point Gauss-Seidel behind one interface, with a stopping-rule solve loop.
#pragma once

#include "core/interrupt.hpp"
#include "core/options.hpp"
#include "core/kokkos_ext/compat.hpp"
#include "linsolve/csr.hpp"
#include "linsolve/detail/gs_kernels.hpp"
#include "linsolve/detail/gs_kokkos_kernels.hpp"
#include "linsolve/detail/gs_levels.hpp"
#include "linsolve/solve_status.hpp"

#include <Kokkos_Core.hpp>
#include <KokkosBlas1_nrm2.hpp>
#include <KokkosSparse_spmv.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace numlab::linsolve {

enum class GsVariant { sequential, multicolor, kokkos_kernels };
enum class SweepDirection { forward, backward, symmetric };  // symmetric = forward then backward
// Colouring of the multicolour variant: greedy in natural order on the host (deterministic on
// every backend; red-black on the 5-point grid) or Kokkos Kernels' default for the backend.
enum class GsColoring { greedy, kokkos_kernels };
// How the exact lexicographic sweep (variant sequential) runs; every kernel computes the same
// iterates. auto: select_sequential_kernel.
enum class GsKernel { automatic, one_thread, level_launch, level_team };

}  // namespace numlab::linsolve

namespace numlab {
template <>
struct EnumNames<linsolve::GsKernel> {
  static constexpr EnumName<linsolve::GsKernel> values[] = {
      {linsolve::GsKernel::automatic, "auto",
       "one_thread on one host thread or when levels are short, else level_team (host) / level_launch (GPU)"},
      {linsolve::GsKernel::one_thread, "one_thread", "every backend: the whole sweep on one thread, rows in order"},
      {linsolve::GsKernel::level_launch, "level_launch",
       "every backend (for GPUs): rows by level of the sweep's DAG, one launch per level"},
      {linsolve::GsKernel::level_team, "level_team",
       "every backend (for multi-threaded hosts): rows by level, one team, a barrier per level"}};
};
template <>
struct EnumNames<linsolve::GsVariant> {
  static constexpr EnumName<linsolve::GsVariant> values[] = {
      {linsolve::GsVariant::sequential, "sequential", "the exact lexicographic sweep (one thread)"},
      {linsolve::GsVariant::multicolor, "multicolor", "rows of one colour in parallel, colours in order"},
      {linsolve::GsVariant::kokkos_kernels, "kokkos_kernels", "Kokkos Kernels' point Gauss-Seidel"}};
};
template <>
struct EnumNames<linsolve::SweepDirection> {
  static constexpr EnumName<linsolve::SweepDirection> values[] = {
      {linsolve::SweepDirection::forward, "forward", "rows 0 .. N-1"},
      {linsolve::SweepDirection::backward, "backward", "rows N-1 .. 0"},
      {linsolve::SweepDirection::symmetric, "symmetric", "a forward then a backward sweep"}};
};
template <>
struct EnumNames<linsolve::GsColoring> {
  static constexpr EnumName<linsolve::GsColoring> values[] = {
      {linsolve::GsColoring::greedy, "greedy", "greedy in row order on the host (red-black on a grid)"},
      {linsolve::GsColoring::kokkos_kernels, "kokkos_kernels", "Kokkos Kernels' default colouring for the backend"}};
};
}  // namespace numlab

namespace numlab::linsolve {

inline const char* to_string(GsVariant v) { return enum_name(v); }
inline const char* to_string(SweepDirection d) { return enum_name(d); }
inline const char* to_string(GsKernel k) { return enum_name(k); }

// Rows per level below which the automatic choice keeps the one-thread sweep: a level must pay
// for its launch (GPU, ~5 us, against ~0.85 us per row of the one-thread sweep there: 8.6 s per
// sweep of 10^7 rows) or its barrier (host, ~1 us, against ~5 ns per row of a streamed row).
inline constexpr double kGpuMinRowsPerLevel = 8;
inline constexpr double kHostMinRowsPerLevel = 512;

// The kernel that runs the lexicographic sweep, in one place: `requested` unless automatic; then
// one_thread for one host thread (levels buy nothing there) or when an average level has too
// few rows to pay for its launch or barrier, else level_team (one team, a barrier per level: on
// an H200 4.7 ms per sweep at 10^6 unknowns and 30.0 ms at 10^7, against level_launch's 9.3 and
// 36.9 ms, results/reference/gpu-h200-linsolve).
template <class ExecSpace>
GsKernel select_sequential_kernel(GsKernel requested, ordinal_t n, int num_levels, int concurrency) {
  if (requested != GsKernel::automatic) return requested;
  constexpr bool host = Kokkos::SpaceAccessibility<ExecSpace, Kokkos::HostSpace>::accessible;
  if (host && concurrency <= 1) return GsKernel::one_thread;
  const double rows_per_level = num_levels > 0 ? double(n) / num_levels : 0.0;
  if (rows_per_level < (host ? kHostMinRowsPerLevel : kGpuMinRowsPerLevel)) return GsKernel::one_thread;
  return GsKernel::level_team;
}

struct GaussSeidelOptions {
  GsVariant variant = GsVariant::sequential;
  SweepDirection direction = SweepDirection::forward;
  double omega = 1.0;   // SOR weight, (0, 2)
  double tol = 1e-10;   // stop when ||b - A x||_2 / ||b||_2 <= tol
  int max_iter = 1000;
  double divtol = 1e5;  // diverged when the residual exceeds divtol * initial residual, or is not finite
  // Residual (and the tol/divtol tests) after every check_every-th sweep and after the last; the
  // sweeps in between run back to back with no host synchronisation. 1: a residual per sweep.
  int check_every = 1;
  GsColoring coloring = GsColoring::greedy;
  GsKernel kernel = GsKernel::automatic;  // variant sequential only
};

struct IterativeResult {
  SolveStatus status = SolveStatus::max_iterations;
  int iterations = 0;
  double rel_residual = 0;
  // Relative residual: entry 0 = initial guess, then one per check (per iteration when
  // check_every = 1); residual_iterations holds the iteration of each entry.
  std::vector<double> residual_history;
  std::vector<int> residual_iterations;
  // Fenced wall time of the sweeps alone, without the residual: one entry per check, the mean
  // sweep time of the batch of sweeps since the previous check (per sweep when check_every = 1).
  std::vector<double> sweep_seconds;
};

template <class ExecSpace>
class GaussSeidel {
 public:
  using execution_space = ExecSpace;
  using device_type = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  using matrix_type = Csr<ExecSpace>;
  using vector_type = Vector<ExecSpace>;

  // Setup: options check, omega/a_ii and diagonal positions (zero or missing diagonal ->
  // std::invalid_argument naming the row), then the variant's colouring or KK symbolic+numeric.
  GaussSeidel(ExecSpace const& space, Csr<ExecSpace> A, GaussSeidelOptions const& opt)
      : space_(space), A_(A), opt_(opt) {
    if (A.numRows() != A.numCols())
      throw std::invalid_argument("GaussSeidel: matrix is " + std::to_string(A.numRows()) + "x" +
                                  std::to_string(A.numCols()) + ", not square");
    if (!(opt.omega > 0.0 && opt.omega < 2.0))
      throw std::invalid_argument("GaussSeidel: omega = " + std::to_string(opt.omega) + " outside (0, 2)");
    if (opt.max_iter < 0) throw std::invalid_argument("GaussSeidel: max_iter < 0");
    if (!(opt.tol >= 0.0)) throw std::invalid_argument("GaussSeidel: tol < 0");
    if (opt.check_every < 1) throw std::invalid_argument("GaussSeidel: check_every < 1");

    if (opt.kernel != GsKernel::automatic && opt.variant != GsVariant::sequential)
      throw std::invalid_argument(std::string("GaussSeidel: kernel ") + to_string(opt.kernel) +
                                  " is a kernel of variant sequential");

    diag_ = detail::analyse_diagonal(space_, A_, opt_.omega);
    switch (opt_.variant) {
      case GsVariant::sequential: setup_sequential(); break;
      case GsVariant::multicolor:
        mc_ = detail::build_multicolor(space_, A_, diag_.winv, split_rows(), opt_.coloring == GsColoring::greedy);
        bp_ = vector_type(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::b_colour_order"), A_.numRows());
        xp_ = vector_type(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::x_colour_order"), A_.numRows());
        break;
      case GsVariant::kokkos_kernels: setup_kokkos_kernels(); break;
    }
    space_.fence();
  }

  // One sweep in place (SOR weighted) in the configured direction; b and x must not alias.
  // Enqueued on the space (the KK variant on the default instance): fence before reading x.
  // The multicolour variant gathers b and x into colour order and x back around the sweep
  // (solve() does that once per solve instead).
  void sweep(Vector<ExecSpace> b, Vector<ExecSpace> x) {
    check_sizes(b, x);
    if (permuted()) {
      detail::permute_vector(space_, perm(), b, bp_, true);
      detail::permute_vector(space_, perm(), x, xp_, true);
      sweep_internal(bp_, xp_);
      detail::permute_vector(space_, perm(), xp_, x, false);
      return;
    }
    sweep_internal(b, x);
  }

  // x holds x0 on entry. Relative residuals use ||b||_2 (1 when b = 0, i.e. absolute). The
  // residual is one fused pass (b - A x reduced to its squared norm, no residual vector); the
  // multicolour variant runs on colour-ordered copies of b and x, gathered once here.
  IterativeResult solve(Vector<ExecSpace> b, Vector<ExecSpace> x) {
    check_sizes(b, x);
    Kokkos::fence();  // b and x may come from work on other instances
    IterativeResult res;
    const bool coloured = permuted();
    vector_type bs = b, xs = x;  // the vectors the sweeps work on
    if (coloured) {
      detail::permute_vector(space_, perm(), b, bp_, true);
      detail::permute_vector(space_, perm(), x, xp_, true);
      bs = bp_;
      xs = xp_;
    }
    const double bnorm_raw = KokkosBlas::nrm2(b);
    const double bnorm = bnorm_raw > 0 ? bnorm_raw : 1.0;
    const double r0 = residual_norm(bs, xs);
    res.residual_history.push_back(r0 / bnorm);
    res.residual_iterations.push_back(0);
    res.rel_residual = r0 / bnorm;
    if (!std::isfinite(r0) || res.rel_residual <= opt_.tol) {
      res.status = std::isfinite(r0) ? SolveStatus::converged : SolveStatus::diverged;
      if (coloured) detail::permute_vector(space_, perm(), xp_, x, false);
      space_.fence();
      return res;
    }
    res.status = SolveStatus::max_iterations;
    const int every = opt_.check_every;
    const std::size_t checks = static_cast<std::size_t>((opt_.max_iter + every - 1) / every);
    res.residual_history.reserve(checks + 1);
    res.residual_iterations.reserve(checks + 1);
    res.sweep_seconds.reserve(checks);
    for (int it = 0; it < opt_.max_iter;) {
      check_interrupt();
      const int batch = std::min(every, opt_.max_iter - it);
      Kokkos::fence();  // KK kernels run on the default instance, ours on space_: fence all
      const auto t0 = std::chrono::steady_clock::now();
      for (int k = 0; k < batch; ++k) sweep_internal(bs, xs);
      Kokkos::fence();
      const auto t1 = std::chrono::steady_clock::now();
      it += batch;
      res.sweep_seconds.push_back(std::chrono::duration<double>(t1 - t0).count() / batch);
      const double rn = residual_norm(bs, xs);
      res.iterations = it;
      res.rel_residual = rn / bnorm;
      res.residual_history.push_back(res.rel_residual);
      res.residual_iterations.push_back(it);
      if (!std::isfinite(rn) || rn > opt_.divtol * r0) {
        res.status = SolveStatus::diverged;
        break;
      }
      if (res.rel_residual <= opt_.tol) {
        res.status = SolveStatus::converged;
        break;
      }
    }
    if (coloured) detail::permute_vector(space_, perm(), xp_, x, false);
    space_.fence();
    return res;
  }

  // What ran the sweeps (a point's kernel_run): the sequential variant's kernel, else the variant.
  const char* kernel_run() const {
    return opt_.variant == GsVariant::sequential ? to_string(seq_kernel_) : to_string(opt_.variant);
  }
  GsKernel sequential_kernel() const { return seq_kernel_; }
  // Levels of the sweep's DAG (the level-scheduled kernels; 0 when they were not built).
  int num_levels() const { return lv_.num_levels(); }
  ordinal_t max_level_rows() const { return lv_.max_level_rows; }

  // 1 for sequential; colours used otherwise (KK reports its own colouring, 0 if unknown).
  int num_colors() const {
    switch (opt_.variant) {
      case GsVariant::sequential: return 1;
      case GsVariant::multicolor: return mc_.num_colors();
      case GsVariant::kokkos_kernels: return kk_colors_;
    }
    return 0;
  }

  // Traffic model of one sweep, for bandwidth figures: values (8 B) + column indices (4 B)
  // per nonzero, row offsets (8 B per row), x read and written, b read (8 B each per row).
  // Auxiliary arrays (1/a_ii, permutation) are not counted, repeated x reads are assumed
  // cached; a symmetric sweep counts twice.
  std::size_t bytes_per_sweep() const {
    const std::size_t n = static_cast<std::size_t>(A_.numRows());
    const std::size_t nnz = static_cast<std::size_t>(A_.nnz());
    const std::size_t one = nnz * (sizeof(scalar_t) + sizeof(ordinal_t)) + (n + 1) * sizeof(offset_t) +
                            3 * n * sizeof(scalar_t);
    return opt_.direction == SweepDirection::symmetric ? 2 * one : one;
  }

  ExecSpace const& space() const { return space_; }
  GaussSeidelOptions const& options() const { return opt_; }
  Csr<ExecSpace> const& matrix() const { return A_; }
  ordinal_t num_rows() const { return A_.numRows(); }
  // True when every row is column-sorted with one diagonal entry (sequential fast path).
  bool split_rows() const { return diag_.unsplit_rows == 0; }

  // Bandwidths of a matrix with sorted rows, for the one-thread sweep's prefetch. Public: nvcc
  // refuses an extended device lambda inside a private member function.
  void compute_reaches() {
    const auto rm = A_.graph.row_map;
    const auto ci = A_.graph.entries;
    ordinal_t up = 0, lo = 0;  // two reductions: Kokkos 3.4 takes one reducer per call
    Kokkos::parallel_reduce(
        "numlab::gs::upper_reach", Kokkos::RangePolicy<ExecSpace>(space_, 0, A_.numRows()),
        KOKKOS_LAMBDA(const ordinal_t i, ordinal_t& u) {
          if (rm(i + 1) > rm(i) && ci(rm(i + 1) - 1) - i > u) u = ci(rm(i + 1) - 1) - i;
        },
        Kokkos::Max<ordinal_t>(up));
    Kokkos::parallel_reduce(
        "numlab::gs::lower_reach", Kokkos::RangePolicy<ExecSpace>(space_, 0, A_.numRows()),
        KOKKOS_LAMBDA(const ordinal_t i, ordinal_t& l) {
          if (rm(i + 1) > rm(i) && i - ci(rm(i)) > l) l = i - ci(rm(i));
        },
        Kokkos::Max<ordinal_t>(lo));
    upper_reach_ = up;
    lower_reach_ = lo;
  }

 private:
  void check_sizes(Vector<ExecSpace> const& b, Vector<ExecSpace> const& x) const {
    const auto n = static_cast<std::size_t>(A_.numRows());
    if (b.extent(0) != n || x.extent(0) != n)
      throw std::invalid_argument("GaussSeidel: b or x length differs from the matrix size " + std::to_string(n));
  }

  // The level-scheduled kernels and the multicolour variant sweep permuted copies of b and x.
  bool permuted() const { return opt_.variant == GsVariant::multicolor || levelled(); }
  bool levelled() const { return opt_.variant == GsVariant::sequential && seq_kernel_ != GsKernel::one_thread; }
  Kokkos::View<ordinal_t*, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> perm() const { return levelled() ? lv_.perm : mc_.perm; }

  // Levels when a level-scheduled kernel may run (auto decides from them), then the kernel.
  void setup_sequential() {
    seq_kernel_ = opt_.kernel;
    if (seq_kernel_ != GsKernel::one_thread) {
      lv_ = detail::build_levels(space_, A_, diag_, split_rows());
      seq_kernel_ = select_sequential_kernel<ExecSpace>(opt_.kernel, A_.numRows(), lv_.num_levels(),
                                                        static_cast<int>(space_.concurrency()));
    }
    if (seq_kernel_ == GsKernel::one_thread) {
      const int levels = lv_.num_levels();
      const ordinal_t widest = lv_.max_level_rows;
      lv_ = {};  // the copy is not needed; the counts stay as diagnostics
      lv_.level_begin.assign(static_cast<std::size_t>(levels) + (levels > 0 ? 1 : 0), 0);
      lv_.max_level_rows = widest;
      if (split_rows()) compute_reaches();
      return;
    }
    bp_ = vector_type(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::b_level_order"), A_.numRows());
    xp_ = vector_type(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::x_level_order"), A_.numRows());
    detail::LevelRows<ExecSpace> f = level_rows(bp_, xp_, false);
    team_size_ = detail::level_team_size(space_, lv_, f);
  }

  detail::LevelRows<ExecSpace> level_rows(Vector<ExecSpace> const& b, Vector<ExecSpace> const& x, bool backward) const {
    return {lv_.A.graph.row_map, lv_.A.graph.entries, lv_.A.values, lv_.diag_pos, lv_.winv, b, x,
            scalar_t(1.0 - opt_.omega), backward, split_rows()};
  }

  // ||b - A x||_2 of the vectors the sweeps work on (colour or level order when permuted).
  double residual_norm(Vector<ExecSpace> const& b, Vector<ExecSpace> const& x) const {
    if (levelled()) return std::sqrt(detail::residual_norm2(space_, lv_.A, b, x));
    if (opt_.variant != GsVariant::multicolor) return std::sqrt(detail::residual_norm2(space_, A_, b, x));
    detail::MulticolorResidual<ExecSpace> f{mc_.row_map, mc_.entries, mc_.values, mc_.diag, b, x};
    double sum = 0;
    Kokkos::parallel_reduce("numlab::gs::mc_residual", Kokkos::RangePolicy<ExecSpace>(space_, 0, A_.numRows()), f,
                            sum);
    return std::sqrt(sum);
  }

  // One configured sweep on the vectors the variant works on (colour order for multicolour).
  void sweep_internal(Vector<ExecSpace> const& b, Vector<ExecSpace> const& x) {
    switch (opt_.variant) {
      case GsVariant::sequential:
      case GsVariant::multicolor:
        if (opt_.direction != SweepDirection::backward) own_sweep(b, x, false);
        if (opt_.direction != SweepDirection::forward) own_sweep(b, x, true);
        break;
      case GsVariant::kokkos_kernels: kk_sweep(b, x); break;
    }
  }

  void own_sweep(Vector<ExecSpace> const& b, Vector<ExecSpace> const& x, bool backward) {
    const scalar_t om1 = 1.0 - opt_.omega;
    if (levelled()) {
      const auto f = level_rows(b, x, backward);
      if (seq_kernel_ == GsKernel::level_team) detail::sweep_level_team(space_, lv_, f, team_size_);
      else detail::sweep_level_launch(space_, lv_, f);
      return;
    }
    if (opt_.variant == GsVariant::sequential) {
      detail::SequentialSweep<ExecSpace> f{A_.graph.row_map, A_.graph.entries, A_.values, diag_.diag_pos,
                                           diag_.winv, b, x, om1, A_.numRows(), backward,
                                           diag_.unsplit_rows == 0, upper_reach_, lower_reach_};
      Kokkos::parallel_for("numlab::gs::sequential", Kokkos::RangePolicy<ExecSpace>(space_, 0, 1), f);
      return;
    }
    detail::MulticolorRows<ExecSpace> f{mc_.row_map, mc_.entries, mc_.values, mc_.winv, b, x, om1};
    const int nc = mc_.num_colors();
    for (int t = 0; t < nc; ++t) {
      const int c = backward ? nc - 1 - t : t;
      const ordinal_t lo = mc_.color_begin[c], hi = mc_.color_begin[c + 1];
      if (hi > lo) Kokkos::parallel_for("numlab::gs::multicolor", Kokkos::RangePolicy<ExecSpace>(space_, lo, hi), f);
    }
  }

  void setup_kokkos_kernels() {
    // KK symmetrises an unsymmetric pattern itself for its colouring (slow on one host thread:
    // ~2 s at 10^6 rows), so tell it when that can be skipped.
    const bool sym = detail::pattern_symmetric(space_, A_, split_rows());
    kk_ = detail::kk::gauss_seidel_setup<ExecSpace>(space_, A_, sym);
    kk_colors_ = detail::kk::gauss_seidel_num_colors<ExecSpace>(*kk_);
  }

  void kk_sweep(Vector<ExecSpace> const& b, Vector<ExecSpace> const& x) {
    using detail::kk::KkSweep;
    const KkSweep d = opt_.direction == SweepDirection::forward    ? KkSweep::forward
                      : opt_.direction == SweepDirection::backward ? KkSweep::backward
                                                                   : KkSweep::symmetric;
    detail::kk::gauss_seidel_apply<ExecSpace>(*kk_, A_, b, x, d, opt_.omega);
  }

  ExecSpace space_;
  Csr<ExecSpace> A_;
  GaussSeidelOptions opt_;
  detail::DiagonalInfo<ExecSpace> diag_;
  detail::MulticolorLayout<ExecSpace> mc_;
  detail::LevelLayout<ExecSpace> lv_;
  GsKernel seq_kernel_ = GsKernel::one_thread;
  ordinal_t upper_reach_ = 0, lower_reach_ = 0;  // one_thread on sorted rows: the prefetch distances
  int team_size_ = 1;  // level_team
  vector_type bp_, xp_;  // multicolour / level-scheduled: b and x in colour / level order
  std::shared_ptr<detail::kk::GaussSeidelHandle<ExecSpace>> kk_;  // shared: the handle owns KK's buffers
  int kk_colors_ = 0;
};

}  // namespace numlab::linsolve
