// SPDX-License-Identifier: MIT
// Dense LU (lu_factor / lu_solve), the library reference solve and densify, checked against LAPACK
// called directly (an independent reference) and against bounds of the standard GEPP error analysis.
#include "linsolve/dense_lu.hpp"
#include "linsolve/reference_solve.hpp"

#include <Kokkos_Core.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <tuple>
#include <vector>

extern "C" {
// LAPACK (Fortran ABI; the trailing size_t is gfortran's hidden length of the CHARACTER argument).
void dgesv_(const int* n, const int* nrhs, double* a, const int* lda, int* ipiv, double* b, const int* ldb, int* info);
void dgecon_(const char* norm, const int* n, const double* a, const int* lda, const double* anorm, double* rcond,
             double* work, int* iwork, int* info, std::size_t norm_len);
}

namespace {

namespace nl = numlab::linsolve;
using Exec = Kokkos::DefaultExecutionSpace;
using Mat = nl::DenseMatrix<Exec>;
using Vec = nl::Vector<Exec>;
using Piv = Kokkos::View<int*, Exec::memory_space>;
constexpr double eps = std::numeric_limits<double>::epsilon();

// Column-major host matrix (LAPACK's and DenseMatrix's layout).
struct HostMat {
  int n = 0;
  std::vector<double> a;
  explicit HostMat(int n_) : n(n_), a(static_cast<std::size_t>(n_) * n_, 0.0) {}
  double& operator()(int i, int j) { return a[i + static_cast<std::size_t>(j) * n]; }
  double operator()(int i, int j) const { return a[i + static_cast<std::size_t>(j) * n]; }
};

Mat to_device(const HostMat& h) {
  Mat d("A", h.n, h.n);
  auto m = Kokkos::create_mirror_view(d);
  for (int j = 0; j < h.n; ++j)
    for (int i = 0; i < h.n; ++i) m(i, j) = h(i, j);
  Kokkos::deep_copy(d, m);
  return d;
}

HostMat to_host(const Mat& d) {
  HostMat h(static_cast<int>(d.extent(0)));
  auto m = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), d);
  for (int j = 0; j < h.n; ++j)
    for (int i = 0; i < h.n; ++i) h(i, j) = m(i, j);
  return h;
}

Vec to_device(const std::vector<double>& v) {
  Vec d("x", v.size());
  auto m = Kokkos::create_mirror_view(d);
  for (std::size_t i = 0; i < v.size(); ++i) m(i) = v[i];
  Kokkos::deep_copy(d, m);
  return d;
}

template <class View>
std::vector<typename View::non_const_value_type> to_host(const View& d) {
  auto m = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), d);
  return std::vector<typename View::non_const_value_type>(m.data(), m.data() + m.extent(0));
}

double norm_inf(const std::vector<double>& v) {
  double r = 0.0;
  for (double x : v) r = std::max(r, std::abs(x));
  return r;
}

double norm_inf(const HostMat& A) {  // max row sum
  double r = 0.0;
  for (int i = 0; i < A.n; ++i) {
    double s = 0.0;
    for (int j = 0; j < A.n; ++j) s += std::abs(A(i, j));
    r = std::max(r, s);
  }
  return r;
}

double rel_diff_inf(const std::vector<double>& x, const std::vector<double>& y) {
  double d = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) d = std::max(d, std::abs(x[i] - y[i]));
  return d / norm_inf(y);
}

// b = A x, accumulated in long double so the test's own rounding stays far below the tolerances.
std::vector<double> matvec(const HostMat& A, const std::vector<double>& x) {
  std::vector<double> b(A.n);
  for (int i = 0; i < A.n; ++i) {
    long double s = 0.0L;
    for (int j = 0; j < A.n; ++j) s += static_cast<long double>(A(i, j)) * x[j];
    b[i] = static_cast<double>(s);
  }
  return b;
}

// ||b - A x||_inf, in long double.
double residual_inf(const HostMat& A, const std::vector<double>& x, const std::vector<double>& b) {
  double r = 0.0;
  for (int i = 0; i < A.n; ++i) {
    long double s = b[i];
    for (int j = 0; j < A.n; ++j) s -= static_cast<long double>(A(i, j)) * x[j];
    r = std::max(r, static_cast<double>(std::abs(s)));
  }
  return r;
}

struct LapackSolution {
  HostMat lu{0};
  std::vector<double> x;
  std::vector<int> ipiv;  // 0-based
  int info = 0;
  double cond_inf = 0.0;  // dgecon's estimate of kappa_inf(A) (a lower bound, usually within 3x)
};

LapackSolution lapack_solve(const HostMat& A, const std::vector<double>& b) {
  LapackSolution s;
  s.lu = A;
  HostMat& lu = s.lu;
  s.x = b;
  s.ipiv.assign(A.n, 0);
  const int n = A.n, nrhs = 1, ld = std::max(1, A.n);
  dgesv_(&n, &nrhs, lu.a.data(), &ld, s.ipiv.data(), s.x.data(), &ld, &s.info);
  for (int& p : s.ipiv) --p;
  if (s.info == 0) {
    const double anorm = norm_inf(A);
    double rcond = 0.0;
    std::vector<double> work(4 * static_cast<std::size_t>(n));
    std::vector<int> iwork(n);
    int info = 0;
    dgecon_("I", &n, lu.a.data(), &ld, &anorm, &rcond, work.data(), iwork.data(), &info, 1);
    s.cond_inf = rcond > 0.0 ? 1.0 / rcond : std::numeric_limits<double>::infinity();
  }
  return s;
}

