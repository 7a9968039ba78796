// SPDX-License-Identifier: MIT
// Structural and dominance summary of a matrix, recorded with every solve so
// convergence (or divergence) of Gauss-Seidel can be related to the matrix.
#pragma once

#include "linsolve/csr.hpp"

#include <cstdint>

namespace numlab::linsolve {

struct MatrixDiagnostics {
  std::int64_t n = 0;
  std::int64_t nnz = 0;                // stored entries, explicit zeros included
  double density = 0.0;                // nnz / n^2
  double dominance_margin = 0.0;       // min_i (|a_ii| - sum_{j!=i} |a_ij|) / |a_ii|:
                                       // > 0 strictly dominant, 0 weakly, < 0 not;
                                       // -inf if some a_ii is 0 or missing
  double dominant_row_fraction = 0.0;  // fraction of rows with |a_ii| > sum_{j!=i} |a_ij|
  bool structurally_symmetric = true;  // (i, j) stored <=> (j, i) stored
  double frobenius_norm = 0.0;
};

// O(nnz) time, serial and deterministic. Duplicate coordinates count as one
// summed entry for the diagonal and add up in the off-diagonal sum. For n = 0:
// density 0, margin +inf, fraction 0. Throws std::invalid_argument if A is not square.
MatrixDiagnostics diagnose(HostCsr const& A);

}  // namespace numlab::linsolve
