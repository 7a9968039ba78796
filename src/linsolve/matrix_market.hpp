// SPDX-License-Identifier: MIT
// Matrix Market (.mtx) input and output, https://math.nist.gov/MatrixMarket/formats.html
#pragma once

#include "linsolve/csr.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace numlab::linsolve {

// Malformed or unreadable file. what() reads "PATH:LINE: problem (expected ...)",
// or "PATH: problem" where no single line is at fault (cannot open, I/O error).
class MatrixMarketError : public std::runtime_error {
 public:
  MatrixMarketError(std::string const& path, std::int64_t line, std::string const& problem);
  std::string const& path() const noexcept { return path_; }
  std::int64_t line() const noexcept { return line_; }   // 1-based; 0 if none

 private:
  std::string path_;
  std::int64_t line_;
};

// Square matrix from a `matrix coordinate` file (field real, integer or pattern,
// symmetry general, symmetric or skew-symmetric) or a `matrix array` file (real
// or integer). Symmetric files must store the lower triangle (i >= j) and are
// expanded; skew-symmetric ones the strict lower triangle (mirrored with the
// opposite sign). Duplicate coordinates are summed, pattern entries read as 1.
// Exactly what the file stores is kept: explicit zeros stay, a missing diagonal
// is not added (the Gauss-Seidel solvers then report a zero pivot). For array
// files every nonzero and every diagonal entry is stored. Non-square matrices,
// complex/hermitian files and non-finite values are errors.
HostCsr read_matrix_market(std::string const& path);

// The banner and size line alone (what the config check reads): the matrix a linear system
// can use, square and at least 1 x 1, or a MatrixMarketError naming the line.
struct MatrixMarketSize {
  std::int64_t rows = 0, cols = 0, entries = 0;  // entries: stored entries (coordinate), rows*cols (array)
};
MatrixMarketSize read_matrix_market_size(std::string const& path);

// Vector from an n x 1 (or 1 x n) `matrix array` or `matrix coordinate` file,
// field real or integer, symmetry general; coordinate entries not listed are 0.
HostVector read_matrix_market_vector(std::string const& path);

// `matrix coordinate real general`, 1-based, values printed with %.17g so they
// read back bit-exactly. Each line of `comment` becomes a "% " comment line.
// Throws MatrixMarketError if the file cannot be written, std::invalid_argument
// for a non-finite value (the reader would reject it).
void write_matrix_market(std::string const& path, HostCsr const& A, std::string const& comment = "");

// `matrix array real general`, n x 1, %.17g; errors as write_matrix_market.
void write_matrix_market_vector(std::string const& path, HostVector const& v);

}  // namespace numlab::linsolve