// Splits packed L\U, applies P (from piv) to A and returns ||PA - LU||_inf and || |L||U| ||_inf.
struct Reconstruction {
  double err = 0.0;
  double abs_lu = 0.0;
};

Reconstruction reconstruct(const HostMat& A, const HostMat& LU, const std::vector<int>& piv) {
  const int n = A.n;
  std::vector<int> row(n);  // row(i): original row of A that ends up as row i of PA
  std::iota(row.begin(), row.end(), 0);
  for (int k = 0; k < n; ++k) std::swap(row[k], row[piv[k]]);
  Reconstruction r;
  for (int i = 0; i < n; ++i) {
    long double err_sum = 0.0L, abs_sum = 0.0L;
    for (int j = 0; j < n; ++j) {
      long double s = 0.0L, a = 0.0L;
      for (int k = 0; k <= std::min(i, j); ++k) {
        const long double l = k == i ? 1.0L : LU(i, k);
        s += l * LU(k, j);
        a += std::abs(l * LU(k, j));
      }
      err_sum += std::abs(static_cast<long double>(A(row[i], j)) - s);
      abs_sum += a;
    }
    r.err = std::max(r.err, static_cast<double>(err_sum));
    r.abs_lu = std::max(r.abs_lu, static_cast<double>(abs_sum));
  }
  return r;
}

// ------------------------------------------------------------------ matrices --

enum class Kind { random, zero_diagonal, tiny_diagonal, permutation_like };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::random: return "random";
    case Kind::zero_diagonal: return "zero_diagonal";
    case Kind::tiny_diagonal: return "tiny_diagonal";
    case Kind::permutation_like: return "permutation_like";
  }
  return "?";
}

// All but `random` force row interchanges: a zero or 1e-12-sized diagonal cannot be a pivot, and
// the permutation-like matrix has its dominant entry of column j in row perm^-1(j).
HostMat make_matrix(int n, Kind kind, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  HostMat A(n);
  for (double& a : A.a) a = u(rng);
  if (kind == Kind::zero_diagonal)
    for (int i = 0; i < n; ++i) A(i, i) = 0.0;
  if (kind == Kind::tiny_diagonal)
    for (int i = 0; i < n; ++i) A(i, i) = 1e-12 * u(rng);
  if (kind == Kind::permutation_like) {
    std::vector<int> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    for (double& a : A.a) a *= 1e-3;
    for (int i = 0; i < n; ++i) A(i, perm[i]) = 1.5 + 0.5 * u(rng);
  }
  return A;
}

std::vector<double> make_vector(int n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> x(n);
  for (double& v : x) v = 1.0 + 0.5 * u(rng);  // no tiny components: relative error is well defined
  return x;
}

struct LuRun {
  nl::LuResult result;
  HostMat LU{0};
  std::vector<int> piv;
  std::vector<double> x;
};

LuRun run_lu(const HostMat& A, const std::vector<double>& b, nl::LuOptions const& o) {
  Exec space;
  Mat dA = to_device(A);
  Piv piv("piv", A.n);
  Vec x = to_device(b);
  LuRun r;
  r.result = nl::lu_factor(space, dA, piv, o);
  nl::lu_solve(space, dA, piv, x);
  space.fence();
  r.LU = to_host(dA);
  r.piv = to_host(piv);
  r.x = to_host(x);
  return r;
}

// block_size 0: lu_block_size's automatic width; everything else automatic.
LuRun run_lu(const HostMat& A, const std::vector<double>& b, int block_size) {
  nl::LuOptions o;
  o.block_size = block_size;
  return run_lu(A, b, o);
}

// ------------------------------------------------- random systems vs LAPACK --
//
// Error model (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., Thms 9.3, 9.4;
// blocked / BLAS-3 variants satisfy the same bounds with a modest constant, Sec. 13.1), with
// gamma_m = m*u/(1 - m*u), u = eps/2:
//   factorization:  P A + E = L U,           |E| <= gamma_n |L||U|
//   solve:          (A + dA) x_hat = b,      |dA| <= gamma_3n |L||U|
// hence the tests
//   ||PA - LU||_inf            <= 2 n eps || |L||U| ||_inf                (= 4 gamma_n, slack 4)
//   ||b - A x_hat||_inf        <= 3 n eps || |L||U| ||_inf ||x_hat||_inf  (= 2 gamma_3n)
//   ||x_hat - x||/||x||        <= 10 * kappa_est * 3 n eps || |L||U| || / ||A||   (first order;
//                                 10 covers dgecon's underestimate of kappa_inf, rarely > 3x)
// and our x against LAPACK's x within twice the forward bound (both obey it). || |L||U| || / ||A||
// is the growth that partial pivoting keeps small; it is measured, not assumed.

using Case = std::tuple<int, int, Kind>;  // n, block_size, kind

class LuVsLapack : public ::testing::TestWithParam<Case> {};

