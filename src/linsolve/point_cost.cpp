// SPDX-License-Identifier: MIT
#include "linsolve/point_cost.hpp"

#include <algorithm>
#include <cmath>

namespace numlab::linsolve {

double estimated_gs_sweeps(ParamMap const& problem, double dominance_factor, double tol, double max_iter) {
  std::string const gen = get_string(problem, "generator");
  double const n = has(problem, "N") ? double(get_int(problem, "N")) : 0;
  double rate = 1;  // residual reduction per sweep
  if (gen == "random_sparse" && dominance_factor > 1) rate = 1 / dominance_factor;
  if (gen == "poisson2d" && n >= 4) {
    double const side = std::sqrt(n);
    rate = std::pow(std::cos(M_PI / (side + 1)), 2);
  }
  if (!(rate < 1) || !(tol > 0) || tol >= 1) return max_iter;
  return std::clamp(std::ceil(std::log(tol) / std::log(rate)), 1.0, max_iter);
}

double estimated_point_cost(PointSpec const& pt, double dominance_factor) {
  ParamMap const& p = pt.problem;
  if (!has(p, "N")) return 0;
  double const n = double(get_int(p, "N"));
  std::string const gen = get_string(p, "generator");
  if (pt.method != "gauss_seidel") return 2.0 / 3.0 * n * n * n;  // gauss_elim, reference, mixed_refinement
  double nnz = n * n;                                             // randsvd: dense
  if (gen == "random_sparse") nnz = std::min(n * n, n + get_real(p, "density") * n * n);
  if (gen == "poisson2d") nnz = 5 * n;
  auto option = [&](char const* k, double fallback) { return has(pt.options, k) ? get_real(pt.options, k) : fallback; };
  double sweeps = estimated_gs_sweeps(p, dominance_factor, option("tol", 1e-10), option("max_iter", 1e4));
  if (has(pt.options, "direction") && to_string(pt.options.at("direction")) == "symmetric") sweeps *= 2;
  if (has(pt.options, "spectral_radius") && to_string(pt.options.at("spectral_radius")) == "true")
    sweeps += option("spectral_iters", 100);  // the power iteration on the iteration matrix
  return 2 * nnz * sweeps;
}

}  // namespace numlab::linsolve
