// SPDX-License-Identifier: MIT
// Mixed-precision iterative refinement: the 16-bit emulation rounds as the formats do; float32
// (and 16-bit) factors refined to the fp64 backward error where kappa u_f << 1, with the forward
// error of an fp64 solve; refinement_diverged (never solved) past that, with the history; the
// method through the driver and its config errors.
#include "driver_helpers.hpp"

#include "linsolve/dense_lu.hpp"
#include "linsolve/mixed_refinement.hpp"
#include "linsolve/randsvd.hpp"
#include "linsolve/reference_solve.hpp"

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
using Vec = numlab::linsolve::Vector<Exec>;  // qualified: KokkosBatched::Vector is visible too
constexpr double eps = std::numeric_limits<double>::epsilon();

struct System {
  DenseMatrix<Exec> A;
  Vec b, x_true;
};

// randsvd A (||A||_2 = 1, cond(A) = cond), b = A x_true with x_true uniform in [-1, 1).
System system(int n, double cond, std::uint64_t seed) {
  System s;
  s.A = randsvd(Exec(), n, cond, SvDistribution::geometric, seed);
  s.x_true = Vec("x_true", n);
  s.b = Vec("b", n);
  auto hx = Kokkos::create_mirror_view(s.x_true);
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int i = 0; i < n; ++i) hx(i) = u(g);
  Kokkos::deep_copy(s.x_true, hx);
  KokkosBlas::gemv("N", 1.0, s.A, s.x_true, 0.0, s.b);
  return s;
}

double rel_error(Vec const& x, Vec const& x_true) {
  auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  auto ht = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_true);
  double e = 0, t = 0;
  for (std::size_t i = 0; i < hx.extent(0); ++i) {
    e += (hx(i) - ht(i)) * (hx(i) - ht(i));
    t += ht(i) * ht(i);
  }
  return std::sqrt(e / t);
}

// The fp64 LU solve's relative error on the same system (the yardstick).
double fp64_error(System const& s) {
  const int n = int(s.A.extent(0));
  DenseMatrix<Exec> F("F", n, n);
  Kokkos::deep_copy(F, s.A);
  Kokkos::View<int*, Exec::memory_space> piv("piv", n);
  Vec x("x", n);
  Kokkos::deep_copy(x, s.b);
  lu_factor(Exec(), F, piv);
  lu_solve(Exec(), F, piv, x);
  return rel_error(x, s.x_true);
}

RefinementResult solve(System const& s, FactorPrecision p, Vec& x) {
  RefinementOptions o;
  o.precision = p;
  x = Vec("x", s.A.extent(0));
  return mixed_refinement_solve(Exec(), s.A, s.b, x, o);
}

}  // namespace

TEST(LowPrecision, RoundsAsTheFormats) {
  using numlab::linsolve::detail::round_to_bfloat16;
  using numlab::linsolve::detail::round_to_float16;
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(round_to_float16(1.0f / 3.0f), 0.333251953125f);
  EXPECT_EQ(round_to_bfloat16(1.0f / 3.0f), 0.333984375f);
  EXPECT_EQ(round_to_float16(1.0f + 0x1.0p-11f), 1.0f);                // a tie: to even
  EXPECT_EQ(round_to_float16(1.0f + 3 * 0x1.0p-11f), 1.0f + 0x1.0p-9f);  // a tie: to even (up)
  EXPECT_EQ(round_to_bfloat16(1.0f + 0x1.0p-8f), 1.0f);
  EXPECT_EQ(round_to_bfloat16(1.0f + 3 * 0x1.0p-8f), 1.0f + 0x1.0p-6f);
  EXPECT_EQ(round_to_float16(65504.0f), 65504.0f);
  EXPECT_EQ(round_to_float16(65519.0f), 65504.0f);
  EXPECT_EQ(round_to_float16(65520.0f), inf);
  EXPECT_EQ(round_to_float16(-70000.0f), -inf);
  EXPECT_EQ(round_to_bfloat16(70000.0f), 70144.0f);      // bfloat16 keeps float's range
  EXPECT_EQ(round_to_float16(0x1.0p-24f), 0x1.0p-24f);   // the smallest subnormal
  EXPECT_EQ(round_to_float16(0x1.0p-25f), 0.0f);         // a tie: to even (0)
  EXPECT_EQ(round_to_float16(3 * 0x1.0p-25f), 0x1.0p-23f);
  EXPECT_EQ(round_to_float16(-5 * 0x1.0p-24f), -5 * 0x1.0p-24f);
  EXPECT_TRUE(std::isnan(round_to_float16(std::nanf(""))));
}

