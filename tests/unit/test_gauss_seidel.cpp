// SPDX-License-Identifier: MIT
// Gauss-Seidel / SOR: hand-computed sweeps, convergence of the three variants, status rules,
// residual history, and the spectral radius estimate against exact values.
#include "core/interrupt.hpp"
#include "csr_helpers.hpp"
#include "linsolve/csr.hpp"
#include "linsolve/gauss_seidel.hpp"
#include "linsolve/spectral_radius.hpp"

#include <Kokkos_Core.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

namespace {

using namespace numlab::linsolve;
#ifdef TEST_EXECSPACE  // per-backend builds of this file
using Exec = TEST_EXECSPACE;
#else
using Exec = Kokkos::DefaultExecutionSpace;
#endif
using numlab_test::host_csr;
using numlab_test::Triplet;
constexpr double pi = 3.14159265358979323846;

// ------------------------------------------------------------------------ helpers --


Csr<Exec> device_csr(int n, std::vector<Triplet> const& t) { return to_device<Exec>(host_csr(n, t)); }

Vector<Exec> device_vec(std::vector<double> const& v) {
  Vector<Exec> d("v", v.size());
  auto h = Kokkos::create_mirror_view(d);
  for (std::size_t i = 0; i < v.size(); ++i) h(i) = v[i];
  Kokkos::deep_copy(d, h);
  return d;
}

std::vector<double> host_vec(Vector<Exec> const& d) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), d);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

std::vector<double> matvec(int n, std::vector<Triplet> const& t, std::vector<double> const& x) {
  std::vector<double> y(n, 0.0);
  for (auto const& [i, j, v] : t) y[i] += v * x[j];
  return y;
}

double norm2(std::vector<double> const& v) {
  double s = 0;
  for (double e : v) s += e * e;
  return std::sqrt(s);
}

// 5-point Laplacian (4 on the diagonal, -1 to the grid neighbours) on an m x m grid, sorted rows.
std::vector<Triplet> poisson2d(int m) {
  std::vector<Triplet> t;
  for (int gy = 0; gy < m; ++gy)
    for (int gx = 0; gx < m; ++gx) {
      const int i = gy * m + gx;
      if (gy > 0) t.emplace_back(i, i - m, -1.0);
      if (gx > 0) t.emplace_back(i, i - 1, -1.0);
      t.emplace_back(i, i, 4.0);
      if (gx < m - 1) t.emplace_back(i, i + 1, -1.0);
      if (gy < m - 1) t.emplace_back(i, i + m, -1.0);
    }
  return t;
}

// Random sparse matrix with an unsymmetric pattern: off-diagonals uniform in [-1, 1] with
// probability `density`, diagonal = factor * (off-diagonal absolute row sum) + extra.
std::vector<Triplet> random_sparse(int n, double density, double factor, double extra, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0), val(-1.0, 1.0);
  std::vector<Triplet> t;
  for (int i = 0; i < n; ++i) {
    double rowsum = 0;
    std::vector<Triplet> row;
    for (int j = 0; j < n; ++j)
      if (j != i && u(rng) < density) {
        const double a = val(rng);
        rowsum += std::fabs(a);
        row.emplace_back(i, j, a);
      }
    row.emplace_back(i, i, factor * rowsum + extra);
    std::sort(row.begin(), row.end(), [](auto const& a, auto const& b) { return std::get<1>(a) < std::get<1>(b); });
    t.insert(t.end(), row.begin(), row.end());
  }
  return t;
}

// Reference SOR sweep on a dense matrix, written independently of the library.
void dense_sweep(std::vector<std::vector<double>> const& A, std::vector<double> const& b, std::vector<double>& x,
                 double omega, SweepDirection dir) {
  const int n = static_cast<int>(A.size());
  auto row = [&](int i) {
    double s = b[i];
    for (int j = 0; j < n; ++j)
      if (j != i) s -= A[i][j] * x[j];
    x[i] = (1 - omega) * x[i] + omega * s / A[i][i];
  };
  if (dir != SweepDirection::backward)
    for (int i = 0; i < n; ++i) row(i);
  if (dir != SweepDirection::forward)
    for (int i = n - 1; i >= 0; --i) row(i);
}

// rho(G) by Gelfand's formula rho = lim ||G^k||^(1/k), k = 2^40 by repeated squaring with
// rescaling: an estimator independent of power iteration on vectors.
double dense_rho_gelfand(std::vector<std::vector<double>> G) {
  const int n = static_cast<int>(G.size());
  double log_scale = 0;  // log of the factor removed from G^(2^s) so far
  double k = 1;
  for (int s = 0; s < 40; ++s) {
    std::vector<std::vector<double>> P(n, std::vector<double>(n, 0.0));
    for (int i = 0; i < n; ++i)
      for (int l = 0; l < n; ++l)
        for (int j = 0; j < n; ++j) P[i][j] += G[i][l] * G[l][j];
    double f = 0;
    for (auto const& r : P)
      for (double e : r) f = std::max(f, std::fabs(e));
    if (f == 0) return 0;
    for (auto& r : P)
      for (double& e : r) e /= f;
    log_scale = 2 * log_scale + std::log(f);
    k *= 2;
    G = P;
  }
  double f = 0;  // max-abs norm of the rescaled G^k (bounded, its k-th root -> 1)
  for (auto const& r : G)
    for (double e : r) f = std::max(f, std::fabs(e));
  return std::exp((log_scale + std::log(f)) / k);
}

