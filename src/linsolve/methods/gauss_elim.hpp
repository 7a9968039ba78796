// SPDX-License-Identifier: MIT
// Method `gauss_elim`: numlab's own dense LU with partial pivoting.
#pragma once

#include "linsolve/methods/dense_method.hpp"

namespace numlab::linsolve {

struct GaussElimMethod {
  static MethodDef def() {
    return {"gauss_elim", "dense Gaussian elimination with partial pivoting (blocked, BLAS-3 trailing updates)",
            dense_options({int_param("block_size", "panel width; 0 = automatic", 0, 0, 1 << 20),
                           int_param("leaf_width", "panel width that ends the recursion; 0 = automatic (8 host, 32 GPU)",
                                     0, 0, 1 << 20),
                           choice_param("panel_kernel",
                                        "leaf factorization: 3 launches per column, 1 fused launch per column, "
                                        "1 team launch per leaf, or auto (host: team; GPU: fused, team below 1024 rows)",
                                        {"auto", "per_column", "fused", "team"}, "auto")})};
  }
  template <class ExecSpace>
  static PointResult run(LinsolveProblem<ExecSpace>& p, PointSpec const& pt, RunSettings const& s) {
    LuOptions lo;
    lo.block_size = static_cast<int>(get_int(pt.options, "block_size"));
    lo.leaf_width = static_cast<int>(get_int(pt.options, "leaf_width"));
    auto const& pk = get_string(pt.options, "panel_kernel");
    lo.panel_kernel = pk == "per_column" ? LuPanelKernel::per_column
                      : pk == "fused"    ? LuPanelKernel::fused
                      : pk == "team"     ? LuPanelKernel::team
                                         : LuPanelKernel::automatic;
    Kokkos::View<int*, typename ExecSpace::memory_space> piv("numlab::linsolve::piv", p.A.numRows());
    return run_dense(p, pt, s, [&](DenseMatrix<ExecSpace> A, Vector<ExecSpace> x) {
      LuResult f = lu_factor(p.space, A, piv, lo);
      if (f.status != SolveStatus::singular) lu_solve(p.space, A, piv, x);
      return f;
    });
  }
};

}  // namespace numlab::linsolve
