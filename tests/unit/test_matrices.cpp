// SPDX-License-Identifier: MIT
// Test matrices: generators, Matrix Market I/O and diagnostics.
#include "linsolve/diagnostics.hpp"
#include "linsolve/generators.hpp"
#include "linsolve/matrix_market.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace nl = numlab::linsolve;

namespace {

std::string data_file(std::string const& name) { return std::string(NUMLAB_TEST_DATA_DIR) + "/" + name; }

std::string temp_file(std::string const& name) {
  auto const* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return ::testing::TempDir() + "numlab_" + info->name() + "_" + name;
}

void write_text(std::string const& path, std::string const& text) {
  std::ofstream(path) << text;
}

std::vector<double> to_dense(nl::HostCsr const& A) {
  const std::int64_t n = A.numRows(), m = A.numCols();
  std::vector<double> dense(static_cast<std::size_t>(n * m), 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::size_t k = A.graph.row_map(i); k < A.graph.row_map(i + 1); ++k) {
      dense[static_cast<std::size_t>(i * m + A.graph.entries(k))] += A.values(k);
    }
  }
  return dense;
}

// Row i as column -> value, for entry-by-entry checks.
std::map<int, double> row_of(nl::HostCsr const& A, std::int64_t i) {
  std::map<int, double> row;
  for (std::size_t k = A.graph.row_map(i); k < A.graph.row_map(i + 1); ++k) row[A.graph.entries(k)] = A.values(k);
  return row;
}

bool bitwise_equal(nl::HostCsr const& a, nl::HostCsr const& b) {
  if (a.numRows() != b.numRows() || a.numCols() != b.numCols() || a.nnz() != b.nnz()) return false;
  for (std::int64_t i = 0; i <= a.numRows(); ++i) {
    if (a.graph.row_map(i) != b.graph.row_map(i)) return false;
  }
  for (std::size_t k = 0; k < a.nnz(); ++k) {
    if (a.graph.entries(k) != b.graph.entries(k)) return false;
    if (std::memcmp(&a.values(k), &b.values(k), sizeof(double)) != 0) return false;
  }
  return true;
}

// Sorted strictly increasing columns in every row, diagonal present, indices in range.
void expect_well_formed(nl::HostCsr const& A) {
  ASSERT_EQ(A.numRows(), A.numCols());
  ASSERT_EQ(A.graph.row_map(0), 0u);
  ASSERT_EQ(A.graph.row_map(A.numRows()), A.nnz());
  for (std::int64_t i = 0; i < A.numRows(); ++i) {
    bool has_diagonal = false;
    for (std::size_t k = A.graph.row_map(i); k < A.graph.row_map(i + 1); ++k) {
      const int j = A.graph.entries(k);
      ASSERT_GE(j, 0);
      ASSERT_LT(j, A.numCols());
      if (k > A.graph.row_map(i)) {
        ASSERT_LT(A.graph.entries(k - 1), j) << "row " << i << " unsorted or duplicate";
      }
      has_diagonal |= (j == i);
    }
    ASSERT_TRUE(has_diagonal) << "row " << i;
  }
}

std::string error_of(std::string const& path, bool vector = false) {
  try {
    if (vector) nl::read_matrix_market_vector(path);
    else nl::read_matrix_market(path);
  } catch (nl::MatrixMarketError const& e) {
    return e.what();
  }
  ADD_FAILURE() << "no MatrixMarketError for " << path;
  return "";
}

void expect_error_at(std::string const& path, int line, std::string const& phrase) {
  const std::string what = error_of(path);
  EXPECT_NE(what.find(path), std::string::npos) << what;
  EXPECT_NE(what.find(":" + std::to_string(line) + ":"), std::string::npos) << what;
  EXPECT_NE(what.find(phrase), std::string::npos) << what;
}

}  // namespace

// ------------------------------------------------------------- random_sparse --

