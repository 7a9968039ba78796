// SPDX-License-Identifier: MIT
// Method `reference`: the library solve (LAPACK gesv through Kokkos Kernels on
// the host, cuSOLVER on CUDA), the yardstick for gauss_elim.
#pragma once

#include "linsolve/methods/dense_method.hpp"
#include "linsolve/reference_solve.hpp"

namespace numlab::linsolve {

struct ReferenceMethod {
  using Options = DenseOptions;
  static constexpr char const* name = "reference";
  static constexpr char const* doc = "library dense solve: LAPACK/cuSOLVER gesv through Kokkos Kernels";

  template <class ExecSpace>
  static PointResult run(LinsolveProblem<ExecSpace>& p, Options const& o, RunSettings const& s) {
    return run_dense(p, o, s, reference_solve_library<ExecSpace>(),
                     [&](DenseMatrix<ExecSpace> A, Vector<ExecSpace> x) { return reference_solve(p.space, A, x); });
  }
};

}  // namespace numlab::linsolve