GaussSeidelOptions opts(GsVariant v, SweepDirection d = SweepDirection::forward, double omega = 1.0) {
  GaussSeidelOptions o;
  o.variant = v;
  o.direction = d;
  o.omega = omega;
  return o;
}

constexpr std::array<GsVariant, 3> all_variants = {GsVariant::sequential, GsVariant::multicolor,
                                                   GsVariant::kokkos_kernels};

// ---------------------------------------------------------- hand-computed sweeps --
//
//      [ 4 -1  1 ]       [  8 ]
//  A = [ 2  8 -2 ],  b = [ 16 ],  x0 = 0. Dyadic numbers: every value below is exact in fp64.
//      [-1  2  4 ]       [  4 ]
const std::vector<Triplet> A3 = {{0, 0, 4.0},  {0, 1, -1.0}, {0, 2, 1.0}, {1, 0, 2.0}, {1, 1, 8.0},
                                 {1, 2, -2.0}, {2, 0, -1.0}, {2, 1, 2.0}, {2, 2, 4.0}};
const std::vector<double> b3 = {8.0, 16.0, 4.0};

std::vector<double> run_sweeps(std::vector<Triplet> const& t, GaussSeidelOptions const& o, int sweeps) {
  GaussSeidel<Exec> gs(Exec(), device_csr(3, t), o);
  auto b = device_vec(b3);
  auto x = device_vec({0.0, 0.0, 0.0});
  for (int s = 0; s < sweeps; ++s) gs.sweep(b, x);
  Kokkos::fence();
  return host_vec(x);
}

void expect_vec_eq(std::vector<double> const& got, std::vector<double> const& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-14 * std::fabs(want[i])) << "i=" << i;
}

TEST(GaussSeidelHand, ForwardTwoIterations) {
  // Sweep 1: x0 = (8 - (-1)(0) - (1)(0)) / 4          = 2
  //          x1 = (16 - (2)(2) - (-2)(0)) / 8         = 12/8 = 1.5
  //          x2 = (4 - (-1)(2) - (2)(1.5)) / 4        = 3/4 = 0.75
  expect_vec_eq(run_sweeps(A3, opts(GsVariant::sequential), 1), {2.0, 1.5, 0.75});
  // Sweep 2: x0 = (8 + 1.5 - 0.75) / 4                = 8.75/4 = 2.1875
  //          x1 = (16 - 2(2.1875) + 2(0.75)) / 8      = 13.125/8 = 1.640625
  //          x2 = (4 + 2.1875 - 2(1.640625)) / 4      = 2.90625/4 = 0.7265625
  expect_vec_eq(run_sweeps(A3, opts(GsVariant::sequential), 2), {2.1875, 1.640625, 0.7265625});
}

TEST(GaussSeidelHand, BackwardTwoIterations) {
  const auto o = opts(GsVariant::sequential, SweepDirection::backward);
  // Sweep 1 (rows 2, 1, 0): x2 = (4 - 0 - 0) / 4                    = 1
  //                         x1 = (16 - 2(0) + 2(1)) / 8              = 18/8 = 2.25
  //                         x0 = (8 + 2.25 - 1) / 4                  = 9.25/4 = 2.3125
  expect_vec_eq(run_sweeps(A3, o, 1), {2.3125, 2.25, 1.0});
  // Sweep 2: x2 = (4 + 2.3125 - 2(2.25)) / 4                         = 1.8125/4 = 0.453125
  //          x1 = (16 - 2(2.3125) + 2(0.453125)) / 8                 = 12.28125/8 = 1.53515625
  //          x0 = (8 + 1.53515625 - 0.453125) / 4                    = 9.08203125/4 = 2.2705078125
  expect_vec_eq(run_sweeps(A3, o, 2), {2.2705078125, 1.53515625, 0.453125});
}

TEST(GaussSeidelHand, SymmetricIsForwardThenBackward) {
  // Forward gives (2, 1.5, 0.75) as above; then backward:
  //   x2 = (4 + 2 - 2(1.5)) / 4 = 0.75;  x1 = (16 - 2(2) + 2(0.75)) / 8 = 13.5/8 = 1.6875
  //   x0 = (8 + 1.6875 - 0.75) / 4 = 8.9375/4 = 2.234375
  expect_vec_eq(run_sweeps(A3, opts(GsVariant::sequential, SweepDirection::symmetric), 1), {2.234375, 1.6875, 0.75});
}