// float32 factors, kappa up to 1e6 (kappa u_32 <= 0.06): the fp64 backward error in a few steps
// and a forward error within 10x the fp64 LU solve's (the bar).
TEST(MixedRefinement, Float32ReachesFp64AccuracyForModerateCond) {
  for (int n : {50, 131}) {
    for (double cond : {1e1, 1e3, 1e6}) {
      SCOPED_TRACE("n " + std::to_string(n) + " cond " + std::to_string(cond));
      const System s = system(n, cond, 11);
      Vec x;
      const auto r = solve(s, FactorPrecision::float32, x);
      ASSERT_EQ(r.outcome, RefinementOutcome::converged);
      EXPECT_LE(r.backward_error_history.back(), std::sqrt(double(n)) * eps);
      EXPECT_LE(r.iterations, 8);
      EXPECT_GE(r.backward_error_history.front(), 1e-9);  // the first solve is float32-accurate only
      EXPECT_LE(rel_error(x, s.x_true), 10 * fp64_error(s) + 4 * n * eps);
    }
  }
}

// A NaN in b makes every iterate NaN: never "converged" (KokkosBlas::nrminf skips NaN, so a
// backward error built from it read 0).
TEST(MixedRefinement, ANonFiniteRightHandSideIsNonfiniteNotSolved) {
  System s = system(40, 1e2, 5);
  Kokkos::deep_copy(Kokkos::subview(s.b, 7), std::numeric_limits<double>::quiet_NaN());
  Vec x;
  const auto r = solve(s, FactorPrecision::float32, x);
  EXPECT_EQ(r.outcome, RefinementOutcome::nonfinite);
  ASSERT_FALSE(r.backward_error_history.empty());
  EXPECT_TRUE(std::isnan(r.backward_error_history.back()));
}

// kappa = 1e9: kappa u_32 ~ 60, the corrections are noise: not converged, and said so, with the
// history of every step.
TEST(MixedRefinement, Float32AtCond1e9IsRefinementDiverged) {
  const System s = system(120, 1e9, 5);
  Vec x;
  const auto r = solve(s, FactorPrecision::float32, x);
  EXPECT_NE(r.outcome, RefinementOutcome::converged);
  EXPECT_TRUE(r.outcome == RefinementOutcome::stagnated || r.outcome == RefinementOutcome::diverged ||
              r.outcome == RefinementOutcome::max_iterations)
      << to_string(r.outcome);
  ASSERT_GE(r.backward_error_history.size(), 2u);
  EXPECT_EQ(r.backward_error_history.size(), std::size_t(r.iterations) + 1);
  EXPECT_GT(r.backward_error_history.back(), r.tol);
}

// The 16-bit formats: converge where kappa u_f << 1 (kappa = 10), stop at kappa = 1e6.
TEST(MixedRefinement, SixteenBitFormatsConvergeOnlyWhereKappaUIsSmall) {
  for (auto p : {FactorPrecision::bfloat16, FactorPrecision::float16}) {
    SCOPED_TRACE(numlab::enum_name(p));
    const System good = system(100, 10, 3), bad = system(100, 1e6, 3);
    Vec x;
    const auto r = solve(good, p, x);
    EXPECT_EQ(r.outcome, RefinementOutcome::converged);
    EXPECT_GE(r.iterations, 2);  // 16-bit factors: several steps
    EXPECT_LE(rel_error(x, good.x_true), 10 * fp64_error(good) + 400 * eps);
    EXPECT_NE(solve(bad, p, x).outcome, RefinementOutcome::converged);
  }
}

RefinementResult solve_gmres(System const& s, FactorPrecision p, Vec& x, int max_inner = 50) {
  RefinementOptions o;
  o.precision = p;
  o.solver = RefinementSolver::gmres;
  o.gmres_max_inner = max_inner;
  x = Vec("x", s.A.extent(0));
  return mixed_refinement_solve(Exec(), s.A, s.b, x, o);
}

