// SPDX-License-Identifier: MIT
// Random butterfly transformation and the LU without pivoting: the transform equals U^T A V with
// U, V built entry by entry from the definition (B = [R0 R1; R0 -R1] / sqrt 2, levels block
// diagonal); the vector forms equal U^T v and V v; the unpivoted LU equals a plain-loop Doolittle
// elimination and rebuilds A; the butterflies let it factor a matrix whose leading pivot is zero;
// mixed-precision refinement on butterfly-transformed factors reaches the fp64 backward error.
#include "linsolve/butterfly.hpp"
#include "linsolve/dense_lu.hpp"
#include "linsolve/mixed_refinement.hpp"
#include "linsolve/randsvd.hpp"

#include <Kokkos_Core.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace {

using namespace numlab::linsolve;
using Exec = Kokkos::DefaultExecutionSpace;
using Vec = numlab::linsolve::Vector<Exec>;
using HostMat = std::vector<std::vector<double>>;
constexpr double eps = std::numeric_limits<double>::epsilon();

HostMat zeros(int n) { return HostMat(n, std::vector<double>(n, 0.0)); }

HostMat matmul(HostMat const& a, HostMat const& b) {
  const int n = int(a.size());
  HostMat c = zeros(n);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k)
      for (int j = 0; j < n; ++j) c[i][j] += a[i][k] * b[k][j];
  return c;
}

// The recursive butterfly as an explicit matrix, from its definition: level l is block diagonal
// with one butterfly per segment (halves h = floor(len / 2): row lo + i pairs with lo + h + i;
// an odd segment's last index is D alone); U = L_{d-1} ... L_0.
HostMat explicit_butterfly(int n, std::vector<std::vector<double>> const& diag) {
  HostMat U = zeros(n);
  for (int i = 0; i < n; ++i) U[i][i] = 1;
  const double s = 1 / std::sqrt(2.0);
  std::vector<std::pair<int, int>> seg{{0, n}};
  for (std::size_t l = 0; l < diag.size(); ++l) {
    HostMat L = zeros(n);
    std::vector<std::pair<int, int>> next;
    for (auto [lo, len] : seg) {
      const int h = len / 2;
      for (int i = 0; i < h; ++i) {
        const int p = lo + i, q = lo + h + i;
        L[p][p] = s * diag[l][p];   // [R0  R1]
        L[p][q] = s * diag[l][q];
        L[q][p] = s * diag[l][p];   // [R0 -R1]
        L[q][q] = -s * diag[l][q];
      }
      if (len % 2) L[lo + 2 * h][lo + 2 * h] = diag[l][lo + 2 * h];
      next.push_back({lo, h});
      next.push_back({lo + h, len - h});
    }
    seg = next;
    U = matmul(L, U);
  }
  return U;
}

HostMat transpose(HostMat const& a) {
  const int n = int(a.size());
  HostMat t = zeros(n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) t[j][i] = a[i][j];
  return t;
}

HostMat random_matrix(int n, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  HostMat a = zeros(n);
  for (auto& row : a)
    for (auto& v : row) v = u(g);
  return a;
}

DenseMatrix<Exec> to_device(HostMat const& a) {
  const int n = int(a.size());
  DenseMatrix<Exec> A("A", n, n);
  auto h = Kokkos::create_mirror_view(A);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) h(i, j) = a[i][j];
  Kokkos::deep_copy(A, h);
  return A;
}

template <class V>
HostMat to_host(V const& A) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), A);
  const int n = int(h.extent(0));
  HostMat a = zeros(n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) a[i][j] = double(h(i, j));
  return a;
}

double max_abs_diff(HostMat const& a, HostMat const& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t j = 0; j < a.size(); ++j) m = std::max(m, std::fabs(a[i][j] - b[i][j]));
  return m;
}

// The butterfly's diagonals D_l, level by level, on the host.
std::vector<std::vector<double>> diagonals(Butterfly<Exec> const& b) {
  std::vector<std::vector<double>> d;
  for (auto const& v : b.diag) {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
    d.emplace_back(h.data(), h.data() + h.extent(0));
  }
  return d;
}

}  // namespace