TEST(GaussSeidelHand, SorOmega15TwoIterations) {
  const auto o = opts(GsVariant::sequential, SweepDirection::forward, 1.5);
  // x_i <- (1 - w) x_i + w (b_i - sum_{j != i} a_ij x_j) / a_ii, w = 1.5
  // Sweep 1: x0 = 1.5 (8)/4 = 3;  x1 = 1.5 (16 - 2(3))/8 = 1.875
  //          x2 = 1.5 (4 + 3 - 2(1.875))/4 = 1.5 (3.25)/4 = 1.21875
  expect_vec_eq(run_sweeps(A3, o, 1), {3.0, 1.875, 1.21875});
  // Sweep 2: x0 = -0.5(3) + 1.5 (8 + 1.875 - 1.21875)/4 = -1.5 + 3.24609375 = 1.74609375
  //          x1 = -0.5(1.875) + 1.5 (16 - 3.4921875 + 2.4375)/8 = -0.9375 + 2.80224609375 = 1.86474609375
  //          x2 = -0.5(1.21875) + 1.5 (4 + 1.74609375 - 3.7294921875)/4
  //             = -0.609375 + 0.7562255859375 = 0.1468505859375
  expect_vec_eq(run_sweeps(A3, o, 2), {1.74609375, 1.86474609375, 0.1468505859375});
}

TEST(GaussSeidelHand, UnsortedRowsTakeGenericPathWithSameResult) {
  // Same matrix, entries of each row shuffled (diagonal not in column order).
  const std::vector<Triplet> shuffled = {{0, 2, 1.0},  {0, 0, 4.0}, {0, 1, -1.0}, {1, 2, -2.0}, {1, 0, 2.0},
                                         {1, 1, 8.0},  {2, 2, 4.0}, {2, 1, 2.0},  {2, 0, -1.0}};
  GaussSeidel<Exec> sorted(Exec(), device_csr(3, A3), opts(GsVariant::sequential));
  GaussSeidel<Exec> unsorted(Exec(), device_csr(3, shuffled), opts(GsVariant::sequential));
  EXPECT_TRUE(sorted.split_rows());
  EXPECT_FALSE(unsorted.split_rows());
  expect_vec_eq(run_sweeps(shuffled, opts(GsVariant::sequential), 2), {2.1875, 1.640625, 0.7265625});
  expect_vec_eq(run_sweeps(shuffled, opts(GsVariant::sequential, SweepDirection::backward), 2),
                {2.2705078125, 1.53515625, 0.453125});
  expect_vec_eq(run_sweeps(shuffled, opts(GsVariant::sequential, SweepDirection::forward, 1.5), 2),
                {1.74609375, 1.86474609375, 0.1468505859375});
}

// ------------------------------------------------------------------------ setup --

TEST(GaussSeidelSetup, ZeroOrMissingDiagonalThrowsNamingRow) {
  for (auto v : all_variants) {
    // Row 1 has an explicit zero diagonal.
    const std::vector<Triplet> zero = {{0, 0, 2.0}, {1, 0, 1.0}, {1, 1, 0.0}, {2, 2, 3.0}};
    try {
      GaussSeidel<Exec> gs(Exec(), device_csr(3, zero), opts(v));
      ADD_FAILURE() << "no exception for variant " << to_string(v);
    } catch (std::invalid_argument const& e) {
      EXPECT_NE(std::string(e.what()).find("row 1"), std::string::npos) << e.what();
    }
    // Row 2 has no diagonal entry at all.
    const std::vector<Triplet> missing = {{0, 0, 2.0}, {1, 1, 1.0}, {2, 0, 3.0}};
    try {
      GaussSeidel<Exec> gs(Exec(), device_csr(3, missing), opts(v));
      ADD_FAILURE() << "no exception for variant " << to_string(v);
    } catch (std::invalid_argument const& e) {
      EXPECT_NE(std::string(e.what()).find("row 2"), std::string::npos) << e.what();
    }
  }
}

TEST(GaussSeidelSetup, RejectsOmegaOutsideOpenInterval) {
  EXPECT_THROW(GaussSeidel<Exec>(Exec(), device_csr(3, A3), opts(GsVariant::sequential, SweepDirection::forward, 0.0)),
               std::invalid_argument);
  EXPECT_THROW(GaussSeidel<Exec>(Exec(), device_csr(3, A3), opts(GsVariant::sequential, SweepDirection::forward, 2.0)),
               std::invalid_argument);
}

TEST(GaussSeidelSetup, NumColorsAndBytesPerSweep) {
  const int m = 20, n = m * m;
  const auto t = poisson2d(m);
  const std::size_t nnz = t.size();
  GaussSeidel<Exec> seq(Exec(), device_csr(n, t), opts(GsVariant::sequential));
  EXPECT_EQ(seq.num_colors(), 1);
  EXPECT_EQ(seq.bytes_per_sweep(), nnz * 12 + (n + 1) * 8 + 3 * n * 8);
  GaussSeidel<Exec> sym(Exec(), device_csr(n, t), opts(GsVariant::sequential, SweepDirection::symmetric));
  EXPECT_EQ(sym.bytes_per_sweep(), 2 * seq.bytes_per_sweep());
  GaussSeidel<Exec> mc(Exec(), device_csr(n, t), opts(GsVariant::multicolor));
  EXPECT_GE(mc.num_colors(), 2);  // red-black is optimal for the 5-point grid
  EXPECT_LE(mc.num_colors(), 5);  // greedy bound: max degree + 1
  GaussSeidel<Exec> kk(Exec(), device_csr(n, t), opts(GsVariant::kokkos_kernels));
  EXPECT_GE(kk.num_colors(), 0);
}