// GMRES-IR reaches past the classical scheme: float16 factors at kappa = 1e5 (kappa u_16 ~ 50)
// and bfloat16 at 1e3 (~4), where classical refinement stops, converge to the fp64 backward error
// with an fp64 solve's forward error; every correction's Krylov steps are recorded.
TEST(MixedRefinement, GmresIrConvergesWhereClassicalStops) {
  struct Case {
    FactorPrecision p;
    double cond;
  };
  for (Case c : {Case{FactorPrecision::float16, 1e5}, Case{FactorPrecision::bfloat16, 1e3}}) {
    SCOPED_TRACE(std::string(numlab::enum_name(c.p)) + " cond " + std::to_string(c.cond));
    const System s = system(120, c.cond, 7);
    Vec x;
    EXPECT_NE(solve(s, c.p, x).outcome, RefinementOutcome::converged);
    const auto r = solve_gmres(s, c.p, x);
    ASSERT_EQ(r.outcome, RefinementOutcome::converged);
    EXPECT_LE(r.backward_error_history.back(), std::sqrt(120.0) * eps);
    EXPECT_LE(rel_error(x, s.x_true), 10 * fp64_error(s) + 4 * 120 * eps);
    ASSERT_EQ(r.inner_iterations.size(), std::size_t(r.iterations));  // x0 from the factors, then GMRES
    for (double k : r.inner_iterations) {
      EXPECT_GE(k, 2);  // low-precision factors: more than one Krylov step per correction
      EXPECT_LE(k, 50);
    }
  }
}

// float32 factors where classical refinement converges: GMRES-IR too, in no more corrections, with
// few Krylov steps each (the preconditioned matrix is close to the identity).
TEST(MixedRefinement, GmresIrWithFloat32FactorsNeedsFewSteps) {
  const System s = system(131, 1e6, 11);
  Vec xc, xg;
  const auto c = solve(s, FactorPrecision::float32, xc);
  const auto g = solve_gmres(s, FactorPrecision::float32, xg);
  ASSERT_EQ(c.outcome, RefinementOutcome::converged);
  ASSERT_EQ(g.outcome, RefinementOutcome::converged);
  EXPECT_LE(g.iterations, c.iterations);
  for (double k : g.inner_iterations) EXPECT_LE(k, 15);
  EXPECT_LE(rel_error(xg, s.x_true), 10 * fp64_error(s) + 4 * 131 * eps);
}

// Past kappa ~ 1/u_f, with fewer Krylov steps than unknowns (no restart), GMRES-IR does not reach
// the tolerance, and with 2 steps it does not at 1e5 either: not converged, and said so.
TEST(MixedRefinement, GmresIrPastItsReachIsNotSolved) {
  const System s = system(120, 1e9, 5);
  Vec x;
  EXPECT_NE(solve_gmres(s, FactorPrecision::float16, x).outcome, RefinementOutcome::converged);
  const System t = system(120, 1e5, 7);
  EXPECT_NE(solve_gmres(t, FactorPrecision::float16, x, 2).outcome, RefinementOutcome::converged);
}

// PA = LU from the library's getrf (LAPACK / cuSOLVER), its 1-based pivots turned into
// lu_factor's 0-based ones: rebuilt in fp64 on the host, P A - L U is at float32 rounding (a
// pivot off by one row fails it by O(1)).
TEST(LibraryFactors, Float32GetrfRebuildsPA) {
  const int n = 97;
  const System s = system(n, 1e4, 21);
  using Mem = Kokkos::Device<Exec, Exec::memory_space>;
  Kokkos::View<float**, Kokkos::LayoutLeft, Mem> F("F", n, n);
  numlab::linsolve::detail::convert_matrix(Exec(), F, s.A, FactorPrecision::float32);
  Kokkos::View<int*, Exec::memory_space> piv("piv", n);
  const auto f = library_lu_factor(Exec(), F, piv);
  ASSERT_NE(f.status, SolveStatus::singular);
  auto hF = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), F);
  auto hA = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), s.A);
  auto hp = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), piv);
  std::vector<int> rows(n);
  for (int i = 0; i < n; ++i) rows[i] = i;
  for (int k = 0; k < n; ++k) {
    ASSERT_GE(hp(k), k);
    ASSERT_LT(hp(k), n);
    std::swap(rows[k], rows[hp(k)]);
  }
  double err = 0, amax = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double lu = 0;
      for (int k = 0; k <= std::min(i, j); ++k) lu += (k == i ? 1.0 : double(hF(i, k))) * double(hF(k, j));
      err = std::max(err, std::fabs(double(hA(rows[i], j)) - lu));
      amax = std::max(amax, std::fabs(hA(i, j)));
    }
  EXPECT_LE(err, n * 0x1.0p-24 * amax * 4);
  EXPECT_GT(err, 0);  // float32 factors: not the fp64 matrix
}

