// SPDX-License-Identifier: MIT
// Mixed-precision iterative refinement (classical; Wilkinson, Moler; Carson & Higham 2018):
// factor PA = LU once in a low precision u_f, solve, then repeat
//   r = b - A x          (fp64, the working and residual precision)
//   solve A d = r        (with the low-precision factors; r scaled to ||r||_inf = 1 first so a
//                         16-bit format neither underflows nor overflows)
//   x = x + d            (fp64)
// while each step at least halves the fp64 normwise backward error
//   berr = ||b - A x||_inf / (||A||_inf ||x||_inf + ||b||_inf)
// (LAPACK dgerfs' rule: the forward error keeps improving past tol), and accept x when berr <= tol.
// It converges when kappa_inf(A) u_f is well below 1; past that the corrections are noise and
// berr stops falling: reported as not converged (refinement_diverged), never as a solution.
// GMRES-IR (Carson & Higham 2017, 2018) solves each correction equation A d = r by GMRES in fp64,
// left-preconditioned by the low-precision factors (z = U^-1 L^-1 P A v, the factors' values
// applied in fp64, as the analysis asks: applied in their own precision, each product carries an
// error of kappa u_f and GMRES stalls there, at N = 16384 and kappa = 1e6 after one correction):
// it converges for kappa up to about 1/u_f, past the classical scheme's reach.
#pragma once

#include "core/interrupt.hpp"
#include "core/kokkos_ext/compat.hpp"
#include "linsolve/butterfly.hpp"
#include "linsolve/csr.hpp"
#include "linsolve/dense_lu.hpp"
#include "linsolve/detail/low_precision.hpp"
#include "linsolve/detail/tensor_core_gemms.hpp"
#include "linsolve/reference_solve.hpp"