// ------------------------------------------------------------------ convergence --

// Solves A x = b (b = A x_true) with every variant and direction; checks status and the
// error against a bound that follows from the stopping rule:
//   ||r||_2 <= tol ||b||_2  and  ||x - x_true|| <= ||A^{-1}|| ||r||,
// with ||A^{-1}||_inf <= 1/delta (Varah, delta = min_i |a_ii| - sum_{j!=i} |a_ij|) for the
// strictly dominant matrix and ||A^{-1}||_2 = 1/lambda_min = 1/(8 sin^2(pi h/2)) for Poisson.
// A slack of 1.01 plus 1e-12 absolute covers rounding in the residual itself.
void check_all_variants_converge(int n, std::vector<Triplet> const& t, double inv_norm_bound, bool inf_norm) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> xt(n);
  for (double& e : xt) e = u(rng);
  const auto bh = matvec(n, t, xt);
  const double tol = 1e-10;
  const double bound = 1.01 * tol * norm2(bh) * inv_norm_bound + 1e-12;
  auto A = device_csr(n, t);
  auto b = device_vec(bh);
  std::vector<std::vector<double>> solutions;
  for (auto v : all_variants)
    for (auto d : {SweepDirection::forward, SweepDirection::backward, SweepDirection::symmetric}) {
      auto o = opts(v, d);
      o.tol = tol;
      o.max_iter = 20000;
      GaussSeidel<Exec> gs(Exec(), A, o);
      auto x = device_vec(std::vector<double>(n, 0.0));
      const auto r = gs.solve(b, x);
      SCOPED_TRACE(std::string(to_string(v)) + "/" + to_string(d));
      EXPECT_EQ(r.status, SolveStatus::converged);
      EXPECT_LE(r.rel_residual, tol);
      const auto xh = host_vec(x);
      double err = 0;
      for (int i = 0; i < n; ++i)
        err = inf_norm ? std::max(err, std::fabs(xh[i] - xt[i])) : err + (xh[i] - xt[i]) * (xh[i] - xt[i]);
      if (!inf_norm) err = std::sqrt(err);
      EXPECT_LE(err, bound);
      solutions.push_back(xh);
    }
  // All variants agree with each other within twice the bound.
  for (auto const& s : solutions)
    for (int i = 0; i < n; ++i) EXPECT_NEAR(s[i], solutions[0][i], 2 * bound);
}

TEST(GaussSeidelConverge, AllVariantsAgreeOnRandomDominant) {
  const int n = 300;
  const auto t = random_sparse(n, 0.03, 1.2, 0.1, 42);
  double delta = std::numeric_limits<double>::infinity();
  std::vector<double> off(n, 0.0), diag(n, 0.0);
  for (auto const& [i, j, v] : t) (i == j ? diag[i] : off[i]) += std::fabs(v);
  for (int i = 0; i < n; ++i) delta = std::min(delta, diag[i] - off[i]);
  ASSERT_GT(delta, 0.0);
  check_all_variants_converge(n, t, 1.0 / delta, true);
}

TEST(GaussSeidelConverge, AllVariantsAgreeOnUnsortedUnsymmetricRows) {
  // Same kind of matrix with every row's entries reversed: exercises the generic sequential
  // path and the linear-search symmetrisation for the colouring.
  const int n = 200;
  auto t = random_sparse(n, 0.05, 1.2, 0.1, 5);
  std::vector<Triplet> rev;
  for (int i = 0; i < n; ++i) {
    std::vector<Triplet> row;
    for (auto const& e : t)
      if (std::get<0>(e) == i) row.push_back(e);
    rev.insert(rev.end(), row.rbegin(), row.rend());
  }
  GaussSeidel<Exec> probe(Exec(), device_csr(n, rev), opts(GsVariant::sequential));
  EXPECT_FALSE(probe.split_rows());
  double delta = std::numeric_limits<double>::infinity();
  std::vector<double> off(n, 0.0), diag(n, 0.0);
  for (auto const& [i, j, v] : rev) (i == j ? diag[i] : off[i]) += std::fabs(v);
  for (int i = 0; i < n; ++i) delta = std::min(delta, diag[i] - off[i]);
  check_all_variants_converge(n, rev, 1.0 / delta, true);
}

TEST(GaussSeidelConverge, AllVariantsAgreeOnPoisson2D) {
  const int m = 20, n = m * m;
  const double h = 1.0 / (m + 1);
  const double lambda_min = 8.0 * std::pow(std::sin(pi * h / 2), 2);
  check_all_variants_converge(n, poisson2d(m), 1.0 / lambda_min, false);
}