// Float32 factors by another factorisation (`alter` applied to the options) refined as numlab's
// partial-pivoting float32 LU is: to the fp64 backward error in about as many corrections, with
// the same forward-error bar, classical and GMRES-IR, at cond 1e3 and 1e6.
template <class Alter>
void expect_refines_as_partial_pivoting(std::uint64_t seed, Alter alter) {
  for (double cond : {1e3, 1e6}) {
    SCOPED_TRACE("cond " + std::to_string(cond));
    const int n = 131;
    const System s = system(n, cond, seed);
    for (auto solver : {RefinementSolver::classical, RefinementSolver::gmres}) {
      SCOPED_TRACE(numlab::enum_name(solver));
      RefinementOptions o;
      o.precision = FactorPrecision::float32;
      o.solver = solver;
      Vec xp("xp", n), xa("xa", n);
      const auto rp = mixed_refinement_solve(Exec(), s.A, s.b, xp, o);
      alter(o);
      const auto ra = mixed_refinement_solve(Exec(), s.A, s.b, xa, o);
      ASSERT_EQ(ra.outcome, RefinementOutcome::converged);
      EXPECT_LE(ra.backward_error_history.back(), std::sqrt(double(n)) * eps);
      EXPECT_GE(ra.backward_error_history.front(), 1e-9);  // float32 factors
      EXPECT_LE(std::abs(ra.iterations - rp.iterations), 2);
      EXPECT_LE(rel_error(xa, s.x_true), 10 * fp64_error(s) + 4 * n * eps);
    }
  }
}

// factorization: library (LAPACK / cuSOLVER sgetrf); 16-bit factors are not the library's.
TEST(MixedRefinement, LibraryFloat32FactorsRefineAsNumlabs) {
  expect_refines_as_partial_pivoting(11, [](RefinementOptions& o) { o.factorization = Factorization::library; });
  const System s = system(20, 10, 1);
  RefinementOptions o;
  o.precision = FactorPrecision::bfloat16;
  o.factorization = Factorization::library;
  Vec x("x", 20);
  EXPECT_THROW(mixed_refinement_solve(Exec(), s.A, s.b, x, o), std::invalid_argument);
}

// Tournament pivoting with many groups (the tree, not dgetf2's choices): CALU's factors are as
// good a preconditioner.
TEST(MixedRefinement, TournamentFloat32FactorsRefineAsPartialPivotings) {
  expect_refines_as_partial_pivoting(13, [](RefinementOptions& o) {
    o.lu.panel_kernel = numlab::linsolve::LuPanelKernel::tournament;
    o.lu.team_rows = 16;
  });
}

// TF32 tensor-core GEMMs in the float32 factorisation (CUDA): the factors are TF32's, not
// float32's (the first backward error an order of magnitude and more above float32's: the math
// mode took effect), and refinement still reaches the fp64 backward error. Elsewhere refused.
TEST(MixedRefinement, Tf32FactorsOnTensorCores) {
  const int n = 1024;  // GEMMs large enough for cuBLAS to take tensor cores
  const System s = system(n, 1e2, 17);
  RefinementOptions o;
  o.precision = FactorPrecision::tf32;
  Vec x("x", n);
  if (!numlab::linsolve::detail::tf32_gemms_available<Exec>()) {
    EXPECT_THROW(mixed_refinement_solve(Exec(), s.A, s.b, x, o), std::invalid_argument);
    return;
  }
  const auto rt = mixed_refinement_solve(Exec(), s.A, s.b, x, o);
  ASSERT_EQ(rt.outcome, RefinementOutcome::converged);
  EXPECT_LE(rt.backward_error_history.back(), std::sqrt(double(n)) * eps);
  EXPECT_LE(rel_error(x, s.x_true), 10 * fp64_error(s) + 4 * n * eps);
  o.precision = FactorPrecision::float32;
  Vec xf("xf", n);
  const auto rf = mixed_refinement_solve(Exec(), s.A, s.b, xf, o);
  EXPECT_GT(rt.backward_error_history.front(), 10 * rf.backward_error_history.front());
  EXPECT_GE(rt.iterations, rf.iterations);
}