TEST_P(LuVsLapack, RandomSystems) {
  const auto [n, nb, kind] = GetParam();
  const unsigned seed = 1000u * static_cast<unsigned>(n) + static_cast<unsigned>(kind);
  const HostMat A = make_matrix(n, kind, seed);
  const std::vector<double> x_true = make_vector(n, seed + 1);
  const std::vector<double> b = matvec(A, x_true);

  const LapackSolution ref = lapack_solve(A, b);
  ASSERT_EQ(ref.info, 0);
  const LuRun lu = run_lu(A, b, nb);
  ASSERT_EQ(lu.result.status, nl::SolveStatus::solved) << "zero pivot " << lu.result.zero_pivot;
  EXPECT_EQ(lu.result.zero_pivot, -1);
  for (int k = 0; k < n; ++k) {
    ASSERT_GE(lu.piv[k], k);
    ASSERT_LT(lu.piv[k], n);
  }
  // Dominant entries are unique by construction: the pivot sequence is LAPACK's.
  if (kind == Kind::permutation_like) {
    EXPECT_EQ(lu.piv, ref.ipiv);
  }

  const Reconstruction rec = reconstruct(A, lu.LU, lu.piv);
  const double anorm = norm_inf(A);
  const double growth = rec.abs_lu / anorm;
  EXPECT_LE(rec.err, 2.0 * n * eps * rec.abs_lu) << "||PA-LU||/(n eps ||A||) = " << rec.err / (n * eps * anorm);
  // Same pivoting strategy, so the same growth as LAPACK's factors up to rounding: guards against a
  // wrong pivot choice hiding behind tolerances that scale with the growth.
  const double growth_lapack = reconstruct(A, ref.lu, ref.ipiv).abs_lu / anorm;
  EXPECT_LE(growth, 2.0 * growth_lapack);

  EXPECT_LE(residual_inf(A, lu.x, b), 3.0 * n * eps * rec.abs_lu * norm_inf(lu.x));
  const double fwd = 10.0 * ref.cond_inf * 3.0 * n * eps * growth;
  EXPECT_LE(rel_diff_inf(lu.x, x_true), fwd) << "kappa_inf ~ " << ref.cond_inf;
  EXPECT_LE(rel_diff_inf(ref.x, x_true), fwd);
  EXPECT_LE(rel_diff_inf(lu.x, ref.x), 2.0 * fwd);
}

