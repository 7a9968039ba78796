// SPDX-License-Identifier: MIT
// The level-scheduled (wavefront) exact Gauss-Seidel: level counts of the sweep DAG, iterates
// equal to the one-thread sweep's on 1D/2D Poisson, random sparse (unsymmetric) and unsorted
// matrices in every direction and with SOR, the automatic kernel choice, and config errors.
#include "driver_helpers.hpp"

#include "csr_helpers.hpp"
#include "linsolve/csr.hpp"
#include "linsolve/gauss_seidel.hpp"
#include "linsolve/generators.hpp"

#include <Kokkos_Core.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

namespace {

using namespace numlab::linsolve;
using numlab_test::run;
using numlab_test::slurp;
using numlab_test::work_dir;
using Exec = Kokkos::DefaultExecutionSpace;
using numlab_test::host_csr;
using numlab_test::Triplet;


// 1D Poisson (tridiagonal 2, -1): every row couples to the previous one, n levels.
HostCsr poisson1d(int n) {
  std::vector<Triplet> t;
  for (int i = 0; i < n; ++i) {
    if (i > 0) t.emplace_back(i, i - 1, -1.0);
    t.emplace_back(i, i, 2.0);
    if (i < n - 1) t.emplace_back(i, i + 1, -1.0);
  }
  return host_csr(n, t);
}

// The rows' entries in reverse order (unsorted: the generic row path).
HostCsr reversed_rows(HostCsr const& A) {
  std::vector<Triplet> t;
  for (int i = 0; i < A.numRows(); ++i)
    for (auto k = A.graph.row_map(i + 1); k-- > A.graph.row_map(i);) t.emplace_back(i, A.graph.entries(k), A.values(k));
  return host_csr(A.numRows(), t);
}

Vector<Exec> random_vec(int n, unsigned seed) {
  Vector<Exec> d("v", n);
  auto h = Kokkos::create_mirror_view(d);
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int i = 0; i < n; ++i) h(i) = u(g);
  Kokkos::deep_copy(d, h);
  return d;
}

std::vector<double> host_vec(Vector<Exec> const& d) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), d);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

GaussSeidelOptions opts(GsKernel k, SweepDirection d = SweepDirection::forward, double omega = 1.0) {
  GaussSeidelOptions o;
  o.variant = GsVariant::sequential;
  o.kernel = k;
  o.direction = d;
  o.omega = omega;
  return o;
}

// x after `sweeps` sweeps from a random x0 with a random b.
std::vector<double> sweeps_of(Csr<Exec> const& A, GaussSeidelOptions const& o, int sweeps) {
  GaussSeidel<Exec> gs(Exec(), A, o);
  auto b = random_vec(A.numRows(), 1);
  auto x = random_vec(A.numRows(), 2);
  for (int s = 0; s < sweeps; ++s) gs.sweep(b, x);
  Kokkos::fence();
  return host_vec(x);
}

// max_i |x_i - y_i| / max_i |y_i|.
double rel_max_diff(std::vector<double> const& x, std::vector<double> const& y) {
  double d = 0, m = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    d = std::max(d, std::fabs(x[i] - y[i]));
    m = std::max(m, std::fabs(y[i]));
  }
  return d / m;
}

// Both level kernels against the one-thread sweep after 7 sweeps, every direction, omega 1 and
// 1.5. The row arithmetic is shared, so the iterates agree bitwise unless the compiler contracts
// a row differently in the two kernels (an FMA): a few ulps, bounded here by 4 eps.
void expect_levels_match_one_thread(HostCsr const& h) {
  const auto A = to_device<Exec>(h);
  constexpr double tol = 4 * std::numeric_limits<double>::epsilon();
  for (auto d : {SweepDirection::forward, SweepDirection::backward, SweepDirection::symmetric})
    for (double omega : {1.0, 1.5}) {
      const auto ref = sweeps_of(A, opts(GsKernel::one_thread, d, omega), 7);
      for (auto k : {GsKernel::level_launch, GsKernel::level_team}) {
        SCOPED_TRACE(std::string(to_string(k)) + " " + to_string(d) + " omega " + std::to_string(omega));
        EXPECT_LE(rel_max_diff(sweeps_of(A, opts(k, d, omega), 7), ref), tol);
      }
    }
}

