// SPDX-License-Identifier: MIT
// Method `gauss_elim`: numlab's own dense LU with partial pivoting.
#pragma once

#include "linsolve/methods/dense_method.hpp"

namespace numlab::linsolve {

struct GaussElimOptions : DenseOptions {
  int block_size = 0;  // see LuOptions
  int leaf_width = 0;
  LuPanelKernel panel_kernel = LuPanelKernel::automatic;
  bool lookahead = true;

  static void check(GaussElimOptions const& o) {
    if (o.panel_kernel == LuPanelKernel::tournament && o.leaf_width > detail::lu_tournament_max_width)
      throw KeyError("leaf_width", "panel_kernel tournament takes leaf_width <= " +
                                       std::to_string(detail::lu_tournament_max_width) + ", got " +
                                       std::to_string(o.leaf_width));
  }

  static auto fields() {
    using O = GaussElimOptions;
    return std::tuple_cat(
        std::make_tuple(
            option("block_size", &O::block_size, "panel width; 0 = automatic", Range::closed(0, 1 << 20)),
            option("leaf_width", &O::leaf_width, "panel width that ends the recursion; 0 = automatic (8 host, 32 GPU)",
                   Range::closed(0, 1 << 20)),
            option("panel_kernel", &O::panel_kernel,
                   "leaf factorization: 3 launches per column, 1 fused launch per column, 1 team launch per leaf, "
                   "1 persistent launch per leaf, tournament pivoting (CALU: not partial pivoting's pivots), or auto "
                   "(host: team; GPU: persistent, team below 1024 rows)"),
            option("lookahead", &O::lookahead,
                   "factor the next panel on a second stream under the trailing update (CUDA; no effect elsewhere)")),
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
    lo.lookahead = o.lookahead;
    // A host backend's LU runs on Serial (see lu_space_t): the same memory, other kernels' space.
    using LuSpace = lu_space_t<ExecSpace>;
    using MS = typename LuSpace::memory_space;
    constexpr bool on_serial = !std::is_same_v<LuSpace, ExecSpace>;
    Kokkos::View<int*, MS> piv("numlab::linsolve::piv", p.A.numRows());
    std::string const kernel = std::string("recursive_lu/") + lu_panel_kernel_name<LuSpace>(int(p.A.numRows()), lo) +
                               (on_serial ? "/serial_panels" : "") +
                               (lo.lookahead && detail::lu_can_overlap<LuSpace>() ? "/lookahead" : "");
    return run_dense(p, o, s, kernel, [&](DenseMatrix<ExecSpace> A, Vector<ExecSpace> x) {
      LuSpace space;
      if constexpr (on_serial) p.space.fence();
      Kokkos::View<double**, Kokkos::LayoutLeft, Kokkos::Device<LuSpace, MS>> Al = A;
      Kokkos::View<double*, Kokkos::LayoutLeft, Kokkos::Device<LuSpace, MS>> xl = x;
      LuResult f = lu_factor(space, Al, piv, lo);
      if (f.status != SolveStatus::singular) lu_solve(space, Al, Kokkos::View<const int*, MS>(piv), xl);
      space.fence();
      return f;
    });
  }
};

}  // namespace numlab::linsolve