TEST(RandomSparse, SameSeedSameMatrixOtherSeedDiffers) {
  const nl::RandomSparseParams p{3000, 0.01, 2.0, 42};
  const auto a = nl::random_sparse(p);
  const auto b = nl::random_sparse(p);
  EXPECT_TRUE(bitwise_equal(a, b));
  auto q = p;
  q.seed = 43;
  const auto c = nl::random_sparse(q);
  EXPECT_FALSE(bitwise_equal(a, c));
  // The first rows' patterns should differ too, not only the values.
  bool pattern_differs = false;
  for (std::int64_t i = 0; i < 20 && !pattern_differs; ++i) {
    std::map<int, double> ra = row_of(a, i), rc = row_of(c, i);
    if (ra.size() != rc.size()) pattern_differs = true;
    for (auto ia = ra.begin(), ic = rc.begin(); !pattern_differs && ia != ra.end(); ++ia, ++ic) {
      pattern_differs = ia->first != ic->first;
    }
  }
  EXPECT_TRUE(pattern_differs);
}

// Recorded once (GCC 12, x86-64, Kokkos 3.4 Serial): the generator must give these
// bits on every compiler, platform, backend and thread count.
TEST(RandomSparse, GoldenFingerprint) {
  const auto A = nl::random_sparse({1000, 0.01, 2.0, 42});
  const auto sys = nl::with_known_solution(A, 7);
  std::uint64_t hash_a = 1469598103934665603ULL, hash_x = hash_a;   // FNV-1a over 64-bit words
  auto mix = [](std::uint64_t& h, std::uint64_t word) { h = (h ^ word) * 1099511628211ULL; };
  auto bits = [](double v) {
    std::uint64_t b;
    std::memcpy(&b, &v, sizeof b);
    return b;
  };
  for (std::size_t k = 0; k < A.nnz(); ++k) {
    mix(hash_a, bits(A.values(k)));
    mix(hash_a, static_cast<std::uint64_t>(A.graph.entries(k)));
  }
  for (std::int64_t i = 0; i <= 1000; ++i) mix(hash_a, A.graph.row_map(i));
  for (std::int64_t i = 0; i < 1000; ++i) mix(hash_x, bits(sys.x_true(i)));
  EXPECT_EQ(A.nnz(), 10944u);
  EXPECT_EQ(A.values(0), 11.580883810944101);
  EXPECT_EQ(sys.x_true(0), 0.9460618021237861);
  EXPECT_EQ(hash_a, 4944527136425866726ULL);
  EXPECT_EQ(hash_x, 15359783323511474453ULL);
}

TEST(RandomSparse, RealisedDensityWithinStatisticalBounds) {
  const std::int64_t n = 2000;
  for (double density : {0.01, 0.05, 0.1}) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      const auto A = nl::random_sparse({n, density, 2.0, seed});
      // Off-diagonal entries ~ Binomial(N(N-1), p) with mean density * N^2.
      const double slots = static_cast<double>(n) * static_cast<double>(n - 1);
      const double p = density * static_cast<double>(n) / static_cast<double>(n - 1);
      const double mean = slots * p, sd = std::sqrt(slots * p * (1 - p));
      const double off = static_cast<double>(A.nnz()) - static_cast<double>(n);
      EXPECT_LT(std::fabs(off - mean), 6 * sd) << "density " << density << " seed " << seed;
      const auto d = nl::diagnose(A);
      EXPECT_NEAR(d.density, density + 1.0 / static_cast<double>(n), 6 * sd / (static_cast<double>(n) * n));

      // Row counts vary as Binomial(N-1, p): variance (N-1) p (1-p), not a fixed count.
      double sum = 0, sum_sq = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        const auto c = static_cast<double>(A.graph.row_map(i + 1) - A.graph.row_map(i) - 1);
        sum += c;
        sum_sq += c * c;
      }
      const double row_mean = sum / n, row_var = sum_sq / n - row_mean * row_mean;
      const double expected_var = static_cast<double>(n - 1) * p * (1 - p);
      EXPECT_NEAR(row_var / expected_var, 1.0, 0.2) << "density " << density;
    }
  }
}

