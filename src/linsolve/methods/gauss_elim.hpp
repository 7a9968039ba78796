// SPDX-License-Identifier: MIT
// Method `gauss_elim`: numlab's own dense LU with partial pivoting.
#pragma once

#include "linsolve/methods/dense_method.hpp"

namespace numlab::linsolve {

struct GaussElimOptions : DenseOptions {
  int block_size = 0;  // see LuOptions
  int leaf_width = 0;
  LuPanelKernel panel_kernel = LuPanelKernel::automatic;

  static auto fields() {
    using O = GaussElimOptions;
    return std::tuple_cat(
        std::make_tuple(
            option("block_size", &O::block_size, "panel width; 0 = automatic", Range::closed(0, 1 << 20)),
            option("leaf_width", &O::leaf_width, "panel width that ends the recursion; 0 = automatic (8 host, 32 GPU)",
                   Range::closed(0, 1 << 20)),
            option("panel_kernel", &O::panel_kernel,
                   "leaf factorization: 3 launches per column, 1 fused launch per column, 1 team launch per leaf, "
                   "or auto (host: team; GPU: fused, team below 1024 rows)")),
        DenseOptions::fields());
  }
};

struct GaussElimMethod {
  using Options = GaussElimOptions;
  static constexpr char const* name = "gauss_elim";
  static constexpr char const* doc =
      "dense Gaussian elimination with partial pivoting (blocked, BLAS-3 trailing updates)";

  template <class ExecSpace>
  static PointResult run(LinsolveProblem<ExecSpace>& p, Options const& o, RunSettings const& s) {
    LuOptions lo;
    lo.block_size = o.block_size;
    lo.leaf_width = o.leaf_width;
    lo.panel_kernel = o.panel_kernel;
    Kokkos::View<int*, typename ExecSpace::memory_space> piv("numlab::linsolve::piv", p.A.numRows());
    std::string const kernel =
        std::string("recursive_lu/") + lu_panel_kernel_name<ExecSpace>(int(p.A.numRows()), lo);
    return run_dense(p, o, s, kernel, [&](DenseMatrix<ExecSpace> A, Vector<ExecSpace> x) {
      LuResult f = lu_factor(p.space, A, piv, lo);
      if (f.status != SolveStatus::singular) lu_solve(p.space, A, piv, x);
      return f;
    });
  }
};

}  // namespace numlab::linsolve