int levels_of(HostCsr const& h) {
  GaussSeidel<Exec> gs(Exec(), to_device<Exec>(h), opts(GsKernel::level_launch));
  return gs.num_levels();
}

}  // namespace

TEST(GsLevels, Poisson2DHasNxPlusNyMinusOneAntiDiagonals) {
  for (auto [nx, ny] : {std::pair{1, 1}, {7, 7}, {13, 9}, {1, 17}, {32, 31}}) {
    SCOPED_TRACE(std::to_string(nx) + " x " + std::to_string(ny));
    GaussSeidel<Exec> gs(Exec(), to_device<Exec>(poisson2d(nx, ny)), opts(GsKernel::level_launch));
    EXPECT_EQ(gs.num_levels(), nx + ny - 1);
    EXPECT_EQ(gs.max_level_rows(), std::min(nx, ny));  // the longest anti-diagonal
    EXPECT_STREQ(gs.kernel_run(), "level_launch");
  }
}

TEST(GsLevels, Poisson1DIsOneChain) {
  EXPECT_EQ(levels_of(poisson1d(1)), 1);
  EXPECT_EQ(levels_of(poisson1d(100)), 100);
}

TEST(GsLevels, DiagonalMatrixIsOneLevel) {
  std::vector<Triplet> t;
  for (int i = 0; i < 50; ++i) t.emplace_back(i, i, 1.0 + i);
  EXPECT_EQ(levels_of(host_csr(50, t)), 1);
}

// An upper-only coupling a_02: row 0 must read the OLD x_2, so row 2 waits for row 0 although row
// 2 reads nothing from row 0 (a lower-triangle-only DAG would put both in level 0, and x_2 could be
// updated before row 0 reads it).
TEST(GsLevels, UpperOnlyCouplingOrdersTheRowsToo) {
  const HostCsr h = host_csr(3, {{0, 0, 4.0}, {0, 2, 1.0}, {1, 1, 3.0}, {2, 2, 5.0}});
  EXPECT_EQ(levels_of(h), 2);
  expect_levels_match_one_thread(h);
}

TEST(GsLevels, IteratesEqualOneThreadOnPoisson1D) { expect_levels_match_one_thread(poisson1d(257)); }

TEST(GsLevels, IteratesEqualOneThreadOnPoisson2D) {
  expect_levels_match_one_thread(poisson2d(31, 29));
  expect_levels_match_one_thread(poisson2d(64, 64));
}

TEST(GsLevels, IteratesEqualOneThreadOnRandomSparse) {
  RandomSparseParams p;
  p.N = 500;
  p.density = 0.01;  // unsymmetric pattern: the levels come from A + A^T
  p.dominance_factor = 2.0;
  p.seed = 7;
  expect_levels_match_one_thread(random_sparse(p));
  p.N = 1023;
  p.density = 0.002;
  p.seed = 8;
  const HostCsr h = random_sparse(p);
  EXPECT_GT(levels_of(h), 1);
  EXPECT_LT(levels_of(h), 1023);
  expect_levels_match_one_thread(h);
}

TEST(GsLevels, IteratesEqualOneThreadOnUnsortedRows) { expect_levels_match_one_thread(reversed_rows(poisson2d(17, 11))); }

// The whole solve: the same residual history and iterations as the one-thread kernel.
TEST(GsLevels, SolveMatchesOneThreadIterationByIteration) {
  const auto A = to_device<Exec>(poisson2d(20, 20));
  auto b = random_vec(400, 3);
  IterativeResult r[2];
  int q = 0;
  for (auto k : {GsKernel::one_thread, GsKernel::level_launch}) {
    auto o = opts(k, SweepDirection::symmetric, 1.3);
    o.tol = 1e-9;
    GaussSeidel<Exec> gs(Exec(), A, o);
    Vector<Exec> x("x", 400);
    r[q++] = gs.solve(b, x);
  }
  EXPECT_EQ(r[0].status, SolveStatus::converged);
  EXPECT_EQ(r[0].iterations, r[1].iterations);
  ASSERT_EQ(r[0].residual_history.size(), r[1].residual_history.size());
  for (std::size_t i = 0; i < r[0].residual_history.size(); ++i)
    EXPECT_NEAR(r[1].residual_history[i], r[0].residual_history[i], 1e-12 * r[0].residual_history[0]) << i;
}

