// SPDX-License-Identifier: MIT
// Method `gauss_elim`: numlab's own dense LU with partial pivoting.
#pragma once

#include "linsolve/methods/dense_method.hpp"

namespace numlab::linsolve {

struct GaussElimMethod {
  static MethodDef def() {
    return {"gauss_elim", "dense Gaussian elimination with partial pivoting (blocked, BLAS-3 trailing updates)",
            dense_options({int_param("block_size", "panel width; 0 = automatic", 0, 0, 1 << 20)})};
  }
  template <class ExecSpace>
  static PointResult run(LinsolveProblem<ExecSpace>& p, PointSpec const& pt, RunSettings const& s) {
    int block = static_cast<int>(get_int(pt.options, "block_size"));
    Kokkos::View<int*, typename ExecSpace::memory_space> piv("numlab::linsolve::piv", p.A.numRows());
    return run_dense(p, pt, s, [&](DenseMatrix<ExecSpace> A, Vector<ExecSpace> x) {
      LuResult f = lu_factor(p.space, A, piv, block);
      if (f.status != SolveStatus::singular) lu_solve(p.space, A, piv, x);
      return f;
    });
  }
};

}  // namespace numlab::linsolve
