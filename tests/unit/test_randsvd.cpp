// SPDX-License-Identifier: MIT
// randsvd: the generated matrix's singular values (LAPACK dgesvd, independent of numlab) are the
// prescribed ones, so its 2-norm condition number is `cond`; deterministic per seed; the driver's
// problem keys and their config errors.
#include "driver_helpers.hpp"

#include "linsolve/randsvd.hpp"

#include <Kokkos_Core.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

extern "C" {
// LAPACK (Fortran ABI; trailing size_t: gfortran's hidden CHARACTER lengths).
void dgesvd_(const char* jobu, const char* jobvt, const int* m, const int* n, double* a, const int* lda, double* s,
             double* u, const int* ldu, double* vt, const int* ldvt, double* work, const int* lwork, int* info,
             std::size_t, std::size_t);
}

namespace {

using namespace numlab::linsolve;
using Exec = Kokkos::DefaultExecutionSpace;
constexpr double eps = std::numeric_limits<double>::epsilon();

std::vector<double> host_matrix(DenseMatrix<Exec> const& A) {  // column-major
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), A);
  return std::vector<double>(h.data(), h.data() + h.size());
}

std::vector<double> singular_values(std::vector<double> a, int n) {
  std::vector<double> s(n);
  int info = 0, lwork = -1;
  double q = 0;
  dgesvd_("N", "N", &n, &n, a.data(), &n, s.data(), nullptr, &n, nullptr, &n, &q, &lwork, &info, 1, 1);
  lwork = int(q);
  std::vector<double> work(std::max(1, lwork));
  dgesvd_("N", "N", &n, &n, a.data(), &n, s.data(), nullptr, &n, nullptr, &n, work.data(), &lwork, &info, 1, 1);
  EXPECT_EQ(info, 0);
  return s;
}

}  // namespace

// Every singular value within c n eps of the prescribed one (||A||_2 = 1: dgesvd's error bound is
// absolute, of order n eps ||A||), hence cond(A) = cond to that accuracy relative to sigma_min.
TEST(Randsvd, SingularValuesAndConditionNumberAsPrescribed) {
  for (int n : {1, 2, 17, 64, 65, 150}) {
    for (double cond : {1.0, 1e3, 1e8}) {
      for (auto d : {SvDistribution::geometric, SvDistribution::one_small, SvDistribution::one_large,
                     SvDistribution::arithmetic}) {
        SCOPED_TRACE("n " + std::to_string(n) + " cond " + std::to_string(cond) + " mode " + std::to_string(int(d)));
        const auto A = randsvd(Exec(), n, cond, d, 42);
        const auto s = singular_values(host_matrix(A), n);
        const auto want = randsvd_singular_values(n, cond, d);
        for (int i = 0; i < n; ++i) EXPECT_NEAR(s[i], want[i], 10.0 * n * eps) << i;
        if (n == 1) continue;  // a 1 x 1 matrix has cond 1 whatever is asked
        const double measured = s[0] / s[n - 1];
        // sigma_min's absolute error 10 n eps is relative 10 n eps cond.
        EXPECT_NEAR(measured / cond, 1.0, std::max(1e-12, 20.0 * n * eps * cond)) << measured;
      }
    }
  }
}

TEST(Randsvd, SingularValueDistributions) {
  auto g = randsvd_singular_values(5, 1e4, SvDistribution::geometric);
  EXPECT_DOUBLE_EQ(g[0], 1.0);
  EXPECT_NEAR(g[2], 1e-2, 1e-16);
  EXPECT_DOUBLE_EQ(g[4], 1e-4);
  auto s = randsvd_singular_values(4, 10, SvDistribution::one_small);
  EXPECT_EQ(s, (std::vector<double>{1, 1, 1, 0.1}));
  auto l = randsvd_singular_values(4, 10, SvDistribution::one_large);
  EXPECT_EQ(l, (std::vector<double>{1, 0.1, 0.1, 0.1}));
  auto a = randsvd_singular_values(3, 4, SvDistribution::arithmetic);
  EXPECT_DOUBLE_EQ(a[1], 0.625);
  EXPECT_THROW(randsvd_singular_values(3, 0.5, SvDistribution::geometric), std::invalid_argument);
}