TEST(RandomSparse, DominanceMarginsAsDesigned) {
  EXPECT_EQ(nl::dominance_factor_for("strict"), 2.0);
  EXPECT_EQ(nl::dominance_factor_for("weak"), 1.0);
  EXPECT_EQ(nl::dominance_factor_for("none"), 0.5);
  EXPECT_THROW(nl::dominance_factor_for("Strict"), std::invalid_argument);
  EXPECT_THROW(nl::dominance_factor_for(""), std::invalid_argument);

  const std::int64_t n = 500;
  const double density = 0.01;   // some rows have no off-diagonal entry
  auto count_empty_rows = [](nl::HostCsr const& A) {
    std::int64_t empty = 0;
    for (std::int64_t i = 0; i < A.numRows(); ++i) empty += A.graph.row_map(i + 1) - A.graph.row_map(i) == 1;
    return empty;
  };

  const auto strict = nl::random_sparse({n, density, nl::dominance_factor_for("strict"), 7});
  const auto ds = nl::diagnose(strict);
  EXPECT_NEAR(ds.dominance_margin, 0.5, 1e-14);   // 1 - 1/2 in every non-empty row
  EXPECT_EQ(ds.dominant_row_fraction, 1.0);

  const auto weak = nl::random_sparse({n, density, nl::dominance_factor_for("weak"), 7});
  const auto dw = nl::diagnose(weak);
  EXPECT_NEAR(dw.dominance_margin, 0.0, 1e-14);
  // Only rows without off-diagonal entries (a_ii = 1 > 0) are strictly dominant.
  EXPECT_DOUBLE_EQ(dw.dominant_row_fraction, static_cast<double>(count_empty_rows(weak)) / n);

  const auto none = nl::random_sparse({n, density, nl::dominance_factor_for("none"), 7});
  const auto dn = nl::diagnose(none);
  EXPECT_NEAR(dn.dominance_margin, -1.0, 1e-14);   // 1 - 1/0.5
  EXPECT_DOUBLE_EQ(dn.dominant_row_fraction, static_cast<double>(count_empty_rows(none)) / n);
  EXPECT_LT(dn.dominant_row_fraction, 0.5);

  // Same seed, other factor: same pattern and off-diagonal values, only the diagonal scales.
  for (std::int64_t i = 0; i < n; ++i) {
    auto rs = row_of(strict, i), rn = row_of(none, i);
    ASSERT_EQ(rs.size(), rn.size());
    for (auto [j, v] : rs) {
      if (j == i && rs.size() > 1) {
        EXPECT_DOUBLE_EQ(v, 4.0 * rn[j]);
      } else {
        EXPECT_EQ(v, rn[j]);
      }
    }
  }
}

TEST(RandomSparse, SortedNoDuplicatesDiagonalPresentValuesInRange) {
  const std::vector<nl::RandomSparseParams> cases = {
      {1, 0.5, 2.0, 1}, {2, 1.0, 2.0, 1}, {50, 1.0, 2.0, 5}, {100, 0.3, 1.0, 9}, {2000, 0.05, 0.5, 11}, {400, 0.0, 2.0, 3}};
  for (auto const& p : cases) {
    SCOPED_TRACE("N=" + std::to_string(p.N) + " density=" + std::to_string(p.density));
    const auto A = nl::random_sparse(p);
    expect_well_formed(A);
    for (std::int64_t i = 0; i < A.numRows(); ++i) {
      for (std::size_t k = A.graph.row_map(i); k < A.graph.row_map(i + 1); ++k) {
        if (A.graph.entries(k) == i) continue;
        EXPECT_GE(A.values(k), -1.0);
        EXPECT_LT(A.values(k), 1.0);
      }
    }
    if (p.density == 1.0) {
      EXPECT_EQ(A.nnz(), static_cast<std::size_t>(p.N * p.N));
    }
    if (p.density == 0.0) {
      EXPECT_EQ(A.nnz(), static_cast<std::size_t>(p.N));
    }
  }
}

