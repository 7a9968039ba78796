// SPDX-License-Identifier: MIT
#include "linsolve/diagnostics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace numlab::linsolve {

namespace {

// A copy of the column indices with every row sorted, or nothing (and
// already_sorted) when A's rows are sorted, as the generators and reader give.
std::vector<ordinal_t> sorted_columns(HostCsr const& A, bool& already_sorted) {
  auto const& row_map = A.graph.row_map;
  auto const& entries = A.graph.entries;
  already_sorted = true;
  for (std::int64_t i = 0; i < A.numRows() && already_sorted; ++i) {
    for (std::size_t k = row_map(i) + 1; k < row_map(i + 1); ++k) {
      if (entries(k - 1) > entries(k)) {
        already_sorted = false;
        break;
      }
    }
  }
  if (already_sorted) return {};
  std::vector<ordinal_t> cols(entries.data(), entries.data() + entries.extent(0));
  for (std::int64_t i = 0; i < A.numRows(); ++i) {
    std::sort(cols.begin() + static_cast<std::ptrdiff_t>(row_map(i)),
              cols.begin() + static_cast<std::ptrdiff_t>(row_map(i + 1)));
  }
  return cols;
}

bool is_structurally_symmetric(HostCsr const& A) {
  bool already_sorted = true;
  const std::vector<ordinal_t> copy = sorted_columns(A, already_sorted);
  const ordinal_t* cols = already_sorted ? A.graph.entries.data() : copy.data();
  auto const& row_map = A.graph.row_map;
  for (std::int64_t i = 0; i < A.numRows(); ++i) {
    for (std::size_t k = row_map(i); k < row_map(i + 1); ++k) {
      const ordinal_t j = cols[k];
      if (j == i) continue;
      if (!std::binary_search(cols + row_map(j), cols + row_map(j + 1), static_cast<ordinal_t>(i))) return false;
    }
  }
  return true;
}

}  // namespace

MatrixDiagnostics diagnose(HostCsr const& A) {
  if (A.numRows() != A.numCols()) {
    throw std::invalid_argument("diagnose: matrix is " + std::to_string(A.numRows()) + " x " +
                                std::to_string(A.numCols()) + ", not square");
  }
  MatrixDiagnostics d;
  d.n = A.numRows();
  d.nnz = static_cast<std::int64_t>(A.nnz());
  d.density = d.n == 0 ? 0.0 : static_cast<double>(d.nnz) / (static_cast<double>(d.n) * static_cast<double>(d.n));

  auto const& row_map = A.graph.row_map;
  auto const& entries = A.graph.entries;
  auto const& values = A.values;
  double margin = std::numeric_limits<double>::infinity();
  std::int64_t dominant_rows = 0;
  double sum_squares = 0.0;
  for (std::int64_t i = 0; i < d.n; ++i) {
    double diag = 0.0, off_sum = 0.0;
    for (std::size_t k = row_map(i); k < row_map(i + 1); ++k) {
      const double v = values(k);
      sum_squares += v * v;
      if (entries(k) == i) diag += v;
      else off_sum += std::fabs(v);
    }
    const double abs_diag = std::fabs(diag);
    margin = std::min(margin, abs_diag == 0.0 ? -std::numeric_limits<double>::infinity()
                                              : (abs_diag - off_sum) / abs_diag);
    dominant_rows += abs_diag > off_sum;
  }
  d.dominance_margin = margin;
  d.dominant_row_fraction = d.n == 0 ? 0.0 : static_cast<double>(dominant_rows) / static_cast<double>(d.n);
  d.frobenius_norm = std::sqrt(sum_squares);
  d.structurally_symmetric = is_structurally_symmetric(A);
  return d;
}

}  // namespace numlab::linsolve
