// SPDX-License-Identifier: MIT
// Method `reference`: the library solve (LAPACK gesv through Kokkos Kernels on
// the host, cuSOLVER on CUDA), the yardstick for gauss_elim.
#pragma once

#include "linsolve/methods/dense_method.hpp"
#include "linsolve/reference_solve.hpp"

namespace numlab::linsolve {

struct ReferenceMethod {
  static MethodDef def() {
    return {"reference", "library dense solve: LAPACK/cuSOLVER gesv through Kokkos Kernels", dense_options()};
  }
  template <class ExecSpace>
  static PointResult run(LinsolveProblem<ExecSpace>& p, PointSpec const& pt, RunSettings const& s) {
    return run_dense(p, pt, s, [&](DenseMatrix<ExecSpace> A, Vector<ExecSpace> x) {
      return reference_solve(p.space, A, x);
    });
  }
};

}  // namespace numlab::linsolve