TEST(RandomSparse, RejectsBadParameters) {
  EXPECT_THROW(nl::random_sparse({0, 0.1, 2.0, 1}), std::invalid_argument);
  EXPECT_THROW(nl::random_sparse({10, 1.5, 2.0, 1}), std::invalid_argument);
  EXPECT_THROW(nl::random_sparse({10, -0.1, 2.0, 1}), std::invalid_argument);
  EXPECT_THROW(nl::random_sparse({10, std::nan(""), 2.0, 1}), std::invalid_argument);
  EXPECT_THROW(nl::random_sparse({10, 0.1, -1.0, 1}), std::invalid_argument);
  EXPECT_THROW(nl::random_sparse({std::int64_t{1} << 32, 0.0, 2.0, 1}), std::invalid_argument);
}

TEST(RandomSparse, LargeBuildsQuickly) {
  const std::int64_t n = 2'000'000;
  const auto A = nl::random_sparse({n, 5.0 / static_cast<double>(n), 2.0, 2024});
  EXPECT_EQ(A.numRows(), n);
  const double per_row = static_cast<double>(A.nnz()) / static_cast<double>(n);
  EXPECT_NEAR(per_row, 6.0, 0.01);   // 5 off-diagonal + the diagonal
}

// ------------------------------------------------------- with_known_solution --

TEST(WithKnownSolution, RhsIsAxCheckedByDenseProduct) {
  const auto A = nl::random_sparse({300, 0.05, 2.0, 17});
  const auto sys = nl::with_known_solution(A, 99);
  ASSERT_EQ(sys.x_true.extent(0), 300u);
  ASSERT_EQ(sys.b.extent(0), 300u);
  const auto dense = to_dense(A);
  double diff_sq = 0, ref_sq = 0;
  for (std::size_t i = 0; i < 300; ++i) {
    double ref = 0;
    for (std::size_t j = 0; j < 300; ++j) ref += dense[i * 300 + j] * sys.x_true(j);
    diff_sq += (sys.b(i) - ref) * (sys.b(i) - ref);
    ref_sq += ref * ref;
    EXPECT_GE(sys.x_true(i), -1.0);
    EXPECT_LT(sys.x_true(i), 1.0);
  }
  EXPECT_LE(std::sqrt(diff_sq / ref_sq), 1e-14);

  const auto again = nl::with_known_solution(A, 99);
  const auto other = nl::with_known_solution(A, 100);
  bool other_differs = false;
  for (std::size_t i = 0; i < 300; ++i) {
    EXPECT_EQ(again.x_true(i), sys.x_true(i));
    EXPECT_EQ(again.b(i), sys.b(i));
    other_differs |= other.x_true(i) != sys.x_true(i);
  }
  EXPECT_TRUE(other_differs);
}

// --------------------------------------------------------------- poisson2d --