std::vector<Case> random_cases() {
  std::vector<Case> cases;
  for (int n : {1, 2, 3, 17, 64, 100, 257, 500})
    for (int nb : {0, 1, 3, 16, 64, 100, 512}) {
      if (nb > n && nb != 512) continue;  // 512 > n: one panel, the whole matrix recursive
      for (Kind k : {Kind::random, Kind::zero_diagonal, Kind::tiny_diagonal, Kind::permutation_like}) {
        if (n == 1 && k == Kind::zero_diagonal) continue;  // singular
        cases.emplace_back(n, nb, k);
      }
    }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(DenseLu, LuVsLapack, ::testing::ValuesIn(random_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return "n" + std::to_string(std::get<0>(info.param)) + "_nb" +
                                  std::to_string(std::get<1>(info.param)) + "_" + kind_name(std::get<2>(info.param));
                         });

// ------------------------------------------------- panel kernels vs LAPACK --
//
// Every leaf kernel (three launches per column; one fused multi-team launch per column with the
// last team pivoting; one single-team launch per leaf) with leaf widths that divide the panels
// evenly and not, forced on whatever backend this is built for (the GPU defaults included), must
// give a valid GEPP factorization with LAPACK's growth, and LAPACK's pivots where the maxima are
// unique.

using KernelCase = std::tuple<int, int, int, nl::LuPanelKernel, Kind>;  // n, block, leaf, kernel, kind

HostMat zero_column_matrix_for_kernels(int n) {
  HostMat A = make_matrix(n, Kind::random, 78);
  for (int i = 0; i < n; ++i) A(i, 5) = 0.0;
  return A;
}

// Multi-team fused steps and multi-thread teams on the host too: 13 rows per team (many teams, a
// ragged last one) and, where the backend has them, 2 threads per team.
int test_team_size() { return std::min(2, static_cast<int>(Exec::concurrency())); }

class LuKernelsVsLapack : public ::testing::TestWithParam<KernelCase> {};

TEST_P(LuKernelsVsLapack, RandomSystems) {
  const auto [n, nb, leaf, kernel, kind] = GetParam();
  const unsigned seed = 2000u * static_cast<unsigned>(n) + static_cast<unsigned>(kind);
  const HostMat A = make_matrix(n, kind, seed);
  const std::vector<double> x_true = make_vector(n, seed + 1);
  const std::vector<double> b = matvec(A, x_true);
  const LapackSolution ref = lapack_solve(A, b);
  ASSERT_EQ(ref.info, 0);
  nl::LuOptions o;
  o.block_size = nb;
  o.leaf_width = leaf;
  o.panel_kernel = kernel;
  if (nb != 0) {  // the cases with an explicit block also force many small teams and the GPU code path
    o.team_rows = 13;
    o.gpu_code = true;
    // Host: the persistent kernel keeps one thread per team, so its teams (one per thread) are
    // several and meet at its grid barrier.
    if (Kokkos::SpaceAccessibility<Kokkos::HostSpace, Exec::memory_space>::accessible &&
        kernel != nl::LuPanelKernel::persistent)
      o.team_size = test_team_size();
  }
  const LuRun lu = run_lu(A, b, o);
  ASSERT_EQ(lu.result.status, nl::SolveStatus::solved) << "zero pivot " << lu.result.zero_pivot;
  for (int k = 0; k < n; ++k) {
    ASSERT_GE(lu.piv[k], k);
    ASSERT_LT(lu.piv[k], n);
  }
  if (kind == Kind::permutation_like) {
    EXPECT_EQ(lu.piv, ref.ipiv);
  }
  const Reconstruction rec = reconstruct(A, lu.LU, lu.piv);
  const double anorm = norm_inf(A);
  EXPECT_LE(rec.err, 2.0 * n * eps * rec.abs_lu) << "||PA-LU||/(n eps ||A||) = " << rec.err / (n * eps * anorm);
  const double growth_lapack = reconstruct(A, ref.lu, ref.ipiv).abs_lu / anorm;
  EXPECT_LE(rec.abs_lu / anorm, 2.0 * growth_lapack);
  EXPECT_LE(residual_inf(A, lu.x, b), 3.0 * n * eps * rec.abs_lu * norm_inf(lu.x));
  const double fwd = 10.0 * ref.cond_inf * 3.0 * n * eps * (rec.abs_lu / anorm);
  EXPECT_LE(rel_diff_inf(lu.x, x_true), fwd) << "kappa_inf ~ " << ref.cond_inf;
}

// The persistent kernel with several threads per team (the automatic choice on a GPU, 128):
// row r of a team is thread r mod team size's in the pivot search and the elimination alike, so
// no barrier separates them; the leaf's outer interchanges are gathered by the whole team. One
// team of 2 threads on a 2-thread host (then rows = the leaf's height), many on a GPU; the GPU
// code path and the host one.
TEST(LuPersistent, SeveralThreadsPerTeamMatchLapack) {
  const int ts = std::min(4, static_cast<int>(Exec::concurrency()));
  if (ts < 2) GTEST_SKIP() << "one thread: no team of several";
  for (int n : {97, 300}) {
    for (bool gpu_code : {false, true}) {
      SCOPED_TRACE("n " + std::to_string(n) + (gpu_code ? " gpu code" : " host code"));
      const HostMat A = make_matrix(n, Kind::random, 91u + n);
      const std::vector<double> x_true = make_vector(n, 92u + n);
      const std::vector<double> b = matvec(A, x_true);
      const LapackSolution ref = lapack_solve(A, b);
      ASSERT_EQ(ref.info, 0);
      nl::LuOptions o;
      o.block_size = 64;
      o.leaf_width = 16;
      o.panel_kernel = nl::LuPanelKernel::persistent;
      o.team_size = ts;
      o.gpu_code = gpu_code;
      // A point's kernel_run: leaves taller than one team's scratch holds (n = 300 with few
      // teams) run fused, and the name says so.
      const bool holds = n <= nl::lu_persistent_max_rows<Exec>(o.leaf_width, nl::lu_persistent_max_teams<Exec>(ts));
      EXPECT_STREQ(nl::lu_panel_kernel_name<Exec>(n, o), holds ? "persistent" : "fused_persistent");
      if (n == 97) {
        EXPECT_TRUE(holds);
      }
      const LuRun lu = run_lu(A, b, o);
      ASSERT_EQ(lu.result.status, nl::SolveStatus::solved);
      EXPECT_EQ(lu.piv, ref.ipiv);  // random entries: unique maxima, LAPACK's pivots
      const Reconstruction rec = reconstruct(A, lu.LU, lu.piv);
      EXPECT_LE(rec.err, 2.0 * n * eps * rec.abs_lu);
      EXPECT_LE(residual_inf(A, lu.x, b), 3.0 * n * eps * rec.abs_lu * norm_inf(lu.x));
    }
  }
}

// ------------------------------------------------------------ tournament pivoting --
//
// An independent CALU (Grigori, Demmel & Xiang 2011) in plain loops: panels of width w, each
// panel's pivot rows by a tree of dgetf2 selections over row groups (G rows in round 1, then F
// winner sets per group), the winners brought up in order by full-row swaps, the panel
// eliminated without pivoting, U12 and the trailing update. Given numlab's group sizes (the
// options' team_rows, or the automatic ones of the backend) it picks the same pivots.
std::vector<int> gepp_select(const HostMat& A, const std::vector<int>& rows, int k, int w) {
  const int r = static_cast<int>(rows.size()), cw = std::min(w, r);
  std::vector<std::vector<double>> S(r, std::vector<double>(w));
  for (int q = 0; q < r; ++q)
    for (int j = 0; j < w; ++j) S[q][j] = A(rows[q], k + j);
  std::vector<int> R = rows;
  for (int c = 0; c < cw; ++c) {
    int p = c;
    for (int q = c + 1; q < r; ++q)
      if (std::abs(S[q][c]) > std::abs(S[p][c])) p = q;
    std::swap(S[c], S[p]);
    std::swap(R[c], R[p]);
    if (S[c][c] == 0.0) continue;
    for (int q = c + 1; q < r; ++q) {
      const double l = S[q][c] / S[c][c];
      for (int j = c + 1; j < w; ++j) S[q][j] -= l * S[c][j];
    }
  }
  R.resize(cw);
  return R;
}

// The group sizes lu_factor's tournament takes (numlab's rule, an input of the reference).
nl::detail::TournamentShape shape_of(int group_rows, int m, int w) {
  return nl::detail::tournament_shape(nl::detail::is_host_space_v<Exec>, group_rows,
                                      nl::detail::lu_tournament_gpu_rows(w, sizeof(double)), m, w,
                                      static_cast<int>(Exec::concurrency()));
}

std::vector<int> calu_reference(HostMat A, int w, int group_rows) {
  const int n = A.n;
  std::vector<int> ipiv(n), where(n), who(n);
  std::iota(where.begin(), where.end(), 0);
  std::iota(who.begin(), who.end(), 0);
  for (int k = 0; k < n; k += w) {
    const int wk = std::min(w, n - k), m = n - k;
    const auto shape = shape_of(group_rows, m, wk);
    const int G = shape.group_rows;
    const std::size_t F = static_cast<std::size_t>(shape.fan_in);
    std::vector<std::vector<int>> sets;
    for (int r0 = k; r0 < n; r0 += G) {
      std::vector<int> rows;
      for (int i = r0; i < std::min(n, r0 + G); ++i) rows.push_back(i);
      sets.push_back(gepp_select(A, rows, k, wk));
    }
    while (sets.size() > 1) {
      std::vector<std::vector<int>> next;
      for (std::size_t g = 0; g < sets.size(); g += F) {
        std::vector<int> rows;
        for (std::size_t c = g; c < std::min(sets.size(), g + F); ++c) rows.insert(rows.end(), sets[c].begin(), sets[c].end());
        next.push_back(gepp_select(A, rows, k, wk));
      }
      sets = next;
    }
    for (int j = 0; j < wk; ++j) {  // sets[0][j]: the row now at that index of A
      const int p = sets[0][j];
      ipiv[k + j] = p;
      for (int c = 0; c < n; ++c) std::swap(A(k + j, c), A(p, c));
      for (int& q : sets[0]) {  // the later winners' indices follow the swap
        if (q == k + j) q = p;
        else if (q == p) q = k + j;
      }
    }
    for (int c = k; c < k + wk; ++c) {  // the panel without pivoting
      if (A(c, c) == 0.0) continue;
      for (int i = c + 1; i < n; ++i) {
        A(i, c) /= A(c, c);
        for (int j = c + 1; j < k + wk; ++j) A(i, j) -= A(i, c) * A(c, j);
      }
    }
    for (int j = k + wk; j < n; ++j) {  // U12 = L11^-1 A12, A22 -= L21 U12
      for (int c = k; c < k + wk; ++c)
        for (int i = c + 1; i < k + wk; ++i) A(i, j) -= A(i, c) * A(c, j);
      for (int c = k; c < k + wk; ++c)
        for (int i = k + wk; i < n; ++i) A(i, j) -= A(i, c) * A(c, j);
    }
  }
  return ipiv;
}

using TournamentCase = std::tuple<int, int, int, Kind>;  // n, leaf width, group rows (0: automatic), kind

class LuTournament : public ::testing::TestWithParam<TournamentCase> {};

// Panels of one leaf (block = leaf), so the reference's panels are numlab's leaves: the same
// pivots, and the GEPP error bounds with the growth measured (CALU's is GEPP-like in practice).
TEST_P(LuTournament, MatchesReferenceCalu) {
  const auto [n, w, group_rows, kind] = GetParam();
  const unsigned seed = 7000u + 31u * static_cast<unsigned>(n) + static_cast<unsigned>(kind);
  const HostMat A = make_matrix(n, kind, seed);
  const std::vector<double> x_true = make_vector(n, seed + 1);
  const std::vector<double> b = matvec(A, x_true);
  const LapackSolution ref = lapack_solve(A, b);
  ASSERT_EQ(ref.info, 0);
  for (int ts : {0, test_team_size()}) {
    SCOPED_TRACE("team size " + std::to_string(ts));
    nl::LuOptions o;
    o.block_size = w;
    o.leaf_width = w;
    o.panel_kernel = nl::LuPanelKernel::tournament;
    o.team_rows = group_rows;
    o.team_size = ts;
    const LuRun lu = run_lu(A, b, o);
    ASSERT_EQ(lu.result.status, nl::SolveStatus::solved) << "zero pivot " << lu.result.zero_pivot;
    EXPECT_EQ(lu.piv, calu_reference(A, w, group_rows));
    const Reconstruction rec = reconstruct(A, lu.LU, lu.piv);
    const double anorm = norm_inf(A);
    EXPECT_LE(rec.err, 2.0 * n * eps * rec.abs_lu);
    const double growth_lapack = reconstruct(A, ref.lu, ref.ipiv).abs_lu / anorm;
    EXPECT_LE(rec.abs_lu / anorm, 4.0 * growth_lapack);
    EXPECT_LE(residual_inf(A, lu.x, b), 3.0 * n * eps * rec.abs_lu * norm_inf(lu.x));
    const double fwd = 10.0 * ref.cond_inf * 3.0 * n * eps * (rec.abs_lu / anorm);
    EXPECT_LE(rel_diff_inf(lu.x, x_true), fwd) << "kappa_inf ~ " << ref.cond_inf;
  }
}

std::vector<TournamentCase> tournament_cases() {
  std::vector<TournamentCase> cases;
  for (int n : {1, 5, 33, 100, 300})
    for (int w : {1, 7, 8, 32})
      for (int g : {0, 5, 16, 64})
        for (Kind k : {Kind::random, Kind::zero_diagonal, Kind::permutation_like}) {
          if (n == 1 && k == Kind::zero_diagonal) continue;  // singular
          if (n < 100 && k != Kind::random) continue;
          cases.emplace_back(n, w, g, k);
        }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(DenseLu, LuTournament, ::testing::ValuesIn(tournament_cases()),
                         [](const ::testing::TestParamInfo<TournamentCase>& info) {
                           return "n" + std::to_string(std::get<0>(info.param)) + "_leaf" +
                                  std::to_string(std::get<1>(info.param)) + "_group" +
                                  std::to_string(std::get<2>(info.param)) + "_" + kind_name(std::get<3>(info.param));
                         });

// The recursion (outer panels of 64 and 512, leaves of 8 and 32) with tournament leaves: not
// partial pivoting (pivots other than LAPACK's where there are several groups, LAPACK's with one),
// within the GEPP error bounds.
TEST(LuTournament, RecursivePanelsWithinGeppBounds) {
  const int n = 300;
  const HostMat A = make_matrix(n, Kind::random, 4242u);
  const std::vector<double> x_true = make_vector(n, 4243u);
  const std::vector<double> b = matvec(A, x_true);
  const LapackSolution ref = lapack_solve(A, b);
  ASSERT_EQ(ref.info, 0);
  for (auto [nb, leaf, groups] : {std::tuple{64, 8, 16}, std::tuple{0, 32, 40}, std::tuple{64, 16, 1000}}) {
    SCOPED_TRACE("block " + std::to_string(nb) + " leaf " + std::to_string(leaf) + " group rows " + std::to_string(groups));
    nl::LuOptions o;
    o.block_size = nb;
    o.leaf_width = leaf;
    o.panel_kernel = nl::LuPanelKernel::tournament;
    o.team_rows = groups;
    const LuRun lu = run_lu(A, b, o);
    ASSERT_EQ(lu.result.status, nl::SolveStatus::solved);
    if (groups >= n) EXPECT_EQ(lu.piv, ref.ipiv);  // one group: dgetf2's choices
    else EXPECT_NE(lu.piv, ref.ipiv);
    const Reconstruction rec = reconstruct(A, lu.LU, lu.piv);
    EXPECT_LE(rec.err, 2.0 * n * eps * rec.abs_lu);
    EXPECT_LE(residual_inf(A, lu.x, b), 3.0 * n * eps * rec.abs_lu * norm_inf(lu.x));
  }
  nl::LuOptions wide;
  wide.panel_kernel = nl::LuPanelKernel::tournament;
  wide.leaf_width = nl::detail::lu_tournament_max_width + 1;
  EXPECT_THROW(run_lu(A, b, wide), std::invalid_argument);
}

std::vector<KernelCase> kernel_cases() {
  std::vector<KernelCase> cases;
  for (auto kernel : {nl::LuPanelKernel::per_column, nl::LuPanelKernel::fused, nl::LuPanelKernel::team,
                      nl::LuPanelKernel::persistent, nl::LuPanelKernel::automatic})
    for (int n : {1, 5, 33, 100, 300})
      for (auto [nb, leaf] : {std::pair{0, 0}, std::pair{0, 1}, std::pair{0, 32}, std::pair{64, 8},
                              std::pair{100, 7}, std::pair{16, 32}})
        for (Kind k : {Kind::random, Kind::zero_diagonal, Kind::permutation_like}) {
          if (n == 1 && k == Kind::zero_diagonal) continue;  // singular
          if (n < 100 && (nb != 0 || leaf == 1)) continue;    // keep the count down: small n, defaults only
          cases.emplace_back(n, nb, leaf, kernel, k);
        }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(DenseLu, LuKernelsVsLapack, ::testing::ValuesIn(kernel_cases()),
                         [](const ::testing::TestParamInfo<KernelCase>& info) {
                           return std::string(nl::detail::to_string(std::get<3>(info.param))) + "_n" +
                                  std::to_string(std::get<0>(info.param)) + "_nb" +
                                  std::to_string(std::get<1>(info.param)) + "_leaf" +
                                  std::to_string(std::get<2>(info.param)) + "_" + kind_name(std::get<4>(info.param));
                         });

// Exact ties in a column: every kernel takes the first row of the largest magnitude, as LAPACK's
// idamax does, whatever the team / thread layout (here column 0 has |a| = 2 in rows 3, 5 and 60).
TEST(DenseLu, PivotTiesGoToTheFirstRow) {
  const int n = 80;
  HostMat A = make_matrix(n, Kind::random, 99);  // |a| < 1
  A(5, 0) = -2.0;
  A(60, 0) = 2.0;
  A(3, 0) = 2.0;
  for (auto kernel : {nl::LuPanelKernel::per_column, nl::LuPanelKernel::fused, nl::LuPanelKernel::team,
                      nl::LuPanelKernel::persistent}) {
    if (kernel == nl::LuPanelKernel::per_column && Exec::concurrency() > 1) continue;  // MaxLoc: ties unordered
    for (int rows : {0, 2, 4}) {  // 2: rows 3 and 5 in different teams of the fused kernel
      nl::LuOptions o;
      o.panel_kernel = kernel;
      o.team_rows = rows;
      o.gpu_code = rows == 2;
      const LuRun lu = run_lu(A, std::vector<double>(n, 1.0), o);
      EXPECT_EQ(lu.piv[0], 3) << nl::detail::to_string(kernel) << " team_rows " << rows;
    }
    const LapackSolution ref = lapack_solve(A, std::vector<double>(n, 1.0));
    EXPECT_EQ(ref.ipiv[0], 3);
  }
}

// The zero-pivot and singular rules hold for every kernel: a zero column is skipped, no NaN.
TEST(DenseLu, SingularZeroColumnEveryKernel) {
  const HostMat A = zero_column_matrix_for_kernels(40);
  for (auto kernel : {nl::LuPanelKernel::per_column, nl::LuPanelKernel::fused, nl::LuPanelKernel::team,
                      nl::LuPanelKernel::persistent})
    for (int leaf : {1, 4, 32}) {
      nl::LuOptions o;
      o.panel_kernel = kernel;
      o.leaf_width = leaf;
      o.block_size = 16;
      o.team_rows = 9;
      o.gpu_code = leaf == 32;
      const LuRun lu = run_lu(A, std::vector<double>(40, 1.0), o);
      SCOPED_TRACE(std::string(nl::detail::to_string(kernel)) + " leaf " + std::to_string(leaf));
      EXPECT_EQ(lu.result.status, nl::SolveStatus::singular);
      EXPECT_EQ(lu.result.zero_pivot, 5);
      for (double v : lu.LU.a) EXPECT_TRUE(std::isfinite(v));
    }
}

// ------------------------------------------------------------ hand checked --

// A = [1 2 3; 4 5 6; 7 8 10].
// k=0: max |a_i0| in row 2 -> piv[0] = 2, rows 0<->2: [7 8 10; 4 5 6; 1 2 3]; l = 4/7, 1/7;
//      remainders: row 1 [5-32/7, 6-40/7] = [3/7, 2/7], row 2 [2-8/7, 3-10/7] = [6/7, 11/7].
// k=1: |6/7| > |3/7| -> piv[1] = 2, rows 1<->2 (multipliers too); l21 = (3/7)/(6/7) = 1/2;
//      u22 = 2/7 - 1/2 * 11/7 = -1/2.  k=2: piv[2] = 2.
// LU = [7 8 10; 1/7 6/7 11/7; 4/7 1/2 -1/2], PA = [7 8 10; 1 2 3; 4 5 6].
// b = A (1,1,1)^T = (6, 15, 25) -> x = (1, 1, 1).
TEST(DenseLu, HandChecked3x3Pivoting) {
  HostMat A(3);
  const double a[3][3] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 10}};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) A(i, j) = a[i][j];
  const double lu_expected[3][3] = {{7, 8, 10}, {1.0 / 7, 6.0 / 7, 11.0 / 7}, {4.0 / 7, 0.5, -0.5}};
  for (int nb : {0, 1, 2, 3}) {
    SCOPED_TRACE("block_size " + std::to_string(nb));
    const LuRun lu = run_lu(A, {6, 15, 25}, nb);
    EXPECT_EQ(lu.result.status, nl::SolveStatus::solved);
    EXPECT_EQ(lu.piv, (std::vector<int>{2, 2, 2}));
    // Each entry is a few roundings away from the exact fraction (|entries| <= 10).
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) EXPECT_NEAR(lu.LU(i, j), lu_expected[i][j], 16 * eps * 10) << i << "," << j;
    for (double xi : lu.x) EXPECT_NEAR(xi, 1.0, 16 * eps * 100);  // kappa_inf(A) < 100
  }
}

