// SPDX-License-Identifier: MIT
// Test matrices of the linear-systems experiment: random sparse with a chosen
// diagonal dominance, 2D Poisson, and right-hand sides from a known solution.
#pragma once

#include "linsolve/csr.hpp"

#include <cstdint>
#include <string>
#include <utility>

namespace numlab::linsolve {

// Named dominance levels (the diagonal is dominance_factor * off-diagonal row sum):
//   "strict" = 2.0  strictly diagonally dominant, every row margin 1 - 1/2 = 0.5
//   "weak"   = 1.0  |a_ii| equals the off-diagonal sum (margin 0)
//   "none"   = 0.5  not dominant (margin -1); Gauss-Seidel may diverge
inline constexpr double kDominanceStrict = 2.0;
inline constexpr double kDominanceWeak = 1.0;
inline constexpr double kDominanceNone = 0.5;

// Factor for "strict" / "weak" / "none"; throws std::invalid_argument otherwise.
double dominance_factor_for(std::string const& name);

struct RandomSparseParams {
  std::int64_t N = 0;              // rows = columns, 1 <= N <= INT_MAX
  double density = 0.0;            // expected off-diagonal nnz / (N*N), in [0, 1]
  double dominance_factor = 2.0;   // finite, >= 0
  std::uint64_t seed = 0;
};

// Random sparse N x N matrix. Each off-diagonal entry is present independently
// with probability p = min(1, density * N / (N-1)), so the expected off-diagonal
// nnz is density * N^2. A row's count is drawn from Binomial(N-1, p) and its
// columns without replacement; values are uniform in [-1, 1); the diagonal is
// dominance_factor * sum_j |a_ij| (1 for a row without off-diagonal entries).
// Deterministic for a seed on every platform and thread count: std::mt19937_64
// streams per block of rows, own integer/real mappings, no libm on the path.
// O(nnz) time and memory; rows are built in parallel on the host space.
HostCsr random_sparse(RandomSparseParams const& p);

// 2D Poisson, 5-point stencil on an nx x ny grid with Dirichlet boundary:
// 4 on the diagonal, -1 for each grid neighbour. Lexicographic numbering,
// unknown (i, j) -> row j * nx + i with i the fast (x) index.
HostCsr poisson2d(int nx, int ny);

// Grid for N unknowns: nx = largest divisor of N not above sqrt(N), ny = N / nx
// (10^6 -> 1000 x 1000, 10^7 -> 3125 x 3200, prime N -> 1 x N).
std::pair<int, int> poisson_grid_for(std::int64_t N);

// count standard normal numbers of stream `stream` of `seed` into out (Box-Muller on the streams
// of random_sparse: deterministic for a seed whatever the thread count; through libm's log, sqrt
// and cos, so equal across platforms to the ulp of those functions).
void fill_gaussian(std::uint64_t seed, std::uint64_t stream, double* out, std::size_t count);

// x_true uniform in [-1, 1) from `seed` (deterministic), b = A x_true summed
// row by row in stored column order (bitwise the same for any thread count).
// A must be square.
HostLinearSystem with_known_solution(HostCsr A, std::uint64_t seed);

}  // namespace numlab::linsolve