TEST(Poisson2d, ThreeByFourGridEntryByEntry) {
  // nx = 3, ny = 4: row r = j*3 + i. Neighbours in ascending column order
  // south (r-3), west (r-1), centre, east (r+1), north (r+3).
  const std::vector<std::map<int, double>> expected = {
      /* 0 (0,0) */ {{0, 4}, {1, -1}, {3, -1}},
      /* 1 (1,0) */ {{0, -1}, {1, 4}, {2, -1}, {4, -1}},
      /* 2 (2,0) */ {{1, -1}, {2, 4}, {5, -1}},
      /* 3 (0,1) */ {{0, -1}, {3, 4}, {4, -1}, {6, -1}},
      /* 4 (1,1) */ {{1, -1}, {3, -1}, {4, 4}, {5, -1}, {7, -1}},
      /* 5 (2,1) */ {{2, -1}, {4, -1}, {5, 4}, {8, -1}},
      /* 6 (0,2) */ {{3, -1}, {6, 4}, {7, -1}, {9, -1}},
      /* 7 (1,2) */ {{4, -1}, {6, -1}, {7, 4}, {8, -1}, {10, -1}},
      /* 8 (2,2) */ {{5, -1}, {7, -1}, {8, 4}, {11, -1}},
      /* 9 (0,3) */ {{6, -1}, {9, 4}, {10, -1}},
      /* 10 (1,3) */ {{7, -1}, {9, -1}, {10, 4}, {11, -1}},
      /* 11 (2,3) */ {{8, -1}, {10, -1}, {11, 4}},
  };
  const auto A = nl::poisson2d(3, 4);
  ASSERT_EQ(A.numRows(), 12);
  expect_well_formed(A);
  std::size_t nnz = 0;
  for (std::int64_t i = 0; i < 12; ++i) {
    EXPECT_EQ(row_of(A, i), expected[static_cast<std::size_t>(i)]) << "row " << i;
    nnz += expected[static_cast<std::size_t>(i)].size();
  }
  EXPECT_EQ(A.nnz(), nnz);
  const auto d = nl::diagnose(A);
  EXPECT_TRUE(d.structurally_symmetric);
  EXPECT_DOUBLE_EQ(d.dominance_margin, 0.0);   // interior rows: 4 = 4 * 1
  EXPECT_DOUBLE_EQ(d.frobenius_norm, std::sqrt(12 * 16.0 + static_cast<double>(nnz - 12)));
  EXPECT_THROW(nl::poisson2d(0, 3), std::invalid_argument);
  EXPECT_THROW(nl::poisson2d(65536, 65536), std::invalid_argument);
}

TEST(Poisson2d, GridForN) {
  EXPECT_EQ(nl::poisson_grid_for(1'000'000), std::make_pair(1000, 1000));
  EXPECT_EQ(nl::poisson_grid_for(10'000'000), std::make_pair(3125, 3200));
  EXPECT_EQ(nl::poisson_grid_for(1'000'003), std::make_pair(1, 1'000'003));   // prime
  EXPECT_EQ(nl::poisson_grid_for(12), std::make_pair(3, 4));
  EXPECT_EQ(nl::poisson_grid_for(1), std::make_pair(1, 1));
  EXPECT_EQ(nl::poisson_grid_for(2147395600), std::make_pair(46340, 46340));   // 46340^2
  EXPECT_THROW(nl::poisson_grid_for(0), std::invalid_argument);
}

// ----------------------------------------------------------- Matrix Market --

TEST(MatrixMarket, RoundTripIsBitExact) {
  const auto A = nl::random_sparse({400, 0.03, 1.0, 5});
  const std::string path = temp_file("A.mtx");
  nl::write_matrix_market(path, A, "random_sparse N=400\nsecond comment line");
  const auto B = nl::read_matrix_market(path);
  EXPECT_TRUE(bitwise_equal(A, B));

  const auto P = nl::poisson2d(5, 7);
  nl::write_matrix_market(path, P);
  EXPECT_TRUE(bitwise_equal(P, nl::read_matrix_market(path)));

  const auto sys = nl::with_known_solution(A, 3);
  const std::string vpath = temp_file("b.mtx");
  nl::write_matrix_market_vector(vpath, sys.b);
  const auto b = nl::read_matrix_market_vector(vpath);
  ASSERT_EQ(b.extent(0), sys.b.extent(0));
  for (std::size_t i = 0; i < b.extent(0); ++i) EXPECT_EQ(std::memcmp(&b(i), &sys.b(i), sizeof(double)), 0) << i;

  // Awkward values: subnormal, extremes, negative zero.
  nl::HostVector odd("odd", 5);
  odd(0) = std::numeric_limits<double>::denorm_min();
  odd(1) = std::numeric_limits<double>::max();
  odd(2) = -0.0;
  odd(3) = 1.0 / 3.0;
  odd(4) = -std::numeric_limits<double>::min();
  nl::write_matrix_market_vector(vpath, odd);
  const auto odd_back = nl::read_matrix_market_vector(vpath);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(std::memcmp(&odd_back(i), &odd(i), sizeof(double)), 0) << i;

  odd(3) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(nl::write_matrix_market_vector(vpath, odd), std::invalid_argument);
  EXPECT_THROW(nl::write_matrix_market("/nonexistent-dir/A.mtx", A), nl::MatrixMarketError);
}

