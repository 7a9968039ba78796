// SPDX-License-Identifier: MIT
// Method `mixed_refinement`: LU in a low precision (float32, or bfloat16 / float16 emulated), the
// solution refined in fp64 until the fp64 normwise backward error reaches tol. Its own method,
// not a gauss_elim option: its status is an iterative one (solved only when berr <= tol, else
// refinement_diverged with the berr history), and its options (max_iter, tol) would mean nothing
// for gauss_elim's fp64 factorisation.
#pragma once

#include "linsolve/methods/gauss_elim.hpp"
#include "linsolve/mixed_refinement.hpp"

#include <fmt/format.h>

namespace numlab::linsolve {

struct MixedRefinementOptions : GaussElimOptions {
  FactorPrecision factor_precision = FactorPrecision::float32;
  RefinementSolver solver = RefinementSolver::classical;
  Factorization factorization = Factorization::numlab_lu;
  int gmres_max_inner = 50;
  int max_iter = 30;
  double tol = 0;
  Pivoting pivoting = Pivoting::partial;
  int butterfly_depth = 0;
  std::int64_t butterfly_seed = 0;

  static void check(MixedRefinementOptions const& o) {
    GaussElimOptions::check(o);
    if (o.factorization == Factorization::library && o.pivoting != Pivoting::partial)
      throw KeyError("pivoting", std::string("factorization: library (getrf) does partial pivoting itself; pivoting: ") +
                                     numlab::enum_name(o.pivoting) + " needs factorization: numlab_lu");
    if (o.factorization == Factorization::library && o.butterfly_depth > 0)
      throw KeyError("butterfly_depth", "factorization: library (getrf) factors A itself; butterfly_depth > 0 needs "
                                        "factorization: numlab_lu");
    if (o.pivoting == Pivoting::none && o.panel_kernel != LuPanelKernel::automatic)
      throw KeyError("panel_kernel", "pivoting: none has no pivot search, so no panel kernel to choose; "
                                     "leave panel_kernel at auto");
  }

  static auto fields() {
    using O = MixedRefinementOptions;
    return std::tuple_cat(
        std::make_tuple(
            option("factor_precision", &O::factor_precision, "precision of the LU factors and triangular solves"),
            option("solver", &O::solver, "how each correction equation A d = r is solved"),
            option("factorization", &O::factorization, "who computes the low-precision LU"),
            option("gmres_max_inner", &O::gmres_max_inner, "GMRES-IR: Krylov steps per correction at most",
                   Range::closed(1, 1000)),
            option("max_iter", &O::max_iter, "refinement steps at most (status refinement_diverged past them)",
                   Range::closed(0, 1e6)),
            option("tol", &O::tol,
                   "stop when ||b - A x||_inf / (||A||_inf ||x||_inf + ||b||_inf) <= tol; 0 = sqrt(N) eps_64",
                   Range::closed(0, 1)),
            option("pivoting", &O::pivoting,
                   "the low-precision LU's row interchanges (block_local: block_size, leaf_width and panel_kernel "
                   "apply to the diagonal blocks, lookahead does not; none: leaf_width, panel_kernel and lookahead "
                   "do not apply)"),
            option("butterfly_depth", &O::butterfly_depth,
                   "> 0: factor U^T A V with U, V random recursive butterflies of this depth (at most floor(log2 N) "
                   "levels are used); 0: A",
                   Range::closed(0, 30)),
            option("butterfly_seed", &O::butterfly_seed, "seed of the butterfly U (V: seed + 1)",
                   Range::closed(0, 9.2e18))),
        GaussElimOptions::fields());
  }
};

struct MixedRefinementMethod {
  using Options = MixedRefinementOptions;
  static constexpr char const* name = "mixed_refinement";
  static constexpr char const* doc =
      "LU in a low precision, fp64 iterative refinement to the fp64 backward error (refinement_diverged if not)";