// lu_permutation's gather and lu_solve_permuted_rhs give lu_solve's solution to the bit (a matrix
// whose factorisation interchanges most rows).
TEST(LuPermutation, GatherThenSolveIsLuSolve) {
  const int n = 300;
  const System s = system(n, 1e2, 31);
  DenseMatrix<Exec> F("F", n, n);
  Kokkos::deep_copy(F, s.A);
  Kokkos::View<int*, Exec::memory_space> piv("piv", n);
  lu_factor(Exec(), F, piv);
  const auto perm = lu_permutation(Exec(), Kokkos::View<const int*, Exec::memory_space>(piv), n);
  auto hperm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), perm);
  auto hpiv = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), piv);
  std::vector<int> seen(n, 0);
  int moved = 0;
  for (int k = 0; k < n; ++k) {
    ASSERT_GE(hperm(k), 0);
    ASSERT_LT(hperm(k), n);
    ++seen[hperm(k)];
    moved += hpiv(k) != k;
  }
  for (int c : seen) ASSERT_EQ(c, 1);
  EXPECT_GT(moved, n / 2);
  Vec x("x", n), y("y", n);
  Kokkos::deep_copy(x, s.b);
  lu_solve(Exec(), F, piv, x);
  auto hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), s.b);
  auto hy = Kokkos::create_mirror_view(y);
  for (int k = 0; k < n; ++k) hy(k) = hb(hperm(k));
  Kokkos::deep_copy(y, hy);
  lu_solve_permuted_rhs(Exec(), F, y);
  auto hx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  Kokkos::deep_copy(hy, y);
  for (int k = 0; k < n; ++k) ASSERT_EQ(hx(k), hy(k)) << k;
  EXPECT_LE(rel_error(x, s.x_true), 1e-12);
}

TEST(MixedRefinement, Float64FactorsNeedNoCorrection) {
  const System s = system(64, 1e4, 2);
  Vec x;
  const auto r = solve(s, FactorPrecision::float64, x);
  EXPECT_EQ(r.outcome, RefinementOutcome::converged);
  EXPECT_LE(r.iterations, 1);
}

TEST(MixedRefinement, ExactlySingularIsNotSolved) {
  const int n = 8;
  DenseMatrix<Exec> A("A", n, n);  // zero matrix
  Vec b("b", n), x("x", n);
  Kokkos::deep_copy(b, 1.0);
  RefinementOptions o;
  const auto r = mixed_refinement_solve(Exec(), A, b, x, o);
  EXPECT_EQ(r.outcome, RefinementOutcome::factor_singular);
  EXPECT_EQ(r.zero_pivot, 0);
}

// Through the driver: statuses, the berr history dataset, and the metrics.
TEST(MixedRefinement, DriverStatusesAndHistory) {
  using namespace numlab_test;
  auto dir = work_dir();
  fs::path cfg = dir / "mixed.yaml";
  std::ofstream(cfg) << "name: mixed\nkind: linsolve\nwarmup: 0\nrepetitions: 1\n"
                        "sweep: {product: {cond: [1.0e3, 1.0e9]}}\n"
                        "matrix: {generator: randsvd, N: 100, seed: 4}\n"
                        "methods: [{name: mixed_refinement, factor_precision: float32}, gauss_elim]\n";
  fs::path out = dir / "mixed.h5";
  ASSERT_EQ(run({cfg.string(), "-o", out.string(), "--overwrite", "-q"}, dir / "mixed.log"), 0)
      << slurp(dir / "mixed.log");
  auto pts = numlab::results::read_points(out.string(), /*with_arrays=*/true);
  ASSERT_EQ(pts.size(), 4u);
  int seen = 0;
  for (auto const& p : pts) {
    auto const& a = p.attributes;
    if (std::get<std::string>(a.at("method")) != "mixed_refinement") continue;
    const double cond = numlab::get_real(a, "cond");
    const auto status = std::get<std::string>(a.at("status"));
    ASSERT_TRUE(p.arrays.count("backward_error_history"));
    const auto& h = p.arrays.at("backward_error_history");
    EXPECT_EQ(h.size(), std::size_t(std::get<std::int64_t>(a.at("iterations"))) + 1);
    if (cond < 1e6) {
      EXPECT_EQ(status, "solved");
      EXPECT_LE(numlab::get_real(a, "backward_error"), 10 * eps);
    } else {
      EXPECT_EQ(status, "refinement_diverged");
      EXPECT_FALSE(std::get<std::string>(a.at("reason")).empty());
    }
    EXPECT_EQ(std::get<std::string>(a.at("factor_precision")), "float32");
    ++seen;
  }
  EXPECT_EQ(seen, 2);
}