#include <KokkosBlas1_nrminf.hpp>
#include <KokkosBlas2_gemv.hpp>
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace numlab::linsolve {

enum class RefinementSolver { classical, gmres };

// Who computes the low-precision LU: numlab's blocked LU (every precision), or the library's
// getrf (LAPACK / cuSOLVER: float32 and float64 only).
enum class Factorization { numlab_lu, library };

// The low-precision LU's row interchanges: over all rows below the diagonal (partial pivoting, or
// the tournament by panel_kernel), within each diagonal block of block_size rows
// (lu_factor_block_local: no tall panel, the rest BLAS-3), or none (lu_factor_unpivoted). The last
// two are meant to follow a random butterfly transformation (butterfly_depth > 0).
enum class Pivoting { partial, block_local, none };

inline bool library_factors(FactorPrecision p) {
  return p == FactorPrecision::float32 || p == FactorPrecision::float64;
}

struct RefinementOptions {
  FactorPrecision precision = FactorPrecision::float32;
  RefinementSolver solver = RefinementSolver::classical;
  Factorization factorization = Factorization::numlab_lu;
  int gmres_max_inner = 50;   // GMRES-IR: Krylov vectors per correction (no restart)
  double gmres_tol = 1e-8;    // GMRES-IR: stop when the preconditioned residual falls by this factor
  int max_iter = 30;  // corrections at most (LAPACK dsgesv's ITERMAX)
  double tol = 0;     // berr target; 0: sqrt(n) eps_64 (dsgesv's rule)
  LuOptions lu;       // the low-precision factorisation's tuning (storage is set from precision)
  Pivoting pivoting = Pivoting::partial;
  int butterfly_depth = 0;           // > 0: factor U^T A V, U and V random butterflies of this depth
                                     // (clamped to floor(log2 n)); 0: A itself
  std::uint64_t butterfly_seed = 0;  // U from seed, V from seed + 1
};

enum class RefinementOutcome { converged, diverged, stagnated, max_iterations, factor_singular, nonfinite };

inline const char* to_string(RefinementOutcome o) {
  switch (o) {
    case RefinementOutcome::converged: return "converged";
    case RefinementOutcome::diverged: return "backward error grew";
    case RefinementOutcome::stagnated: return "backward error no longer halving";
    case RefinementOutcome::max_iterations: return "max_iter corrections without reaching tol";
    case RefinementOutcome::factor_singular: return "exact zero pivot in the low-precision factors";
    case RefinementOutcome::nonfinite: return "non-finite backward error";
  }
  return "unknown";
}

struct RefinementResult {
  RefinementOutcome outcome = RefinementOutcome::max_iterations;
  int iterations = 0;   // corrections applied
  double tol = 0;       // the berr target used
  int zero_pivot = -1;  // factor_singular: the column
  // berr after the low-precision solve (entry 0) and after each correction.
  std::vector<double> backward_error_history;
  double factor_seconds = 0;  // conversion + low-precision LU, fenced
  std::vector<double> inner_iterations;  // GMRES-IR: Krylov steps of each correction
};

// Effective berr target: tol, else sqrt(n) eps_64.
inline double refinement_tol(int n, double tol) {
  return tol > 0 ? tol : std::sqrt(double(n)) * std::numeric_limits<double>::epsilon();
}

namespace detail {

// r := b - A x in fp64 (Kokkos Kernels 3.4: no execution-space overload).
template <class ExecSpace>
void residual(ExecSpace const& space, DenseMatrix<ExecSpace> const& A, Vector<ExecSpace> const& b,
              Vector<ExecSpace> const& x, Vector<ExecSpace> const& r) {
  Kokkos::deep_copy(space, r, b);
#if NUMLAB_KOKKOS4
  KokkosBlas::gemv(space, "N", -1.0, A, x, 1.0, r);
#else
  space.fence();
  KokkosBlas::gemv("N", -1.0, A, x, 1.0, r);
#endif
}

// max_i |v_i|, NaN when any entry is not finite (KokkosBlas::nrminf's native kernel skips NaN and
// gives -DBL_MAX for an all-NaN vector: a NaN solution would read as backward error 0, "solved").
template <class ExecSpace>
double vec_norm_inf(ExecSpace const& space, Vector<ExecSpace> const& v) {
  double mx = 0;
  const double inf = std::numeric_limits<double>::infinity();
  Kokkos::parallel_reduce(
      "numlab::refine::norm_inf_vec", Kokkos::RangePolicy<ExecSpace>(space, 0, static_cast<int>(v.extent(0))),
      KOKKOS_LAMBDA(const int i, double& m) {
        const double a = kx::fabs(v(i));
        const double t = a <= 1.7976931348623157e308 ? a : inf;  // NaN or inf -> inf, which max keeps
        if (t > m) m = t;
      },
      Kokkos::Max<double>(mx));
  return std::isfinite(mx) ? mx : std::numeric_limits<double>::quiet_NaN();
}

// ||A||_inf = max_i sum_j |a_ij|.
template <class ExecSpace>
double norm_inf(ExecSpace const& space, DenseMatrix<ExecSpace> const& A) {
  const int n = static_cast<int>(A.extent(0)), m = static_cast<int>(A.extent(1));
  double v = 0;
  Kokkos::parallel_reduce(
      "numlab::refine::norm_inf", Kokkos::RangePolicy<ExecSpace>(space, 0, n),
      KOKKOS_LAMBDA(const int i, double& mx) {
        double s = 0;
        for (int j = 0; j < m; ++j) s += kx::fabs(A(i, j));
        if (s > mx) mx = s;
      },
      Kokkos::Max<double>(v));
  return v;
}

// dst(k) = T(src(perm(k)) * scale), rounded to p's format when emulated: the scaled right-hand side
// with the factors' row interchanges applied (P src), in one pass.
template <class ExecSpace, class T>
void to_low_permuted(ExecSpace const& space, Vector<ExecSpace> const& src, Kokkos::View<const int*, typename ExecSpace::memory_space> const& perm,
                     double scale,
                     Kokkos::View<T*, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> const& dst,
                     FactorPrecision p) {
  Kokkos::parallel_for(
      "numlab::refine::to_low", Kokkos::RangePolicy<ExecSpace>(space, 0, static_cast<int>(src.extent(0))),
      KOKKOS_LAMBDA(const int i) { dst(i) = round_to(p, static_cast<T>(src(perm(i)) * scale)); });
}

// x += scale * double(d).
template <class ExecSpace, class T>
void add_correction(ExecSpace const& space,
                    Kokkos::View<T*, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> const& d,
                    double scale, Vector<ExecSpace> const& x) {
  Kokkos::parallel_for(
      "numlab::refine::update", Kokkos::RangePolicy<ExecSpace>(space, 0, static_cast<int>(x.extent(0))),
      KOKKOS_LAMBDA(const int i) { x(i) += scale * static_cast<double>(d(i)); });
}

template <class ExecSpace, class X, class Y>
double dot(ExecSpace const& space, X const& a, Y const& b) {
  double s = 0;
  Kokkos::parallel_reduce(
      "numlab::refine::dot", Kokkos::RangePolicy<ExecSpace>(space, 0, static_cast<int>(a.extent(0))),
      KOKKOS_LAMBDA(const int i, double& v) { v += a(i) * b(i); }, s);
  return s;
}

// y := alpha x + beta y; beta == 0 does not read y (the BLAS rule: y may hold uninitialised NaNs).
template <class ExecSpace, class X, class Y>
void axpby(ExecSpace const& space, double alpha, X const& x, double beta, Y const& y) {
  Kokkos::parallel_for(
      "numlab::refine::axpby", Kokkos::RangePolicy<ExecSpace>(space, 0, static_cast<int>(y.extent(0))),
      KOKKOS_LAMBDA(const int i) { y(i) = beta == 0 ? alpha * x(i) : alpha * x(i) + beta * y(i); });
}

// The two random butterflies of butterfly_depth > 0: the factors are those of U^T A V.
template <class ExecSpace>
struct ButterflyPair {
  Butterfly<ExecSpace> U, V;
  Vector<ExecSpace> t;  // fp64 scratch: U^T v before the interchanges gather it, V d
};

// out = (LU)^-1 P v with the fp64 copy F of the factors (P as lu_permutation's gather); with
// butterflies (the factors of P U^T A V), out = V (LU)^-1 P U^T v.
template <class ExecSpace, class FV, class PV>
void apply_factors(ExecSpace const& space, FV const& F, PV const& perm, ButterflyPair<ExecSpace> const* rbt,
                   Vector<ExecSpace> const& v, Vector<ExecSpace> const& out) {
  Vector<ExecSpace> src = v;
  if (rbt) {
    Kokkos::deep_copy(space, rbt->t, v);
    butterfly_apply_transpose(space, rbt->U, rbt->t);
    src = rbt->t;
  }
  Kokkos::parallel_for(
      "numlab::refine::gather", Kokkos::RangePolicy<ExecSpace>(space, 0, static_cast<int>(v.extent(0))),
      KOKKOS_LAMBDA(const int i) { out(i) = src(perm(i)); });
  lu_solve_permuted_rhs(space, F, out);
  if (rbt) butterfly_apply(space, rbt->V, out);
}

// GMRES-IR's work space, allocated once per solve: the Krylov basis and two vectors.
template <class ExecSpace>
struct GmresWork {
  DenseMatrix<ExecSpace> V;
  Vector<ExecSpace> w, Av;
  GmresWork(int n, int m)
      : V(Kokkos::ViewAllocateWithoutInitializing("numlab::refine::krylov"), n, m + 1),
        w(Kokkos::ViewAllocateWithoutInitializing("numlab::refine::w"), n),
        Av(Kokkos::ViewAllocateWithoutInitializing("numlab::refine::Av"), n) {}
};

// d := an approximate solution of A d = r by GMRES (fp64, no restart, modified Gram-Schmidt)
// on the left-preconditioned system M^-1 A d = M^-1 r, M = LU from the fp64 copy F of the
// low-precision factors; returns the Krylov steps taken, -1 when a value went non-finite.
template <class ExecSpace, class FV, class PV>
int gmres_correction(ExecSpace const& space, DenseMatrix<ExecSpace> const& A, FV const& F, PV const& perm,
                     ButterflyPair<ExecSpace> const* rbt, Vector<ExecSpace> const& r, Vector<ExecSpace> const& out, GmresWork<ExecSpace> const& ws,
                     RefinementOptions const& o) {
  const int m = static_cast<int>(ws.V.extent(1)) - 1;
  auto const& V = ws.V;
  auto const& w = ws.w;
  auto const& Av = ws.Av;
  auto col = [&](int j) { return Kokkos::subview(V, Kokkos::ALL, j); };
  apply_factors(space, F, perm, rbt, r, w);
  const double beta = std::sqrt(dot(space, w, w));
  Kokkos::deep_copy(space, out, 0.0);
  if (!std::isfinite(beta)) return -1;
  if (!(beta > 0)) return 0;
  axpby(space, 1.0 / beta, w, 0.0, col(0));
  // Hessenberg H (column-major, (m+1) x m), its Givens rotations, g = beta e_1 rotated.
  std::vector<double> H(static_cast<std::size_t>(m + 1) * m, 0.0), cs(m), sn(m), g(m + 1, 0.0);
  g[0] = beta;
  auto h = [&](int i, int j) -> double& { return H[static_cast<std::size_t>(j) * (m + 1) + i]; };
  int k = 0;
  for (; k < m;) {
    check_interrupt();
    // w = M^-1 A v_k (the product in fp64).
    Kokkos::deep_copy(space, Av, 0.0);
#if NUMLAB_KOKKOS4
    KokkosBlas::gemv(space, "N", 1.0, A, col(k), 0.0, Av);
#else
    space.fence();
    KokkosBlas::gemv("N", 1.0, A, col(k), 0.0, Av);
#endif
    apply_factors(space, F, perm, rbt, Av, w);
    for (int i = 0; i <= k; ++i) {
      h(i, k) = dot(space, w, col(i));
      axpby(space, -h(i, k), col(i), 1.0, w);
    }
    h(k + 1, k) = std::sqrt(dot(space, w, w));
    if (!std::isfinite(h(k + 1, k))) return -1;
    if (h(k + 1, k) > 0) axpby(space, 1.0 / h(k + 1, k), w, 0.0, col(k + 1));
    for (int i = 0; i < k; ++i) {  // the earlier rotations on the new column
      const double a = h(i, k), b = h(i + 1, k);
      h(i, k) = cs[i] * a + sn[i] * b;
      h(i + 1, k) = -sn[i] * a + cs[i] * b;
    }
    const double a = h(k, k), b = h(k + 1, k), rho = std::hypot(a, b);
    cs[k] = rho > 0 ? a / rho : 1.0;
    sn[k] = rho > 0 ? b / rho : 0.0;
    h(k, k) = rho;
    h(k + 1, k) = 0;
    g[k + 1] = -sn[k] * g[k];
    g[k] = cs[k] * g[k];
    ++k;
    if (std::fabs(g[k]) <= o.gmres_tol * beta || rho == 0) break;
  }
  // y = H(0:k, 0:k)^-1 g, d = V y.
  std::vector<double> y(k, 0.0);
  for (int i = k - 1; i >= 0; --i) {
    double v = g[i];
    for (int j = i + 1; j < k; ++j) v -= h(i, j) * y[j];
    y[i] = h(i, i) != 0 ? v / h(i, i) : 0.0;
  }
  for (int i = 0; i < k; ++i) axpby(space, y[i], col(i), 1.0, out);
  return k;
}

template <class T, class ExecSpace>
RefinementResult refine(ExecSpace const& space, DenseMatrix<ExecSpace> const& A, Vector<ExecSpace> const& b,
                        Vector<ExecSpace> const& x, RefinementOptions const& o) {
  using Mem = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  const int n = static_cast<int>(A.extent(0));
  RefinementResult res;
  res.tol = refinement_tol(n, o.tol);
  LuOptions lo = o.lu;
  lo.storage = o.precision;
  lo.zero_pivot_eps = 0;  // only exact zeros: tiny low-precision pivots are the refinement's to judge

  // The low-precision factors.
  Kokkos::View<T**, Kokkos::LayoutLeft, Mem> F(Kokkos::ViewAllocateWithoutInitializing("numlab::refine::F"), n, n);
  Kokkos::View<int*, typename ExecSpace::memory_space> piv("numlab::refine::piv", n);
  const int depth = std::min(o.butterfly_depth, butterfly_max_depth(n));
  const bool butterflies = depth > 0;
  std::unique_ptr<ButterflyPair<ExecSpace>> rbt;
  space.fence();
  const auto t0 = std::chrono::steady_clock::now();
  if (butterflies) {
    // F = U^T A V in T, rounded to the factors' format once transformed.
    rbt = std::make_unique<ButterflyPair<ExecSpace>>(ButterflyPair<ExecSpace>{
        make_butterfly(space, n, depth, o.butterfly_seed), make_butterfly(space, n, depth, o.butterfly_seed + 1),
        Vector<ExecSpace>(Kokkos::ViewAllocateWithoutInitializing("numlab::refine::rbt_t"), n)});
    convert_matrix(space, F, A, FactorPrecision::float64);
    butterfly_transform_matrix(space, rbt->U, rbt->V, F);
    round_block(space, F, o.precision);
  } else {
    convert_matrix(space, F, A, o.precision);
  }
  // No interchanges: the identity (here, not in the lambda below: nvcc takes no device lambda there).
  if (o.pivoting == Pivoting::none)
    Kokkos::parallel_for("numlab::refine::identity_piv", Kokkos::RangePolicy<ExecSpace>(space, 0, n),
                         KOKKOS_LAMBDA(const int k) { piv(k) = k; });
  const LuResult f = [&] {
    if (o.factorization == Factorization::library) return library_lu_factor(space, F, piv);
    Tf32GemmScope<ExecSpace> tensor_cores(o.precision == FactorPrecision::tf32);
    if (o.pivoting == Pivoting::none) return lu_factor_unpivoted(space, F, lo);
    if (o.pivoting == Pivoting::block_local) return lu_factor_block_local(space, F, piv, lo);
    return lu_factor(space, F, piv, lo);
  }();
  space.fence();
  res.factor_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (f.status == SolveStatus::singular) {
    res.outcome = RefinementOutcome::factor_singular;
    res.zero_pivot = f.zero_pivot;
    Kokkos::deep_copy(space, x, 0.0);
    return res;
  }
  const auto perm = lu_permutation(space, Kokkos::View<const int*, typename ExecSpace::memory_space>(piv), n);

  const double anorm = norm_inf(space, A);
  const double bnorm = vec_norm_inf(space, b);
  Vector<ExecSpace> r(Kokkos::ViewAllocateWithoutInitializing("numlab::refine::r"), n);
  Kokkos::View<T*, Kokkos::LayoutLeft, Mem> d(Kokkos::ViewAllocateWithoutInitializing("numlab::refine::d"), n);
  const bool gmres = o.solver == RefinementSolver::gmres;
  Vector<ExecSpace> dx;
  DenseMatrix<ExecSpace> F64;  // GMRES-IR: the factors' values in fp64 (an n x n copy)
  std::unique_ptr<GmresWork<ExecSpace>> ws;
  if (gmres) {
    dx = Vector<ExecSpace>(Kokkos::ViewAllocateWithoutInitializing("numlab::refine::dx"), n);
    ws = std::make_unique<GmresWork<ExecSpace>>(n, std::max(1, std::min(o.gmres_max_inner, n)));
    if constexpr (std::is_same_v<T, double>) {
      F64 = F;
    } else {
      F64 = DenseMatrix<ExecSpace>(Kokkos::ViewAllocateWithoutInitializing("numlab::refine::F64"), n, n);
      convert_matrix(space, F64, F, FactorPrecision::float64);
    }
  }

  // x0 from the low-precision solve of b, then corrections from r (GMRES-IR: by GMRES).
  Kokkos::deep_copy(space, x, 0.0);
  Kokkos::deep_copy(space, r, b);
  for (int it = 0;; ++it) {
    check_interrupt();
    const double rnorm = vec_norm_inf(space, r);
    if (!std::isfinite(rnorm) || !std::isfinite(bnorm) || !std::isfinite(anorm)) {
      res.backward_error_history.push_back(std::numeric_limits<double>::quiet_NaN());
      res.iterations = it;
      res.outcome = RefinementOutcome::nonfinite;
      return res;
    }
    if (gmres && it > 0) {
      const int k = gmres_correction(space, A, F64, perm, rbt.get(), r, dx, *ws, o);
      if (k < 0) {
        res.backward_error_history.push_back(std::numeric_limits<double>::quiet_NaN());
        res.iterations = it;
        res.outcome = RefinementOutcome::nonfinite;
        return res;
      }
      res.inner_iterations.push_back(k);
      axpby(space, 1.0, dx, 1.0, x);
    } else if (it > 0 || rnorm > 0) {
      const double scale = rnorm > 0 ? rnorm : 1.0;
      if (butterflies) {  // d = (LU)^-1 P U^T r / scale, x += scale V d (t: U^T r, then V d, in fp64)
        auto const& t = rbt->t;
        Kokkos::deep_copy(space, t, r);
        butterfly_apply_transpose(space, rbt->U, t);
        to_low_permuted(space, t, perm, 1.0 / scale, d, o.precision);
        lu_solve_permuted_rhs(space, F, d);
        axpby(space, 1.0, d, 0.0, t);
        butterfly_apply(space, rbt->V, t);
        axpby(space, scale, t, 1.0, x);
      } else {
        to_low_permuted(space, r, perm, 1.0 / scale, d, o.precision);
        lu_solve_permuted_rhs(space, F, d);
        add_correction(space, d, scale, x);
      }
    }
    residual(space, A, b, x, r);
    space.fence();
    const double xnorm = vec_norm_inf(space, x);
    const double den = anorm * xnorm + bnorm;
    const double berr = !std::isfinite(den) ? std::numeric_limits<double>::quiet_NaN()
                        : den > 0           ? vec_norm_inf(space, r) / den
                                            : 0.0;
    res.backward_error_history.push_back(berr);
    res.iterations = it;
    if (!std::isfinite(berr)) {
      res.outcome = RefinementOutcome::nonfinite;
      return res;
    }
    // LAPACK dgerfs' rule: refine while each step at least halves berr (past tol too: the forward
    // error keeps improving), stop at eps_64; then tol decides.
    const double prev = it > 0 ? res.backward_error_history[res.backward_error_history.size() - 2] : 0.0;
    const bool halved = it == 0 || berr <= 0.5 * prev;
    if (berr <= std::numeric_limits<double>::epsilon() || !halved || it >= o.max_iter) {
      if (berr <= res.tol) res.outcome = RefinementOutcome::converged;
      // The corrections are noise once kappa u_f >~ 1: berr grows or stops falling.
      else if (!halved) res.outcome = berr > prev ? RefinementOutcome::diverged : RefinementOutcome::stagnated;
      else res.outcome = RefinementOutcome::max_iterations;
      return res;
    }
  }
}

}  // namespace detail

// Solves A x = b (A fp64, kept) by a factorisation in o.precision and fp64 refinement; x is the
// last iterate whatever the outcome (only `converged` makes it a solution).
template <class ExecSpace>
RefinementResult mixed_refinement_solve(ExecSpace const& space, DenseMatrix<ExecSpace> const& A,
                                        Vector<ExecSpace> const& b, Vector<ExecSpace> const& x,
                                        RefinementOptions const& o) {
  if (A.extent(0) != A.extent(1) || b.extent(0) != A.extent(0) || x.extent(0) != A.extent(0))
    throw std::invalid_argument("numlab::linsolve::mixed_refinement_solve: A must be square, b and x hold n entries");
  if (o.factorization == Factorization::library && !library_factors(o.precision))
    throw std::invalid_argument("numlab::linsolve::mixed_refinement_solve: the library's getrf factors in float32 or float64 only");
  if (o.factorization == Factorization::library && (o.pivoting != Pivoting::partial || o.butterfly_depth > 0))
    throw std::invalid_argument("numlab::linsolve::mixed_refinement_solve: the library's getrf pivots by rows itself: "
                                "pivoting partial, butterfly_depth 0");
  if (o.butterfly_depth < 0)
    throw std::invalid_argument("numlab::linsolve::mixed_refinement_solve: butterfly_depth must be >= 0");
  if (o.precision == FactorPrecision::tf32 && !detail::tf32_gemms_available<ExecSpace>())
    throw std::invalid_argument("numlab::linsolve::mixed_refinement_solve: tf32 factors need TF32 tensor cores (a CUDA build with cuBLAS)");
  if (o.precision == FactorPrecision::float64) return detail::refine<double>(space, A, b, x, o);
  return detail::refine<float>(space, A, b, x, o);
}

}  // namespace numlab::linsolve