  template <class ExecSpace>
  static PointResult run(LinsolveProblem<ExecSpace>& p, Options const& o, RunSettings const& s) {
    PointResult r;
    const int n = int(p.A.numRows());
    if (o.factorization == Factorization::library && !library_factors(o.factor_precision)) {
      r.status = "skipped";
      r.reason = fmt::format("factorization: library factors in float32 or float64 only (LAPACK / cuSOLVER getrf), "
                             "not {}; use factorization: numlab_lu for 16-bit factors",
                             enum_name(o.factor_precision));
      return r;
    }
    if (o.factor_precision == FactorPrecision::tf32 && !detail::tf32_gemms_available<ExecSpace>()) {
      r.status = "skipped";
      r.reason = "factor_precision: tf32 runs its GEMMs on TF32 tensor cores: a CUDA build with cuBLAS (not emulated)";
      return r;
    }
    // The fp64 copy and the low-precision factors (4 or 8 B per entry; GMRES-IR one more fp64 copy).
    const double per_entry = (o.factor_precision == FactorPrecision::float64 ? 16.0 : 12.0) +
                             (o.solver == RefinementSolver::gmres && o.factor_precision != FactorPrecision::float64 ? 8.0 : 0.0);
    if (auto refused = dense_refusal(p, o, per_entry,
                                     fmt::format("the dense {} x {} matrix and its {} factors", n, n,
                                                 enum_name(o.factor_precision))))
      return *refused;
    RefinementOptions ro;
    ro.precision = o.factor_precision;
    ro.max_iter = o.max_iter;
    ro.solver = o.solver;
    ro.factorization = o.factorization;
    ro.gmres_max_inner = o.gmres_max_inner;
    ro.tol = o.tol;
    ro.pivoting = o.pivoting;
    ro.butterfly_depth = o.butterfly_depth;
    ro.butterfly_seed = static_cast<std::uint64_t>(o.butterfly_seed);
    ro.lu.block_size = o.block_size;
    ro.lu.leaf_width = o.leaf_width;
    ro.lu.panel_kernel = o.panel_kernel;
    ro.lu.lookahead = o.lookahead;
    Vector<ExecSpace> x("numlab::linsolve::x", n);
    RefinementResult last;
    std::vector<double> factor_t;
    DenseMatrix<ExecSpace> A;
    auto [setup_t, solve_t] = repeat_timed(s, [&] {
      double ts = fenced_seconds(p.space, [&] {
      A = {};  // the previous repetition's copy goes first: one dense copy at a time
      A = densify(p.space, p.A);
    });
      double tv = fenced_seconds(p.space, [&] { last = mixed_refinement_solve(p.space, A, p.b, x, ro); });
      factor_t.push_back(last.factor_seconds);
      return std::array<double, 2>{ts, tv};
    });
    if (last.outcome == RefinementOutcome::converged) {
      r.status = "solved";
    } else {
      r.status = "refinement_diverged";
      const double berr = last.backward_error_history.empty() ? 0.0 : last.backward_error_history.back();
      r.reason = last.outcome == RefinementOutcome::factor_singular
                     ? fmt::format("exact zero (or NaN) pivot in the {} factors at column {}",
                                   enum_name(o.factor_precision), last.zero_pivot)
                     : fmt::format("{} after {} corrections: backward error {:.3g} > tol {:.3g}", to_string(last.outcome),
                                   last.iterations, berr, last.tol);
    }
    const std::string factor_kernel = [&]() -> std::string {
      if (o.factorization == Factorization::library) return library_getrf_name<ExecSpace>();
      std::string k = o.butterfly_depth > 0 ? fmt::format("butterfly_d{}/", std::min(o.butterfly_depth, butterfly_max_depth(n)))
                                            : std::string();
      if (o.pivoting == Pivoting::none) {
        k += "unpivoted_lu";
      } else if (o.pivoting == Pivoting::block_local) {  // the diagonal blocks' leaves
        k += std::string("block_local_lu/") + lu_panel_kernel_name<ExecSpace>(lu_block_size<ExecSpace>(n, ro.lu.block_size), ro.lu);
      } else {
        k += std::string("recursive_lu/") + lu_panel_kernel_name<ExecSpace>(n, ro.lu) +
             (ro.lu.lookahead && detail::lu_can_overlap<ExecSpace>() ? "/lookahead" : "");
      }
      return k + (o.factor_precision == FactorPrecision::tf32 ? "/tf32_cublas_gemms" : "");
    }();
    r.metrics["kernel_run"] = std::string(o.solver == RefinementSolver::gmres ? "gmres_ir/" : "") + factor_kernel;
    r.metrics["refinement_outcome"] = std::string(to_string(last.outcome));
    r.metrics["iterations"] = std::int64_t(last.iterations);
    r.metrics["refinement_tol_effective"] = last.tol;
    r.metrics["unit_roundoff_factor"] = unit_roundoff(o.factor_precision);
    if (!last.backward_error_history.empty()) r.metrics["backward_error"] = last.backward_error_history.back();
    factor_t.erase(factor_t.begin(), factor_t.end() - std::ptrdiff_t(solve_t.size()));  // the timed runs only
    r.metrics["setup_seconds_median"] = summarize(setup_t).median;
    add_time_metrics(r, "solve", solve_t);
    r.metrics["factor_seconds_median"] = summarize(factor_t).median;
    r.arrays["times_seconds"] = solve_t;
    r.arrays["setup_times_seconds"] = setup_t;
    r.arrays["factor_times_seconds"] = factor_t;
    r.arrays["backward_error_history"] = last.backward_error_history;
    if (o.solver == RefinementSolver::gmres) {
      r.arrays["inner_iterations"] = last.inner_iterations;
      double inner = 0;
      for (double k : last.inner_iterations) inner += k;
      r.metrics["inner_iterations_total"] = std::int64_t(inner);
    }
    add_accuracy_metrics(p, x, r);
    if (s.save_outputs) r.arrays["x"] = to_std_vector(x);
    return r;
  }
};

}  // namespace numlab::linsolve
