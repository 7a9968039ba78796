// SPDX-License-Identifier: MIT
// Method `gauss_seidel`: exact lexicographic, multicolour and Kokkos Kernels'
// Gauss-Seidel / SOR, with residual histories and the spectral radius of the
// iteration matrix for the convergence analysis.
#pragma once

#include "core/interrupt.hpp"
#include "core/timing.hpp"
#include "linsolve/gauss_seidel.hpp"
#include "linsolve/problem.hpp"
#include "linsolve/spectral_radius.hpp"

namespace numlab::linsolve {

struct GaussSeidelMethod {
  static MethodDef def() {
    Schema o;
    o.params = {
        choice_param("variant", "sweep ordering / implementation", {"sequential", "multicolor", "kokkos_kernels"},
                     "sequential"),
        choice_param("direction", "forward, backward, or symmetric (forward then backward)",
                     {"forward", "backward", "symmetric"}, "forward"),
        real_param("omega", "SOR relaxation weight (1 = Gauss-Seidel)", 1.0, 0.0, 2.0, true, true),
        real_param("tol", "stop when ||b - A x|| / ||b|| <= tol", 1e-10, 0.0, 1.0, true, false),
        int_param("max_iter", "iteration limit (status max_iterations)", 1000, 1, 1e9),
        real_param("divtol", "status diverged when the residual exceeds divtol x the initial one", 1e5, 1.0,
                   std::numeric_limits<double>::infinity(), true),
        int_param("check_every", "residual and stopping tests every k sweeps (no host sync in between)", 1, 1,
                  1e9),
        choice_param("coloring", "multicolor's colouring: greedy in row order on the host (red-black on a grid) "
                     "or Kokkos Kernels' default for the backend",
                     {"greedy", "kokkos_kernels"}, "greedy"),
        bool_param("spectral_radius", "estimate rho of the iteration matrix by power iteration", true),
        int_param("spectral_iters", "power iterations for the spectral radius estimate", 100, 2, 1e6),
    };
    return {"gauss_seidel", "Gauss-Seidel / SOR on CSR: sequential, multicolor or Kokkos Kernels", o};
  }

  template <class ExecSpace>
  static PointResult run(LinsolveProblem<ExecSpace>& p, PointSpec const& pt, RunSettings const& s) {
    GaussSeidelOptions o;
    auto const& v = get_string(pt.options, "variant");
    o.variant = v == "sequential" ? GsVariant::sequential
                : v == "multicolor" ? GsVariant::multicolor
                                    : GsVariant::kokkos_kernels;
    auto const& d = get_string(pt.options, "direction");
    o.direction = d == "forward" ? SweepDirection::forward
                  : d == "backward" ? SweepDirection::backward
                                    : SweepDirection::symmetric;
    o.omega = get_real(pt.options, "omega");
    o.tol = get_real(pt.options, "tol");
    o.max_iter = static_cast<int>(get_int(pt.options, "max_iter"));
    o.divtol = get_real(pt.options, "divtol");
    o.check_every = static_cast<int>(get_int(pt.options, "check_every"));
    o.coloring = get_string(pt.options, "coloring") == "greedy" ? GsColoring::greedy : GsColoring::kokkos_kernels;

    PointResult r;
    std::vector<double> setup_t, solve_t;
    Vector<ExecSpace> x("numlab::linsolve::x", p.A.numRows());
    IterativeResult last;
    std::unique_ptr<GaussSeidel<ExecSpace>> gs;
    for (int rep = 0; rep < s.warmup + s.repetitions; ++rep) {
      check_interrupt();
      double ts = fenced_seconds(p.space, [&] { gs = std::make_unique<GaussSeidel<ExecSpace>>(p.space, p.A, o); });
      Kokkos::deep_copy(p.space, x, 0.0);
      double tv = fenced_seconds(p.space, [&] { last = gs->solve(p.b, x); });
      if (rep >= s.warmup) {
        setup_t.push_back(ts);
        solve_t.push_back(tv);
      }
    }
    r.status = linsolve::to_string(last.status);
    if (last.status == SolveStatus::diverged)
      r.reason = "residual grew past divtol x the initial residual or became non-finite";
    auto st = summarize(solve_t);
    r.metrics["setup_seconds_median"] = summarize(setup_t).median;
    r.metrics["solve_seconds_median"] = st.median;
    r.metrics["solve_seconds_min"] = st.min;
    r.metrics["solve_seconds_mean"] = st.mean;
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
    if (get_bool(pt.options, "spectral_radius"))
      r.metrics["spectral_radius_estimate"] =
          estimate_spectral_radius(*gs, static_cast<int>(get_int(pt.options, "spectral_iters")));
    return r;
  }
};

}  // namespace numlab::linsolve
