// SPDX-License-Identifier: MIT
// A linear-system point's estimated cost in FLOPs, for the progress line's ETA: 2/3 N^3 for the
// dense solvers, 2 nnz per sweep x an estimate of the sweeps for Gauss-Seidel.
#pragma once

#include "core/experiment.hpp"

namespace numlab::linsolve {

// Sweeps Gauss-Seidel is expected to take to reach `tol`, at most `max_iter`: from the contraction
// 1/factor of a row-dominant random_sparse matrix (factor <= 1: max_iter), from the spectral radius
// cos^2(pi / (n + 1)) of 2D Poisson on an n x n grid; max_iter elsewhere.
double estimated_gs_sweeps(ParamMap const& problem, double dominance_factor, double tol, double max_iter);

// 0 where the size is not known before the matrix is read (matrix_market).
double estimated_point_cost(PointSpec const& pt, double dominance_factor);

}  // namespace numlab::linsolve