// --------------------------------------------------------------- singular --

HostMat duplicate_row_matrix(int n) {
  HostMat A = make_matrix(n, Kind::random, 77);
  for (int j = 0; j < n; ++j) A(7, j) = A(3, j);
  return A;
}

HostMat zero_column_matrix(int n) {
  HostMat A = make_matrix(n, Kind::random, 78);
  for (int i = 0; i < n; ++i) A(i, 5) = 0.0;
  return A;
}

bool all_finite(const HostMat& A) {
  return std::all_of(A.a.begin(), A.a.end(), [](double v) { return std::isfinite(v); });
}

TEST(DenseLu, SingularDuplicateRow) {
  for (int nb : {0, 1, 8}) {
    const LuRun lu = run_lu(duplicate_row_matrix(40), make_vector(40, 1), nb);
    EXPECT_EQ(lu.result.status, nl::SolveStatus::singular) << "block_size " << nb;
    EXPECT_GE(lu.result.zero_pivot, 0);
  }
}

TEST(DenseLu, SingularZeroColumn) {
  for (int nb : {0, 1, 4}) {
    const LuRun lu = run_lu(zero_column_matrix(40), make_vector(40, 2), nb);
    EXPECT_EQ(lu.result.status, nl::SolveStatus::singular) << "block_size " << nb;
    EXPECT_EQ(lu.result.zero_pivot, 5);  // column 5 stays exactly zero through the elimination
    EXPECT_TRUE(all_finite(lu.LU));      // the zero pivot is skipped, never divided by
  }
}