TEST(MatrixMarket, ReadsSymmetricFileExpanded) {
  const auto A = nl::read_matrix_market(data_file("symmetric.mtx"));
  expect_well_formed(A);
  EXPECT_EQ(to_dense(A), (std::vector<double>{4, -1, 0, -1, 4, -1.5, 0, -1.5, 4}));
  EXPECT_EQ(A.nnz(), 7u);
  EXPECT_TRUE(nl::diagnose(A).structurally_symmetric);
}

TEST(MatrixMarket, ReadsSkewSymmetricFile) {
  const auto A = nl::read_matrix_market(data_file("skew_symmetric.mtx"));
  EXPECT_EQ(to_dense(A), (std::vector<double>{0, -2.5, 1, 2.5, 0, 0, -1, 0, 0}));
  EXPECT_EQ(A.nnz(), 4u);   // no diagonal stored or added
  EXPECT_EQ(nl::diagnose(A).dominance_margin, -std::numeric_limits<double>::infinity());
}

TEST(MatrixMarket, ReadsPatternFileWithoutAddingDiagonal) {
  const auto A = nl::read_matrix_market(data_file("pattern.mtx"));
  ASSERT_EQ(A.numRows(), 3);
  EXPECT_EQ(row_of(A, 0), (std::map<int, double>{{0, 1.0}, {2, 1.0}}));
  EXPECT_EQ(row_of(A, 1), (std::map<int, double>{{1, 1.0}}));
  EXPECT_EQ(row_of(A, 2), (std::map<int, double>{{0, 1.0}}));
  const auto d = nl::diagnose(A);
  EXPECT_EQ(d.dominance_margin, -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(d.structurally_symmetric);
  EXPECT_DOUBLE_EQ(d.dominant_row_fraction, 1.0 / 3.0);   // row 1 only
}

TEST(MatrixMarket, ReadsIntegerFileSummingDuplicatesKeepingZeros) {
  const auto A = nl::read_matrix_market(data_file("integer.mtx"));
  ASSERT_EQ(A.numRows(), 2);
  EXPECT_EQ(A.nnz(), 4u);
  EXPECT_EQ(row_of(A, 0), (std::map<int, double>{{0, 5.0}, {1, 0.0}}));
  EXPECT_EQ(row_of(A, 1), (std::map<int, double>{{0, 5.0}, {1, -7.0}}));
}

TEST(MatrixMarket, ReadsArrayMatrixAndVectors) {
  const auto A = nl::read_matrix_market(data_file("array_matrix.mtx"));
  EXPECT_EQ(row_of(A, 0), (std::map<int, double>{{0, 1.5}, {1, -2.0}}));
  EXPECT_EQ(row_of(A, 1), (std::map<int, double>{{1, 0.0}}));   // diagonal kept, (2,1) = 0 dropped

  const auto v = nl::read_matrix_market_vector(data_file("vector_array.mtx"));
  ASSERT_EQ(v.extent(0), 3u);
  EXPECT_EQ(v(0), 1.0);
  EXPECT_EQ(v(1), -2.5e-3);
  EXPECT_EQ(v(2), 7.0);

  const auto w = nl::read_matrix_market_vector(data_file("vector_coordinate.mtx"));
  ASSERT_EQ(w.extent(0), 4u);
  EXPECT_EQ(w(0), 0.0);
  EXPECT_EQ(w(1), 0.5);
  EXPECT_EQ(w(2), 0.0);
  EXPECT_EQ(w(3), -3.0);
}

TEST(MatrixMarket, ErrorsNameFileAndLine) {
  expect_error_at(data_file("bad_banner.mtx"), 1, "banner");
  expect_error_at(data_file("truncated.mtx"), 6, "2 of the 4 entries");
  expect_error_at(data_file("index_out_of_range.mtx"), 5, "row index 4 out of range");
  expect_error_at(data_file("non_numeric.mtx"), 6, "'abc'");

  const std::string missing = temp_file("does_not_exist.mtx");
  EXPECT_NE(error_of(missing).find(missing), std::string::npos);

  struct Case {
    std::string text;
    int line;
    std::string phrase;
  };
  const std::vector<Case> cases = {
      {"", 1, "empty file"},
      {"%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n", 1, "complex"},
      {"%%MatrixMarket matrix coordinate real general\n% c\n\n", 4, "size line"},
      {"%%MatrixMarket matrix coordinate real general\n2 3 1\n1 1 1\n", 2, "square"},
      {"%%MatrixMarket matrix coordinate real general\n2 2\n", 2, "rows cols entries"},
      {"%%MatrixMarket matrix coordinate real general\n2 2 1\n1 x 1\n", 3, "column index"},
      {"%%MatrixMarket matrix coordinate real general\n2 2 1\n1 0 1\n", 3, "column index 0 out of range"},
      {"%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1\n", 3, "row col value"},
      {"%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 inf\n", 3, "finite"},
      {"%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1.5x\n", 3, "'1.5x'"},
      {"%%MatrixMarket matrix coordinate integer general\n2 2 1\n1 1 1.5\n", 3, "integer value"},
      {"%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1\n2 2 1\n", 4, "unexpected data"},
      {"%%MatrixMarket matrix coordinate real symmetric\n2 2 1\n1 2 1\n", 3, "lower triangle"},
      {"%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n1 1 1\n", 3, "row > col"},
      {"%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n", 6, "3 of the 4 entries"},
      {"%%MatrixMarket matrix array pattern general\n2 2\n", 1, "pattern"},
  };
  const std::string path = temp_file("bad.mtx");
  for (auto const& c : cases) {
    SCOPED_TRACE(c.text);
    write_text(path, c.text);
    expect_error_at(path, c.line, c.phrase);
  }

  write_text(path, "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n");
  const std::string what = error_of(path, /*vector=*/true);
  EXPECT_NE(what.find(path + ":2:"), std::string::npos) << what;
  EXPECT_NE(what.find("vector"), std::string::npos) << what;
}

// ------------------------------------------------------------- diagnostics --

TEST(Diagnostics, HandComputedSmallMatrix) {
  // [ 2  -1  0 ]
  // [ 0   3  3 ]   row 1 weakly dominant
  // [ 1   0 -4 ]
  const std::string path = temp_file("small.mtx");
  write_text(path,
             "%%MatrixMarket matrix coordinate real general\n3 3 6\n"
             "1 1 2\n1 2 -1\n2 2 3\n2 3 3\n3 1 1\n3 3 -4\n");
  const auto d = nl::diagnose(nl::read_matrix_market(path));
  EXPECT_EQ(d.n, 3);
  EXPECT_EQ(d.nnz, 6);
  EXPECT_DOUBLE_EQ(d.density, 6.0 / 9.0);
  EXPECT_DOUBLE_EQ(d.dominance_margin, 0.0);
  EXPECT_DOUBLE_EQ(d.dominant_row_fraction, 2.0 / 3.0);
  EXPECT_FALSE(d.structurally_symmetric);
  EXPECT_DOUBLE_EQ(d.frobenius_norm, std::sqrt(4.0 + 1 + 9 + 9 + 1 + 16));
}
