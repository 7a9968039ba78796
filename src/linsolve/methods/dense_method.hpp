// SPDX-License-Identifier: MIT
// Timing harness shared by the dense direct methods (Gaussian elimination and
// the library reference): setup = CSR -> dense copy, solve = factor + solve.
#pragma once

#include "core/host_memory.hpp"
#include "core/options.hpp"
#include "core/repeat_timed.hpp"
#include "linsolve/dense_lu.hpp"
#include "linsolve/problem.hpp"

#include <fmt/format.h>

#include <array>
#include <optional>
#include <string>

namespace numlab::linsolve {

// The option every dense method has.
struct DenseOptions {
  double max_dense_gib = 16.0;  // skip the point when the dense N x N matrix needs more

  static auto fields() {
    return std::make_tuple(option("max_dense_gib", &DenseOptions::max_dense_gib,
                                  "skip the point (status skipped) when the dense N x N matrix needs more",
                                  Range::left_open(0, 1e6)));
  }
};

// solve(A, x): factors the dense A in place and overwrites x (holding b) with the solution.
// Before a dense method allocates: a point whose fp64 dense copy exceeds max_dense_gib is
// skipped, one whose `host_bytes_per_entry` x N^2 host bytes the machine cannot hold fails with
// that reason (not bad_alloc or the OOM killer); nothing when it may run.
template <class ExecSpace>
std::optional<PointResult> dense_refusal(LinsolveProblem<ExecSpace> const& p, DenseOptions const& o,
                                         double host_bytes_per_entry, std::string const& what) {
  auto const n = static_cast<double>(p.A.numRows());
  double const gib = n * n * 8.0 / double(1 << 30);
  PointResult r;
  if (gib > o.max_dense_gib) {
    r.status = "skipped";
    r.reason = fmt::format("the dense matrix needs {:.1f} GiB > max_dense_gib = {}", gib,
                           numlab::to_string(ParamValue(o.max_dense_gib)));
    return r;
  }
  if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename ExecSpace::memory_space>::accessible) {
    try {
      require_host_bytes(n * n * host_bytes_per_entry, what);
    } catch (std::runtime_error const& e) {
      r.status = "failed";
      r.reason = e.what();
      return r;
    }
  }
  return std::nullopt;
}

// `kernel` names what ran (the point's kernel_run).
template <class ExecSpace, class Solve>
PointResult run_dense(LinsolveProblem<ExecSpace>& p, DenseOptions const& o, RunSettings const& s,
                      std::string const& kernel, Solve&& solve) {
  PointResult r;
  auto const n = static_cast<double>(p.A.numRows());
  if (auto refused = dense_refusal(p, o, 8.0, fmt::format("the dense {} x {} matrix", p.A.numRows(), p.A.numRows())))
    return *refused;
  Vector<ExecSpace> x("numlab::linsolve::x", p.A.numRows());
  LuResult last;
  auto [setup_t, solve_t] = repeat_timed(s, [&] {
    DenseMatrix<ExecSpace> A;
    double ts = fenced_seconds(p.space, [&] {
      A = {};  // the previous repetition's copy goes first: one dense copy at a time
      A = densify(p.space, p.A);
    });
    Kokkos::deep_copy(p.space, x, p.b);
    double tv = fenced_seconds(p.space, [&] { last = solve(A, x); });
    return std::array<double, 2>{ts, tv};
  });
  r.status = linsolve::to_string(last.status);
  if (last.status == SolveStatus::singular)
    r.reason = fmt::format("zero pivot (|u_kk| <= n eps max|a_ij|) at column {}", last.zero_pivot);
  r.metrics["kernel_run"] = kernel;
  r.metrics["setup_seconds_median"] = summarize(setup_t).median;
  add_time_metrics(r, "solve", solve_t);
  double const median = summarize(solve_t).median;
  r.metrics["gflops"] = median > 0 ? (2.0 / 3.0) * n * n * n / median * 1e-9 : 0.0;
  r.arrays["times_seconds"] = solve_t;
  r.arrays["setup_times_seconds"] = setup_t;
  if (last.status != SolveStatus::singular) add_accuracy_metrics(p, x, r);
  if (s.save_outputs) r.arrays["x"] = to_std_vector(x);
  return r;
}

}  // namespace numlab::linsolve