TEST(DenseLu, SingularZeroMatrix) {
  const LuRun lu = run_lu(HostMat(6), std::vector<double>(6, 1.0), 0);
  EXPECT_EQ(lu.result.status, nl::SolveStatus::singular);
  EXPECT_EQ(lu.result.zero_pivot, 0);
  EXPECT_TRUE(all_finite(lu.LU));
}

// The singularity rule is relative to max|A_ij|, so a badly scaled but well-posed system is solved.
TEST(DenseLu, BadlyScaledNonsingularIsSolved) {
  HostMat A(3);
  A(0, 1) = 1e-8;  // row-permuted diag(1, 1e-8, 1): pivots 1, 1e-8, 1; 1e-8 >> 3 eps
  A(1, 0) = 1.0;
  A(2, 2) = 1.0;
  const LuRun lu = run_lu(A, {2e-8, 1.0, 3.0}, 0);
  EXPECT_EQ(lu.result.status, nl::SolveStatus::solved);
  EXPECT_NEAR(lu.x[0], 1.0, 4 * eps);
  EXPECT_NEAR(lu.x[1], 2.0, 4 * eps);
  EXPECT_NEAR(lu.x[2], 3.0, 4 * eps);
}

TEST(DenseLu, EmptyMatrix) {
  Exec space;
  Mat A("A", 0, 0);
  Piv piv("piv", 0);
  Vec x("x", 0);
  EXPECT_EQ(nl::lu_factor(space, A, piv).status, nl::SolveStatus::solved);
  nl::lu_solve(space, A, piv, x);
  EXPECT_EQ(nl::reference_solve(space, A, x).status, nl::SolveStatus::solved);
}