// Dense, not a disguised diagonal: the factors mix every entry (the largest entry is of order
// sqrt(log n / n), far below sigma_max = 1), and the same seed gives the same matrix.
TEST(Randsvd, DenseAndDeterministic) {
  const int n = 200;
  const auto a = host_matrix(randsvd(Exec(), n, 1e6, SvDistribution::geometric, 7));
  const auto b = host_matrix(randsvd(Exec(), n, 1e6, SvDistribution::geometric, 7));
  const auto c = host_matrix(randsvd(Exec(), n, 1e6, SvDistribution::geometric, 8));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  double amax = 0;
  std::size_t zeros = 0;
  for (double v : a) {
    amax = std::max(amax, std::fabs(v));
    zeros += v == 0.0;
  }
  EXPECT_LT(amax, 0.5);
  EXPECT_EQ(zeros, 0u);
}

TEST(Randsvd, DriverMatrixHasTheCondition) {
  using namespace numlab_test;
  auto dir = work_dir();
  fs::path cfg = dir / "randsvd.yaml";
  std::ofstream(cfg) << "name: rs\nkind: linsolve\nwarmup: 0\nrepetitions: 1\n"
                        "matrix: {generator: randsvd, N: 80, cond: 1.0e5, sv_distribution: one_small, seed: 3}\n"
                        "methods: [gauss_elim]\nsave_outputs: true\n";
  fs::path out = dir / "randsvd.h5";
  ASSERT_EQ(run({cfg.string(), "-o", out.string(), "--overwrite", "-q"}, dir / "randsvd.log"), 0)
      << slurp(dir / "randsvd.log");
  auto pts = numlab::results::read_points(out.string());
  ASSERT_EQ(pts.size(), 1u);
  auto const& a = pts[0].attributes;
  EXPECT_EQ(std::get<std::string>(a.at("status")), "solved");
  EXPECT_EQ(std::get<std::int64_t>(a.at("nnz")), 80 * 80);
  EXPECT_EQ(std::get<std::string>(a.at("sv_distribution_effective")), "one_small");
  // GEPP's forward error is bounded by about cond * backward error: 1e5 * n eps.
  EXPECT_LT(numlab::get_real(a, "rel_error"), 1e5 * 80 * eps);
}

TEST(Randsvd, ConfigErrorsNameFileAndLine) {
  using namespace numlab_test;
  auto dir = work_dir();
  struct Case {
    const char* matrix;
    const char* what;
  };
  for (Case c : {Case{"{generator: randsvd, N: 10}", "needs matrix.cond"},
                 Case{"{generator: randsvd, N: 10, cond: 0.5}", "cond"},
                 Case{"{generator: randsvd, N: 10, cond: 10, sv_distribution: flat}", "sv_distribution"},
                 Case{"{generator: randsvd, N: 40000, cond: 10}", "dense"},
                 Case{"{generator: poisson2d, N: 16, cond: 10}", "randsvd's"}}) {
    SCOPED_TRACE(c.matrix);
    fs::path cfg = dir / "bad_randsvd.yaml";
    std::ofstream(cfg) << "name: bad\nkind: linsolve\nmatrix: " << c.matrix << "\nmethods: [gauss_elim]\n";
    fs::path log = dir / "bad_randsvd.log";
    EXPECT_EQ(run({cfg.string(), "--dry-run"}, log), 2);
    const std::string text = slurp(log);
    EXPECT_NE(text.find("bad_randsvd.yaml:3"), std::string::npos) << text;
    EXPECT_NE(text.find(c.what), std::string::npos) << text;
  }
}