TEST(GsLevels, AutomaticKernelChoice) {
  using H = Kokkos::DefaultHostExecutionSpace;
  EXPECT_EQ(select_sequential_kernel<H>(GsKernel::automatic, 1000000, 1999, 1), GsKernel::one_thread);
  EXPECT_EQ(select_sequential_kernel<H>(GsKernel::automatic, 1000000, 1999, 2), GsKernel::one_thread);  // 500 rows
  EXPECT_EQ(select_sequential_kernel<H>(GsKernel::automatic, 4000000, 3999, 2), GsKernel::level_team);
  EXPECT_EQ(select_sequential_kernel<H>(GsKernel::automatic, 2000, 2000, 8), GsKernel::one_thread);  // a chain
  EXPECT_EQ(select_sequential_kernel<H>(GsKernel::level_launch, 10, 10, 1), GsKernel::level_launch);
  // auto with one host thread runs one_thread and still reports the levels it counted.
  GaussSeidel<H> gs(H(), to_device<H>(poisson2d(10, 12)), opts(GsKernel::automatic));
  if (H().concurrency() == 1) {
    EXPECT_EQ(gs.sequential_kernel(), GsKernel::one_thread);
    EXPECT_EQ(gs.num_levels(), 21);
  }
}

TEST(GsLevels, KernelOfAnotherVariantIsRejected) {
  auto o = opts(GsKernel::level_team);
  o.variant = GsVariant::multicolor;
  EXPECT_THROW(GaussSeidel<Exec>(Exec(), to_device<Exec>(poisson1d(4)), o), std::invalid_argument);
}

// Through the driver: the point records kernel_run, num_levels and the sweep time.
TEST(GsLevels, DriverRecordsLevelsAndKernel) {
  auto dir = work_dir();
  fs::path cfg = dir / "levels.yaml";
  std::ofstream(cfg) << "name: levels\nkind: linsolve\nwarmup: 0\nrepetitions: 1\n"
                        "matrix: {generator: poisson2d, N: 400}\n"
                        "methods:\n"
                        "  - {name: gauss_seidel, kernel: one_thread, max_iter: 5, spectral_radius: false}\n"
                        "  - {name: gauss_seidel, kernel: level_launch, max_iter: 5, spectral_radius: false}\n";
  fs::path out = dir / "levels.h5";
  ASSERT_EQ(run({cfg.string(), "-o", out.string(), "--overwrite", "-q"}, dir / "levels.log"), 0)
      << slurp(dir / "levels.log");
  auto pts = numlab::results::read_points(out.string());
  ASSERT_EQ(pts.size(), 2u);
  auto const& a0 = pts[0].attributes;
  auto const& a1 = pts[1].attributes;
  EXPECT_EQ(std::get<std::string>(a0.at("kernel_run")), "one_thread");
  EXPECT_EQ(std::get<std::string>(a1.at("kernel_run")), "level_launch");
  EXPECT_EQ(std::get<std::int64_t>(a1.at("num_levels")), 39);  // 20 x 20 grid
  EXPECT_GT(numlab::get_real(a1, "sweep_seconds_median"), 0.0);
  EXPECT_NEAR(numlab::get_real(a1, "rel_residual"), numlab::get_real(a0, "rel_residual"),
              1e-12 * numlab::get_real(a0, "rel_residual"));
}

// Config errors exit 2 naming the file and line of the key.
TEST(GsLevels, ConfigErrorsNameFileAndLine) {
  auto dir = work_dir();
  struct Case {
    const char* method;
    const char* what;
  };
  for (Case c : {Case{"{name: gauss_seidel, variant: multicolor, kernel: level_team}", "variant sequential"},
                 Case{"{name: gauss_seidel, kernel: wavefront}", "kernel"},
                 Case{"{name: gauss_seidel, omega: 2.0}", "omega"}}) {
    SCOPED_TRACE(c.method);
    fs::path cfg = dir / "bad_levels.yaml";
    std::ofstream(cfg) << "name: bad\nkind: linsolve\nmatrix: {generator: poisson2d, N: 16}\nmethods:\n  - "
                       << c.method << "\n";
    fs::path log = dir / "bad_levels.log";
    EXPECT_EQ(run({cfg.string(), "--dry-run"}, log), 2);
    const std::string text = slurp(log);
    EXPECT_NE(text.find("bad_levels.yaml:5"), std::string::npos) << text;
    EXPECT_NE(text.find(c.what), std::string::npos) << text;
  }
}