namespace numlab {
template <>
struct EnumNames<linsolve::Factorization> {
  static constexpr EnumName<linsolve::Factorization> values[] = {
      {linsolve::Factorization::numlab_lu, "numlab_lu", "numlab's blocked LU (gauss_elim's kernels), every factor_precision"},
      {linsolve::Factorization::library, "library",
       "the library's getrf (LAPACK on the host, cuSOLVER on CUDA), factor_precision float32 or float64"}};
};
template <>
struct EnumNames<linsolve::Pivoting> {
  static constexpr EnumName<linsolve::Pivoting> values[] = {
      {linsolve::Pivoting::partial, "partial",
       "interchanges over all rows below the diagonal (partial pivoting, or the tournament by panel_kernel)"},
      {linsolve::Pivoting::block_local, "block_local",
       "interchanges within each diagonal block of block_size rows only: no tall panel, the rest BLAS-3 "
       "(with butterfly_depth > 0)"},
      {linsolve::Pivoting::none, "none", "no interchanges: all BLAS-3 but small diagonal blocks (with butterfly_depth > 0)"}};
};
template <>
struct EnumNames<linsolve::RefinementSolver> {
  static constexpr EnumName<linsolve::RefinementSolver> values[] = {
      {linsolve::RefinementSolver::classical, "classical", "each correction from one solve with the low-precision factors"},
      {linsolve::RefinementSolver::gmres, "gmres",
       "GMRES-IR: each correction by fp64 GMRES preconditioned with the low-precision factors"}};
};
}  // namespace numlab