TEST(GaussSeidelConverge, SorOmegaOptimalNeedsFewerIterationsOnPoisson) {
  const int m = 20, n = m * m;
  auto A = device_csr(n, poisson2d(m));
  auto b = device_vec(std::vector<double>(n, 1.0));
  const double rho_j = std::cos(pi / (m + 1));
  const double w_opt = 2.0 / (1.0 + std::sqrt(1.0 - rho_j * rho_j));
  int it[2];
  for (int k = 0; k < 2; ++k) {
    auto o = opts(GsVariant::sequential, SweepDirection::forward, k == 0 ? 1.0 : w_opt);
    o.max_iter = 10000;
    GaussSeidel<Exec> gs(Exec(), A, o);
    auto x = device_vec(std::vector<double>(n, 0.0));
    const auto r = gs.solve(b, x);
    EXPECT_EQ(r.status, SolveStatus::converged);
    it[k] = r.iterations;
  }
  EXPECT_LT(it[1] * 5, it[0]);  // O(1/h) vs O(1/h^2) sweeps
}

// ----------------------------------------------------------------------- status --

TEST(GaussSeidelStatus, DivergesOnNonDominant2x2) {
  // [[1, 3], [2, 1]]: rho(G) = |a12 a21 / (a11 a22)| = 6 in either row order.
  const std::vector<Triplet> t = {{0, 0, 1.0}, {0, 1, 3.0}, {1, 0, 2.0}, {1, 1, 1.0}};
  for (auto v : all_variants) {
    GaussSeidel<Exec> gs(Exec(), device_csr(2, t), opts(v));
    auto x = device_vec({0.0, 0.0});
    const auto r = gs.solve(device_vec({4.0, 3.0}), x);
    SCOPED_TRACE(to_string(v));
    EXPECT_EQ(r.status, SolveStatus::diverged);
    EXPECT_LE(r.iterations, 12);  // 6^k passes 1e5 at k ~ 7
    EXPECT_TRUE(std::isfinite(r.rel_residual));
    for (double e : host_vec(x)) EXPECT_TRUE(std::isfinite(e));
  }
}

TEST(GaussSeidelStatus, DivergesOnRandomWeakDiagonal) {
  // Diagonal 0.3x the off-diagonal absolute row sums: not dominant, GS blows up.
  const int n = 60;
  const auto t = random_sparse(n, 0.2, 0.3, 0.0, 3);
  std::vector<double> xt(n, 1.0);
  auto b = device_vec(matvec(n, t, xt));
  for (auto v : all_variants) {
    GaussSeidel<Exec> gs(Exec(), device_csr(n, t), opts(v));
    auto x = device_vec(std::vector<double>(n, 0.0));
    const auto r = gs.solve(b, x);
    SCOPED_TRACE(to_string(v));
    EXPECT_EQ(r.status, SolveStatus::diverged);
    EXPECT_LT(r.iterations, 100);
  }
}

TEST(GaussSeidelStatus, NonFiniteResidualIsDiverged) {
  // divtol = inf: only overflow can stop it (6^k passes 1.8e308 near k = 396).
  const std::vector<Triplet> t = {{0, 0, 1.0}, {0, 1, 3.0}, {1, 0, 2.0}, {1, 1, 1.0}};
  auto o = opts(GsVariant::sequential);
  o.divtol = std::numeric_limits<double>::infinity();
  o.max_iter = 5000;
  GaussSeidel<Exec> gs(Exec(), device_csr(2, t), o);
  auto x = device_vec({0.0, 0.0});
  const auto r = gs.solve(device_vec({4.0, 3.0}), x);
  EXPECT_EQ(r.status, SolveStatus::diverged);
  EXPECT_LT(r.iterations, 1000);
  EXPECT_FALSE(std::isfinite(r.rel_residual));
}

TEST(GaussSeidelStatus, MaxIterationsOnSlowPoisson) {
  // rho = cos^2(pi/21) = 0.978: 1e-10 needs ~1000 sweeps, 25 are allowed.
  const int m = 20, n = m * m;
  for (auto v : all_variants) {
    auto o = opts(v);
    o.max_iter = 25;
    GaussSeidel<Exec> gs(Exec(), device_csr(n, poisson2d(m)), o);
    auto x = device_vec(std::vector<double>(n, 0.0));
    const auto r = gs.solve(device_vec(std::vector<double>(n, 1.0)), x);
    SCOPED_TRACE(to_string(v));
    EXPECT_EQ(r.status, SolveStatus::max_iterations);
    EXPECT_EQ(r.iterations, 25);
    EXPECT_EQ(r.residual_history.size(), 26u);
    EXPECT_EQ(r.sweep_seconds.size(), 25u);
  }
}

TEST(GaussSeidelStatus, ExactInitialGuessConvergesWithoutSweeps) {
  GaussSeidel<Exec> gs(Exec(), device_csr(3, A3), opts(GsVariant::sequential));
  // x_true of A3 b3 is not dyadic: use b = A (1, 1, 1) = (4, 8, 5) instead.
  auto x = device_vec({1.0, 1.0, 1.0});
  const auto r = gs.solve(device_vec({4.0, 8.0, 5.0}), x);
  EXPECT_EQ(r.status, SolveStatus::converged);
  EXPECT_EQ(r.iterations, 0);
  EXPECT_EQ(r.residual_history.size(), 1u);
  EXPECT_TRUE(r.sweep_seconds.empty());
}

