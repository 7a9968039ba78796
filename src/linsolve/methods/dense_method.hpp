// SPDX-License-Identifier: MIT
// Timing harness shared by the dense direct methods (Gaussian elimination and
// the library reference): setup = CSR -> dense copy, solve = factor + solve.
#pragma once

#include "core/interrupt.hpp"
#include "core/timing.hpp"
#include "linsolve/dense_lu.hpp"
#include "linsolve/problem.hpp"

#include <fmt/format.h>

namespace numlab::linsolve {

inline Schema dense_options(std::vector<ParamSpec> extra = {}) {
  Schema s;
  s.params = std::move(extra);
  s.params.push_back(real_param("max_dense_gib", "skip the point (status skipped) when the dense N x N matrix needs more",
                                16.0, 0, 1e6, true));
  return s;
}

// solve(A, x): factors the dense A in place and overwrites x (holding b) with the solution.
template <class ExecSpace, class Solve>
PointResult run_dense(LinsolveProblem<ExecSpace>& p, PointSpec const& pt, RunSettings const& s, Solve&& solve) {
  PointResult r;
  auto const n = static_cast<double>(p.A.numRows());
  double gib = n * n * 8.0 / double(1 << 30);
  if (gib > get_real(pt.options, "max_dense_gib")) {
    r.status = "skipped";
    r.reason = fmt::format("the dense matrix needs {:.1f} GiB > max_dense_gib = {}", gib,
                           numlab::to_string(pt.options.at("max_dense_gib")));
    return r;
  }
  std::vector<double> setup_t, solve_t;
  Vector<ExecSpace> x("numlab::linsolve::x", p.A.numRows());
  LuResult last;
  for (int rep = 0; rep < s.warmup + s.repetitions; ++rep) {
    check_interrupt();
    DenseMatrix<ExecSpace> A;
    double ts = fenced_seconds(p.space, [&] { A = densify(p.space, p.A); });
    Kokkos::deep_copy(p.space, x, p.b);
    double tv = fenced_seconds(p.space, [&] { last = solve(A, x); });
    if (rep >= s.warmup) {
      setup_t.push_back(ts);
      solve_t.push_back(tv);
    }
  }
  r.status = linsolve::to_string(last.status);
  if (last.status == SolveStatus::singular)
    r.reason = fmt::format("zero pivot (|u_kk| <= n eps max|a_ij|) at column {}", last.zero_pivot);
  auto st = summarize(solve_t);
  r.metrics["setup_seconds_median"] = summarize(setup_t).median;
  r.metrics["solve_seconds_median"] = st.median;
  r.metrics["solve_seconds_min"] = st.min;
  r.metrics["solve_seconds_mean"] = st.mean;
  r.metrics["gflops"] = st.median > 0 ? (2.0 / 3.0) * n * n * n / st.median * 1e-9 : 0.0;
  r.arrays["times_seconds"] = solve_t;
  r.arrays["setup_times_seconds"] = setup_t;
  if (last.status != SolveStatus::singular) add_accuracy_metrics(p, x, r);
  if (s.save_outputs) r.arrays["x"] = to_std_vector(x);
  return r;
}

}  // namespace numlab::linsolve