// factorization: library with 16-bit factors: skipped with the reason, beside a library float32 run
// that is solved and names the library's getrf in kernel_run.
TEST(MixedRefinement, DriverLibraryFactorization) {
  using namespace numlab_test;
  auto dir = work_dir();
  fs::path cfg = dir / "mixed_lib.yaml";
  std::ofstream(cfg) << "name: mixed_lib\nkind: linsolve\nwarmup: 0\nrepetitions: 1\n"
                        "matrix: {generator: randsvd, N: 60, cond: 100, seed: 4}\n"
                        "methods:\n"
                        "  - {name: mixed_refinement, factorization: library, factor_precision: float32}\n"
                        "  - {name: mixed_refinement, factorization: library, factor_precision: float16}\n"
                        "  - {name: mixed_refinement, factor_precision: tf32}\n";
  fs::path out = dir / "mixed_lib.h5";
  ASSERT_EQ(run({cfg.string(), "-o", out.string(), "--overwrite", "-q"}, dir / "mixed_lib.log"), 0)
      << slurp(dir / "mixed_lib.log");
  auto pts = numlab::results::read_points(out.string(), /*with_arrays=*/false);
  ASSERT_EQ(pts.size(), 3u);
  for (auto const& p : pts) {
    auto const& a = p.attributes;
    const auto prec = std::get<std::string>(a.at("factor_precision"));
    if (prec == "tf32") {  // tensor cores or nothing: a CUDA build runs it, any other says why not
      if (numlab::linsolve::detail::tf32_gemms_available<Exec>()) {
        EXPECT_EQ(std::get<std::string>(a.at("status")), "solved");
        EXPECT_NE(std::get<std::string>(a.at("kernel_run")).find("tf32_cublas_gemms"), std::string::npos);
      } else {
        EXPECT_EQ(std::get<std::string>(a.at("status")), "skipped");
        EXPECT_NE(std::get<std::string>(a.at("reason")).find("CUDA"), std::string::npos);
      }
      continue;
    }
    EXPECT_EQ(std::get<std::string>(a.at("factorization")), "library");
    if (prec == "float32") {
      EXPECT_EQ(std::get<std::string>(a.at("status")), "solved");
      const auto k = std::get<std::string>(a.at("kernel_run"));
      EXPECT_TRUE(k == "lapack_getrf" || k == "cusolver_getrf") << k;
    } else {
      EXPECT_EQ(std::get<std::string>(a.at("status")), "skipped");
      EXPECT_NE(std::get<std::string>(a.at("reason")).find("float32 or float64"), std::string::npos);
    }
  }
}

TEST(MixedRefinement, ConfigErrorsNameFileAndLine) {
  using namespace numlab_test;
  auto dir = work_dir();
  struct Case {
    const char* method;
    const char* what;
  };
  for (Case c : {Case{"{name: mixed_refinement, factor_precision: float8}", "factor_precision"},
                 Case{"{name: mixed_refinement, tol: 2}", "tol"},
                 Case{"{name: mixed_refinement, max_iter: -1}", "max_iter"},
                 Case{"{name: mixed_refinement, factorization: cusolver}", "factorization"}}) {
    SCOPED_TRACE(c.method);
    fs::path cfg = dir / "bad_mixed.yaml";
    std::ofstream(cfg) << "name: bad\nkind: linsolve\nmatrix: {generator: randsvd, N: 10, cond: 10}\nmethods:\n  - "
                       << c.method << "\n";
    fs::path log = dir / "bad_mixed.log";
    EXPECT_EQ(run({cfg.string(), "--dry-run"}, log), 2);
    const std::string text = slurp(log);
    EXPECT_NE(text.find("bad_mixed.yaml:5"), std::string::npos) << text;
    EXPECT_NE(text.find(c.what), std::string::npos) << text;
  }
}