// ---------------------------------------------------------- reference solve --

TEST(ReferenceSolve, MatchesLapackAndTrueSolution) {
  for (int n : {1, 17, 257}) {
    for (Kind kind : {Kind::random, Kind::tiny_diagonal}) {
      SCOPED_TRACE("n " + std::to_string(n) + " " + kind_name(kind));
      const HostMat A = make_matrix(n, kind, 31u * n);
      const std::vector<double> x_true = make_vector(n, 5);
      const std::vector<double> b = matvec(A, x_true);
      const LapackSolution ref = lapack_solve(A, b);
      ASSERT_EQ(ref.info, 0);
      Exec space;
      Mat dA = to_device(A);
      Vec x = to_device(b);
      const nl::LuResult r = nl::reference_solve(space, dA, x);
      EXPECT_EQ(r.status, nl::SolveStatus::solved);
      const std::vector<double> xs = to_host(x);
      // The forward-error model above, with the growth of LAPACK's factors (the same as ours).
      const double growth = reconstruct(A, ref.lu, ref.ipiv).abs_lu / norm_inf(A);
      const double fwd = 10.0 * ref.cond_inf * 3.0 * n * eps * growth;
      EXPECT_LE(rel_diff_inf(xs, ref.x), 2.0 * fwd);
      EXPECT_LE(rel_diff_inf(xs, x_true), fwd);
    }
  }
}