TEST(GaussSeidelStatus, InterruptStopsSolve) {
  const int m = 10, n = m * m;
  GaussSeidel<Exec> gs(Exec(), device_csr(n, poisson2d(m)), opts(GsVariant::sequential));
  auto x = device_vec(std::vector<double>(n, 0.0));
  numlab::set_interrupt_requested(true);
  EXPECT_THROW(gs.solve(device_vec(std::vector<double>(n, 1.0)), x), numlab::Interrupted);
  numlab::set_interrupt_requested(false);
}

// --------------------------------------------------------------------- history --

TEST(GaussSeidelResidual, HistoryStartsAtInitialResidualAndDecreases) {
  const int m = 16, n = m * m;
  const auto t = poisson2d(m);
  std::vector<double> x0(n), bh(n, 1.0);
  for (int i = 0; i < n; ++i) x0[i] = 0.01 * (i % 7);
  auto ax0 = matvec(n, t, x0);
  std::vector<double> r0(n);
  for (int i = 0; i < n; ++i) r0[i] = bh[i] - ax0[i];
  const double rel0 = norm2(r0) / norm2(bh);
  for (auto v : all_variants) {
    auto o = opts(v);
    o.tol = 1e-8;
    GaussSeidel<Exec> gs(Exec(), device_csr(n, t), o);
    auto x = device_vec(x0);
    const auto r = gs.solve(device_vec(bh), x);
    SCOPED_TRACE(to_string(v));
    ASSERT_EQ(r.status, SolveStatus::converged);
    ASSERT_EQ(r.residual_history.size(), static_cast<std::size_t>(r.iterations) + 1);
    EXPECT_EQ(r.sweep_seconds.size(), static_cast<std::size_t>(r.iterations));
    EXPECT_NEAR(r.residual_history[0], rel0, 1e-14 * rel0);
    EXPECT_DOUBLE_EQ(r.rel_residual, r.residual_history.back());
    // GS on an SPD matrix decreases the A-norm of the error monotonically, not the residual
    // 2-norm: the first red-black sweep from a rough x0 raises it by ~20% here. Allow 50%
    // growth per step (10% for the lexicographic sweep) and demand the overall decrease.
    const double slack = v == GsVariant::sequential ? 1.1 : 1.5;
    for (std::size_t k = 1; k < r.residual_history.size(); ++k)
      EXPECT_LE(r.residual_history[k], slack * r.residual_history[k - 1]) << "k=" << k;
    EXPECT_LT(r.residual_history.back(), 1e-6 * r.residual_history.front());
    for (double s : r.sweep_seconds) EXPECT_GE(s, 0.0);
  }
}

// -------------------------------------------------------------- spectral radius --

TEST(SpectralRadius, Poisson2DMatchesCosSquared) {
  // GS on the 2D model problem: rho = rho_Jacobi^2 = cos^2(pi h), h = 1/(m+1), for forward
  // and backward lexicographic sweeps and for red-black ordering (consistently ordered).
  // Tolerance 2e-3 relative: the leftover transient after 1000 power steps (see estimator doc).
  const int m = 20, n = m * m;
  const double exact = std::pow(std::cos(pi / (m + 1)), 2);
  auto A = device_csr(n, poisson2d(m));
  for (auto d : {SweepDirection::forward, SweepDirection::backward}) {
    GaussSeidel<Exec> gs(Exec(), A, opts(GsVariant::sequential, d));
    EXPECT_NEAR(estimate_spectral_radius(gs, 1000), exact, 2e-3 * exact) << to_string(d);
  }
  GaussSeidel<Exec> mc(Exec(), A, opts(GsVariant::multicolor));
  if (mc.num_colors() == 2) {
    EXPECT_NEAR(estimate_spectral_radius(mc, 1000), exact, 2e-3 * exact);
  }
  // The default 100 iterations (transient factor |lambda_2/lambda_1|^50 = 0.18) already land
  // within 0.1% here; other seeds must agree too.
  GaussSeidel<Exec> gs(Exec(), A, opts(GsVariant::sequential));
  for (unsigned seed : {1u, 12345u, 987654321u}) EXPECT_NEAR(estimate_spectral_radius(gs, 100, seed), exact, 1e-3 * exact);
}

TEST(SpectralRadius, SmallUnsymmetricMatchesDenseIterationMatrix) {
  // G built column by column with the dense reference sweep (G e_j = sweep with b = 0),
  // rho(G) by Gelfand's formula; compared for several directions and weights.
  const int n = 6;
  const auto t = random_sparse(n, 0.6, 0.8, 0.2, 11);  // dominant in some rows only
  std::vector<std::vector<double>> Ad(n, std::vector<double>(n, 0.0));
  for (auto const& [i, j, v] : t) Ad[i][j] += v;
  auto A = device_csr(n, t);
  const std::vector<double> zero(n, 0.0);
  for (auto d : {SweepDirection::forward, SweepDirection::backward, SweepDirection::symmetric})
    for (double w : {1.0, 1.3, 0.7}) {
      std::vector<std::vector<double>> G(n, std::vector<double>(n));
      for (int j = 0; j < n; ++j) {
        std::vector<double> e(n, 0.0);
        e[j] = 1.0;
        dense_sweep(Ad, zero, e, w, d);
        for (int i = 0; i < n; ++i) G[i][j] = e[i];
      }
      const double exact = dense_rho_gelfand(G);
      GaussSeidel<Exec> gs(Exec(), A, opts(GsVariant::sequential, d, w));
      const double est = estimate_spectral_radius(gs, 4000);
      EXPECT_NEAR(est, exact, 2e-3 * exact) << to_string(d) << " omega=" << w;
    }
}