TEST(Butterfly, TransformIsUTransposeAV) {
  for (int n : {2, 5, 8, 12, 13, 37}) {
    for (int depth : {1, 2, 3}) {
      if (depth > butterfly_max_depth(n)) continue;
      SCOPED_TRACE("n " + std::to_string(n) + " depth " + std::to_string(depth));
      const auto U = make_butterfly(Exec(), n, depth, 7);
      const auto V = make_butterfly(Exec(), n, depth, 8);
      const HostMat a = random_matrix(n, 3 + n);
      auto A = to_device(a);
      butterfly_transform_matrix(Exec(), U, V, A);
      const HostMat Ue = explicit_butterfly(n, diagonals(U)), Ve = explicit_butterfly(n, diagonals(V));
      const HostMat want = matmul(matmul(transpose(Ue), a), Ve);
      EXPECT_LE(max_abs_diff(to_host(A), want), 16 * eps * n);
      // The vectors: U^T v and V v.
      Vec v("v", n), w("w", n);
      auto hv = Kokkos::create_mirror_view(v);
      for (int i = 0; i < n; ++i) hv(i) = a[i][0];
      Kokkos::deep_copy(v, hv);
      Kokkos::deep_copy(w, v);
      butterfly_apply_transpose(Exec(), U, v);
      butterfly_apply(Exec(), V, w);
      auto rv = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
      auto rw = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), w);
      for (int i = 0; i < n; ++i) {
        double ut = 0, vv = 0;
        for (int k = 0; k < n; ++k) {
          ut += Ue[k][i] * a[k][0];
          vv += Ve[i][k] * a[k][0];
        }
        EXPECT_NEAR(rv(i), ut, 8 * eps * n) << i;
        EXPECT_NEAR(rw(i), vv, 8 * eps * n) << i;
      }
    }
  }
  // Different seeds, different butterflies; every entry exp(r / 10), |r| <= 1/2.
  const auto a = make_butterfly(Exec(), 16, 2, 1), b = make_butterfly(Exec(), 16, 2, 2);
  EXPECT_NE(diagonals(a)[0], diagonals(b)[0]);
  for (auto const& lvl : diagonals(a))
    for (double d : lvl) {
      EXPECT_GE(d, std::exp(-0.05));
      EXPECT_LE(d, std::exp(0.05));
    }
  EXPECT_THROW(make_butterfly(Exec(), 7, 3, 0), std::invalid_argument);  // 7 < 2^3
  EXPECT_EQ(butterfly_max_depth(7), 2);
  EXPECT_EQ(butterfly_max_depth(8), 3);
  EXPECT_EQ(butterfly_max_depth(1), 0);
}

// The unpivoted LU against Doolittle's elimination in plain loops, on diagonally dominant matrices
// (no pivoting needed), across leaves, recursion and blocks (block sizes below and above the leaf).
TEST(LuUnpivoted, MatchesPlainEliminationAndRebuildsA) {
  for (int n : {1, 3, 64, 65, 130, 300}) {
    for (int nb : {0, 32, 100}) {
      SCOPED_TRACE("n " + std::to_string(n) + " block " + std::to_string(nb));
      HostMat a = random_matrix(n, 100 + n);
      for (int i = 0; i < n; ++i) a[i][i] += n;
      HostMat ref = a;
      for (int k = 0; k < n; ++k)
        for (int i = k + 1; i < n; ++i) {
          ref[i][k] /= ref[k][k];
          for (int j = k + 1; j < n; ++j) ref[i][j] -= ref[i][k] * ref[k][j];
        }
      auto A = to_device(a);
      LuOptions o;
      o.block_size = nb;
      const auto r = lu_factor_unpivoted(Exec(), A, o);
      ASSERT_EQ(r.status, SolveStatus::solved);
      const HostMat f = to_host(A);
      EXPECT_LE(max_abs_diff(f, ref), 64 * eps * n);
      double err = 0;
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
          double s = 0;
          for (int k = 0; k <= std::min(i, j); ++k) s += (k == i ? 1.0 : f[i][k]) * f[k][j];
          err = std::max(err, std::fabs(s - a[i][j]));
        }
      EXPECT_LE(err, 64 * eps * n * n);
    }
  }
}

// Interchanges within the diagonal blocks only, against Doolittle's elimination in plain loops
// whose pivot search stops at the block's last row (whole rows swapped): the same pivots and
// factors, every pivot inside its block; the host's laswp and the GPU's swap plans (gpu_code).
TEST(LuBlockLocal, MatchesBlockRestrictedPivotingInPlainLoops) {
  for (int n : {5, 64, 150, 301}) {
    for (int nb : {16, 64, 100}) {
      for (bool gpu_code : {false, true}) {
        SCOPED_TRACE("n " + std::to_string(n) + " block " + std::to_string(nb) + (gpu_code ? " gpu_code" : ""));
        const HostMat a = random_matrix(n, 200 + n);
        HostMat ref = a;
        std::vector<int> rpiv(n);
        for (int k = 0; k < n; ++k) {
          const int end = std::min(n, (k / nb + 1) * nb);
          int p = k;
          for (int i = k + 1; i < end; ++i)
            if (std::fabs(ref[i][k]) > std::fabs(ref[p][k])) p = i;
          rpiv[k] = p;
          std::swap(ref[k], ref[p]);
          for (int i = k + 1; i < n; ++i) {
            ref[i][k] /= ref[k][k];
            for (int j = k + 1; j < n; ++j) ref[i][j] -= ref[i][k] * ref[k][j];
          }
        }
        auto A = to_device(a);
        Kokkos::View<int*, Exec::memory_space> piv("piv", n);
        LuOptions o;
        o.block_size = nb;
        o.gpu_code = gpu_code;
        const auto r = lu_factor_block_local(Exec(), A, piv, o);
        ASSERT_EQ(r.status, SolveStatus::solved);
        auto hp = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), piv);
        for (int k = 0; k < n; ++k) ASSERT_EQ(hp(k), rpiv[k]) << k;
        double scale = 1;
        for (auto const& row : ref)
          for (double v : row) scale = std::max(scale, std::fabs(v));
        // Two roundings of the same elimination, growth ~1e3 at n = 301 with blocks of 16: the
        // factors differed by up to 1.2e-11 of the largest entry there.
        EXPECT_LE(max_abs_diff(to_host(A), ref), 1e-10 * scale);
      }
    }
  }
}