TEST(ReferenceSolve, SingularDuplicateRow) {
  Exec space;
  Mat A = to_device(duplicate_row_matrix(40));
  Vec x = to_device(make_vector(40, 1));
  const nl::LuResult r = nl::reference_solve(space, A, x);
  EXPECT_EQ(r.status, nl::SolveStatus::singular);
  EXPECT_GE(r.zero_pivot, 0);
}

TEST(ReferenceSolve, SingularZeroColumn) {
  Exec space;
  Mat A = to_device(zero_column_matrix(40));
  Vec x = to_device(make_vector(40, 2));
  const nl::LuResult r = nl::reference_solve(space, A, x);
  EXPECT_EQ(r.status, nl::SolveStatus::singular);
  EXPECT_EQ(r.zero_pivot, 5);
}

// ------------------------------------------------------------------ densify --

nl::HostCsr make_csr(int nrows, int ncols, const std::vector<std::vector<std::pair<int, double>>>& rows) {
  using M = nl::HostCsr;
  std::size_t nnz = 0;
  for (const auto& r : rows) nnz += r.size();
  M::row_map_type::non_const_type row_map("row_map", nrows + 1);
  M::index_type::non_const_type entries("entries", nnz);
  M::values_type::non_const_type values("values", nnz);
  std::size_t p = 0;
  for (int i = 0; i < nrows; ++i) {
    row_map(i) = p;
    for (const auto& [j, v] : rows[i]) {
      entries(p) = j;
      values(p) = v;
      ++p;
    }
  }
  row_map(nrows) = p;
  return M("csr", nrows, ncols, nnz, values, row_map, entries);
}

TEST(Densify, MatchesCsrEntries) {
  // 4 x 5, row 2 empty, unsorted columns in row 0, a duplicate (summed) in row 3.
  const std::vector<std::vector<std::pair<int, double>>> rows = {
      {{3, 1.5}, {0, -2.0}}, {{1, 4.0}, {4, 0.25}}, {}, {{2, 1.0}, {2, 2.0}, {0, -1.0}}};
  const double expected[4][5] = {{-2, 0, 0, 1.5, 0}, {0, 4, 0, 0, 0.25}, {0, 0, 0, 0, 0}, {-1, 0, 3, 0, 0}};
  Exec space;
  auto D = nl::densify(space, nl::to_device<Exec>(make_csr(4, 5, rows)));
  ASSERT_EQ(D.extent(0), 4u);
  ASSERT_EQ(D.extent(1), 5u);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), D);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 5; ++j) EXPECT_EQ(h(i, j), expected[i][j]) << i << "," << j;
}

TEST(Densify, RandomSparseRoundTrip) {
  const int nr = 60, nc = 45;
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<std::vector<std::pair<int, double>>> rows(nr);
  std::vector<double> dense(static_cast<std::size_t>(nr) * nc, 0.0);
  for (int i = 0; i < nr; ++i)
    for (int j = 0; j < nc; ++j)
      if (u(rng) > 0.8) {
        const double v = u(rng);
        rows[i].emplace_back(j, v);
        dense[i + static_cast<std::size_t>(j) * nr] = v;
      }
  Exec space;
  auto D = nl::densify(space, nl::to_device<Exec>(make_csr(nr, nc, rows)));
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), D);
  for (int i = 0; i < nr; ++i)
    for (int j = 0; j < nc; ++j) ASSERT_EQ(h(i, j), dense[i + static_cast<std::size_t>(j) * nr]) << i << "," << j;
}

}  // namespace