TEST(SpectralRadius, Forward3x3MatchesQuadraticFormula) {
  // G = (D-L)^{-1} U has a zero first column (U's is zero), so its eigenvalues are 0 and
  // those of the trailing 2x2 block: lambda^2 - tr lambda + det = 0.
  std::vector<std::vector<double>> Ad = {{4, -1, 1}, {2, 8, -2}, {-1, 2, 4}};
  std::vector<std::vector<double>> G(3, std::vector<double>(3));
  for (int j = 0; j < 3; ++j) {
    std::vector<double> e(3, 0.0);
    e[j] = 1.0;
    dense_sweep(Ad, {0, 0, 0}, e, 1.0, SweepDirection::forward);
    for (int i = 0; i < 3; ++i) G[i][j] = e[i];
  }
  ASSERT_EQ(G[0][0], 0.0);
  const double tr = G[1][1] + G[2][2], det = G[1][1] * G[2][2] - G[1][2] * G[2][1];
  const double disc = tr * tr - 4 * det;
  const double exact = disc >= 0 ? std::max(std::fabs(tr + std::sqrt(disc)), std::fabs(tr - std::sqrt(disc))) / 2
                                 : std::sqrt(det);  // complex pair: |lambda|^2 = det
  GaussSeidel<Exec> gs(Exec(), device_csr(3, A3), opts(GsVariant::sequential));
  EXPECT_NEAR(estimate_spectral_radius(gs, 2000), exact, 1e-6 * exact);
  EXPECT_NEAR(dense_rho_gelfand(G), exact, 1e-9 * exact);
}

// ------------------------------------------------- multicolour layout and batching --

// Independent red-black reference on the m x m grid: colour 1 = (gx + gy) even, the greedy
// natural-order colouring of the 5-point graph. A forward sweep updates colour 1 from the old
// colour 2, then colour 2 from the new colour 1; backward the other way round.
void red_black_sweep(int m, std::vector<double> const& b, std::vector<double>& x, double omega, bool backward) {
  auto pass = [&](int parity) {
    for (int gy = 0; gy < m; ++gy)
      for (int gx = 0; gx < m; ++gx) {
        if ((gx + gy) % 2 != parity) continue;
        const int i = gy * m + gx;
        double s = b[i];
        if (gy > 0) s += x[i - m];
        if (gx > 0) s += x[i - 1];
        if (gx < m - 1) s += x[i + 1];
        if (gy < m - 1) s += x[i + m];
        x[i] = (1 - omega) * x[i] + omega * s / 4.0;
      }
  };
  pass(backward ? 1 : 0);
  pass(backward ? 0 : 1);
}

TEST(GaussSeidelMulticolor, GreedyColouringIsRedBlackAndSweepsMatchReference) {
  for (int m : {6, 7}) {
    const int n = m * m;
    std::vector<double> bh(n), x0(n);
    for (int i = 0; i < n; ++i) {
      bh[i] = 1.0 + 0.25 * (i % 5);
      x0[i] = 0.125 * (i % 3);
    }
    for (auto d : {SweepDirection::forward, SweepDirection::backward, SweepDirection::symmetric})
      for (double w : {1.0, 1.5}) {
        GaussSeidel<Exec> gs(Exec(), device_csr(n, poisson2d(m)), opts(GsVariant::multicolor, d, w));
        SCOPED_TRACE("m=" + std::to_string(m) + " " + to_string(d) + " omega=" + std::to_string(w));
        EXPECT_EQ(gs.num_colors(), 2);
        auto b = device_vec(bh);
        auto x = device_vec(x0);
        std::vector<double> want = x0;
        for (int s = 0; s < 3; ++s) {
          gs.sweep(b, x);
          if (d != SweepDirection::backward) red_black_sweep(m, bh, want, w, false);
          if (d != SweepDirection::forward) red_black_sweep(m, bh, want, w, true);
        }
        Kokkos::fence();
        const auto got = host_vec(x);
        for (int i = 0; i < n; ++i) EXPECT_NEAR(got[i], want[i], 1e-14 * std::fabs(want[i]) + 1e-15) << "i=" << i;
      }
  }
}

TEST(GaussSeidelMulticolor, KokkosKernelsColouringStillConverges) {
  const int m = 20, n = m * m;
  auto o = opts(GsVariant::multicolor);
  o.coloring = GsColoring::kokkos_kernels;
  o.tol = 1e-8;
  o.max_iter = 20000;
  GaussSeidel<Exec> gs(Exec(), device_csr(n, poisson2d(m)), o);
  EXPECT_GE(gs.num_colors(), 2);
  auto x = device_vec(std::vector<double>(n, 0.0));
  const auto r = gs.solve(device_vec(std::vector<double>(n, 1.0)), x);
  EXPECT_EQ(r.status, SolveStatus::converged);
  EXPECT_LE(r.rel_residual, 1e-8);
}

