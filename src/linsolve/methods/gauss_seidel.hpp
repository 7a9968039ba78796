// SPDX-License-Identifier: MIT
// Method `gauss_seidel`: exact lexicographic, multicolour and Kokkos Kernels'
// Gauss-Seidel / SOR, with residual histories and the spectral radius of the
// iteration matrix for the convergence analysis.
#pragma once

#include "core/options.hpp"
#include "core/repeat_timed.hpp"
#include "linsolve/gauss_seidel.hpp"
#include "linsolve/problem.hpp"
#include "linsolve/spectral_radius.hpp"

#include <array>
#include <limits>

namespace numlab::linsolve {

struct GaussSeidelMethodOptions : GaussSeidelOptions {
  bool spectral_radius = true;  // estimate rho of the iteration matrix
  int spectral_iters = 100;

  // A kernel is the sequential variant's (the others have one implementation each).
  static void check(GaussSeidelMethodOptions const& o) {
    if (o.kernel != GsKernel::automatic && o.variant != GsVariant::sequential)
      throw KeyError("kernel", std::string("kernel ") + to_string(o.kernel) + " runs variant sequential only; variant " +
                                   to_string(o.variant) + " takes kernel auto");
  }

  static auto fields() {
    using O = GaussSeidelMethodOptions;
    constexpr double inf = std::numeric_limits<double>::infinity();
    return std::make_tuple(
        option("variant", &O::variant, "sweep ordering / implementation"),
        option("direction", &O::direction, "forward, backward, or symmetric (forward then backward)"),
        option("omega", &O::omega, "SOR relaxation weight (1 = Gauss-Seidel)", Range::open(0, 2)),
        option("tol", &O::tol, "stop when ||b - A x|| / ||b|| <= tol", Range::left_open(0, 1)),
        option("max_iter", &O::max_iter, "iteration limit (status max_iterations)", Range::closed(1, 1e9)),
        option("divtol", &O::divtol, "status diverged when the residual exceeds divtol x the initial one",
               Range{1, inf, true, false}),
        option("check_every", &O::check_every, "residual and stopping tests every k sweeps (no host sync in between)",
               Range::closed(1, 1e9)),
        option("coloring", &O::coloring,
               "multicolor's colouring: greedy in row order on the host (red-black on a grid) or Kokkos Kernels' "
               "default for the backend"),
        option("kernel", &O::kernel,
               "how variant sequential runs (the same iterates): one thread, or rows by level of the sweep's "
               "dependency DAG (wavefronts); other variants take auto"),
        option("spectral_radius", &O::spectral_radius, "estimate rho of the iteration matrix by power iteration"),
        option("spectral_iters", &O::spectral_iters, "power iterations for the spectral radius estimate",
               Range::closed(2, 1e6)));
  }
};

struct GaussSeidelMethod {
  using Options = GaussSeidelMethodOptions;
  static constexpr char const* name = "gauss_seidel";
  static constexpr char const* doc = "Gauss-Seidel / SOR on CSR: sequential, multicolor or Kokkos Kernels";

  template <class ExecSpace>
  static PointResult run(LinsolveProblem<ExecSpace>& p, Options const& o, RunSettings const& s) {
    PointResult r;
    Vector<ExecSpace> x("numlab::linsolve::x", p.A.numRows());
    IterativeResult last;
    std::unique_ptr<GaussSeidel<ExecSpace>> gs;
    GaussSeidelOptions const& go = o;
    auto [setup_t, solve_t] = repeat_timed(s, [&] {
      double ts = fenced_seconds(p.space, [&] { gs = std::make_unique<GaussSeidel<ExecSpace>>(p.space, p.A, go); });
      Kokkos::deep_copy(p.space, x, 0.0);
      double tv = fenced_seconds(p.space, [&] { last = gs->solve(p.b, x); });
      return std::array<double, 2>{ts, tv};
    });
    r.status = linsolve::to_string(last.status);
    if (last.status == SolveStatus::diverged)
      r.reason = "residual grew past divtol x the initial residual or became non-finite";
    r.metrics["kernel_run"] = std::string(gs->kernel_run());
    if (gs->num_levels() > 0) {  // the sweep DAG's levels, where they were computed
      r.metrics["num_levels"] = std::int64_t(gs->num_levels());
      r.metrics["max_level_rows"] = std::int64_t(gs->max_level_rows());
    }
    r.metrics["setup_seconds_median"] = summarize(setup_t).median;
    add_time_metrics(r, "solve", solve_t);
    r.metrics["iterations"] = std::int64_t(last.iterations);
    r.metrics["num_colors"] = std::int64_t(gs->num_colors());
    double sweep = summarize(last.sweep_seconds).median;
    r.metrics["sweep_seconds_median"] = sweep;
    r.metrics["bytes_per_sweep"] = std::int64_t(gs->bytes_per_sweep());
    r.metrics["sweep_bandwidth_GBps"] = sweep > 0 ? double(gs->bytes_per_sweep()) / sweep * 1e-9 : 0.0;
    r.arrays["times_seconds"] = solve_t;
    r.arrays["setup_times_seconds"] = setup_t;
    r.arrays["residual_history"] = last.residual_history;
    r.arrays["sweep_seconds"] = last.sweep_seconds;
    if (o.check_every > 1) {
      std::vector<double> its(last.residual_iterations.begin(), last.residual_iterations.end());
      r.arrays["residual_iterations"] = its;
    }
    add_accuracy_metrics(p, x, r);
    if (s.save_outputs) r.arrays["x"] = to_std_vector(x);
    if (o.spectral_radius) r.metrics["spectral_radius_estimate"] = estimate_spectral_radius(*gs, o.spectral_iters);
    return r;
  }
};

}  // namespace numlab::linsolve