// A zero leading pivot stops the unpivoted LU (reported as the first zero pivot); after the butterflies it factors,
// and V (LU)^-1 U^T b solves A x = b to fp64 accuracy.
TEST(LuUnpivoted, ButterfliesFactorWhatNoPivotingCannot) {
  const int n = 96;
  HostMat a = random_matrix(n, 5);
  a[0][0] = 0;
  {
    auto A = to_device(a);
    LuOptions o;
    o.zero_pivot_eps = 0;
    const auto r = lu_factor_unpivoted(Exec(), A, o);
    EXPECT_EQ(r.status, SolveStatus::singular);
    EXPECT_EQ(r.zero_pivot, 0);
  }
  auto A = to_device(a);
  const auto U = make_butterfly(Exec(), n, 2, 0), V = make_butterfly(Exec(), n, 2, 1);
  butterfly_transform_matrix(Exec(), U, V, A);
  const auto r = lu_factor_unpivoted(Exec(), A, LuOptions{});
  ASSERT_EQ(r.status, SolveStatus::solved);
  std::vector<double> xt(n);
  for (int i = 0; i < n; ++i) xt[i] = std::sin(i + 1.0);
  Vec x("x", n);
  auto hx = Kokkos::create_mirror_view(x);
  for (int i = 0; i < n; ++i) {
    hx(i) = 0;
    for (int j = 0; j < n; ++j) hx(i) += a[i][j] * xt[j];
  }
  Kokkos::deep_copy(x, hx);
  butterfly_apply_transpose(Exec(), U, x);
  lu_solve_permuted_rhs(Exec(), A, x);
  butterfly_apply(Exec(), V, x);
  Kokkos::deep_copy(hx, x);
  double e = 0;
  for (int i = 0; i < n; ++i) e = std::max(e, std::fabs(hx(i) - xt[i]));
  EXPECT_LE(e, 1e-10);
}

// Mixed-precision refinement on the factors of U^T A V (butterflies of depth 2) with each pivoting:
// float32 factors refined to the fp64 backward error (classical and GMRES-IR) on a randsvd
// matrix, GMRES-IR in a few Krylov steps per correction (the preconditioner V (LU)^-1 P U^T is
// applied in the right order: any other leaves GMRES far from converging in 10); fp64 factors
// need at most one correction; the library's getrf takes no butterflies.
TEST(MixedRefinement, ButterflyFactorsRefineToFp64) {
  const int n = 160;
  auto A = randsvd(Exec(), n, 1e3, SvDistribution::geometric, 9);
  Vec xt("xt", n), b("b", n);
  Kokkos::deep_copy(xt, 1.0);
  KokkosBlas::gemv("N", 1.0, A, xt, 0.0, b);
  for (auto pivoting : {Pivoting::partial, Pivoting::block_local, Pivoting::none})
  for (auto prec : {FactorPrecision::float32, FactorPrecision::float64}) {
    for (auto solver : {RefinementSolver::classical, RefinementSolver::gmres}) {
      SCOPED_TRACE(std::string(numlab::enum_name(pivoting)) + " " + numlab::enum_name(prec) + " " + numlab::enum_name(solver));
      RefinementOptions o;
      o.precision = prec;
      o.solver = solver;
      o.pivoting = pivoting;
      o.butterfly_depth = 2;
      Vec x("x", n);
      const auto r = mixed_refinement_solve(Exec(), A, b, x, o);
      ASSERT_EQ(r.outcome, RefinementOutcome::converged);
      EXPECT_LE(r.backward_error_history.back(), std::sqrt(double(n)) * eps);
      if (prec == FactorPrecision::float32) EXPECT_GE(r.backward_error_history.front(), 1e-9);
      else EXPECT_LE(r.iterations, 1);
      for (double k : r.inner_iterations) EXPECT_LE(k, 10);
      auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
      double e = 0;
      for (int i = 0; i < n; ++i) e = std::max(e, std::fabs(hx(i) - 1.0));
      EXPECT_LE(e, 1e3 * 1e3 * eps);  // cond * (a few hundred) eps
    }
  }
  RefinementOptions o;
  o.butterfly_depth = 2;
  o.factorization = Factorization::library;
  Vec x("x", n);
  EXPECT_THROW(mixed_refinement_solve(Exec(), A, b, x, o), std::invalid_argument);
}