// The fused residual (one pass, colour order for multicolour) equals b - A x computed on the host.
TEST(GaussSeidelResidual, FusedResidualMatchesHostAfterSweeps) {
  const int m = 12, n = m * m;
  const auto t = poisson2d(m);
  std::vector<double> bh(n);
  for (int i = 0; i < n; ++i) bh[i] = std::sin(0.3 * i);
  for (auto v : all_variants) {
    auto o = opts(v);
    o.max_iter = 7;
    o.tol = 0;
    GaussSeidel<Exec> gs(Exec(), device_csr(n, t), o);
    auto x = device_vec(std::vector<double>(n, 0.0));
    const auto r = gs.solve(device_vec(bh), x);
    const auto xh = host_vec(x);
    const auto ax = matvec(n, t, xh);
    std::vector<double> res(n);
    for (int i = 0; i < n; ++i) res[i] = bh[i] - ax[i];
    SCOPED_TRACE(to_string(v));
    EXPECT_EQ(r.iterations, 7);
    EXPECT_NEAR(r.rel_residual, norm2(res) / norm2(bh), 1e-12 * r.rel_residual);
  }
}

// check_every = k: the same sweeps (same x after a fixed count), residuals only every k sweeps
// and after the last, per-sweep times averaged over each batch.
TEST(GaussSeidelStatus, CheckEveryBatchesSweepsWithoutChangingThem) {
  const int m = 16, n = m * m;
  const auto t = poisson2d(m);
  for (auto v : all_variants) {
    SCOPED_TRACE(to_string(v));
    auto run = [&](int every, int max_iter, double tol, std::vector<double>& xout) {
      auto o = opts(v);
      o.check_every = every;
      o.max_iter = max_iter;
      o.tol = tol;
      GaussSeidel<Exec> gs(Exec(), device_csr(n, t), o);
      auto x = device_vec(std::vector<double>(n, 0.0));
      auto r = gs.solve(device_vec(std::vector<double>(n, 1.0)), x);
      xout = host_vec(x);
      return r;
    };
    std::vector<double> x1, x10;
    const auto r1 = run(1, 25, 0.0, x1);
    const auto r10 = run(10, 25, 0.0, x10);
    EXPECT_EQ(r10.status, SolveStatus::max_iterations);
    EXPECT_EQ(r10.iterations, 25);
    EXPECT_EQ(r10.residual_iterations, (std::vector<int>{0, 10, 20, 25}));
    ASSERT_EQ(r10.residual_history.size(), 4u);
    EXPECT_EQ(r10.sweep_seconds.size(), 3u);
    EXPECT_EQ(r1.residual_history.size(), 26u);
    EXPECT_EQ(r1.residual_iterations.size(), 26u);
    // KK's parallel colouring may differ between two setups on a multi-threaded backend.
    if (v == GsVariant::kokkos_kernels && Exec::concurrency() > 1) continue;
    for (int k : {0, 10, 20, 25}) {
      const std::size_t j = k == 0 ? 0 : k == 10 ? 1 : k == 20 ? 2 : 3;
      EXPECT_DOUBLE_EQ(r10.residual_history[j], r1.residual_history[static_cast<std::size_t>(k)]) << "k=" << k;
    }
    for (int i = 0; i < n; ++i) EXPECT_DOUBLE_EQ(x10[i], x1[i]);
    // With a tolerance: stops at the first check at or after the sweep where k = 1 stops.
    const auto c1 = run(1, 5000, 1e-6, x1);
    const auto c7 = run(7, 5000, 1e-6, x10);
    ASSERT_EQ(c1.status, SolveStatus::converged);
    ASSERT_EQ(c7.status, SolveStatus::converged);
    EXPECT_EQ(c7.iterations % 7, 0);
    EXPECT_GE(c7.iterations, c1.iterations);
    EXPECT_LT(c7.iterations, c1.iterations + 7);
  }
}

// Lexicographic and red-black orderings of the 5-point Poisson matrix are both consistently
// ordered: the same asymptotic rate rho = cos^2(pi h), hence nearly the same iteration counts.
TEST(GaussSeidelConverge, RedBlackAndLexicographicNeedAboutTheSameIterations) {
  const int m = 24, n = m * m;
  int its[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    auto o = opts(k == 0 ? GsVariant::sequential : GsVariant::multicolor);
    o.tol = 1e-8;
    o.max_iter = 100000;
    GaussSeidel<Exec> gs(Exec(), device_csr(n, poisson2d(m)), o);
    auto x = device_vec(std::vector<double>(n, 0.0));
    const auto r = gs.solve(device_vec(std::vector<double>(n, 1.0)), x);
    ASSERT_EQ(r.status, SolveStatus::converged);
    its[k] = r.iterations;
  }
  EXPECT_GT(its[1], 0.8 * its[0]) << "lexicographic " << its[0] << ", red-black " << its[1];
  EXPECT_LT(its[1], 1.25 * its[0]) << "lexicographic " << its[0] << ", red-black " << its[1];
}

}  // namespace
