// SPDX-License-Identifier: MIT
// Spectral radius of the Gauss-Seidel/SOR iteration matrix G by power iteration, for the
// convergence analysis (the error contracts by about rho(G) per sweep asymptotically).
#pragma once

#include "core/interrupt.hpp"
#include "linsolve/gauss_seidel.hpp"

#include <Kokkos_Core.hpp>
#include <Kokkos_Random.hpp>
#include <KokkosBlas1_nrm2.hpp>
#include <KokkosBlas1_scal.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace numlab::linsolve {

// Estimator: x_0 uniform random in [0, 1]^n (seeded), then x_k = G x_{k-1} / ||G x_{k-1}||,
// where applying G is one configured sweep with b = 0 (x <- G x + 0). Each step gives the
// norm ratio q_k = ||G x_{k-1}|| / ||x_{k-1}||; the estimate is the geometric mean of q_k over
// the last m = max(1, iterations / 2) steps, i.e. (||G^m y|| / ||y||)^(1/m) for the partly
// converged y = x_{iterations-m}. The first half is discarded as transient. Unlike the last
// ratio alone this also converges when the dominant eigenvalues are a complex pair or of
// equal modulus (the ratios oscillate, their product over m steps does not drift), and for
// non-normal G. The start vector is positive on purpose: its mean part overlaps the
// nonnegative Perron vector of G whenever A is an M-matrix (Poisson, dominant Z-matrices),
// where a zero-mean random start can be nearly orthogonal to it; its random part overlaps
// everything else. Error: about (|lambda_2| / rho)^(iterations/2) / m relative for a dominant
// simple eigenvalue, more for clustered spectra. Returns 0 when G^k x_0 vanishes exactly.
template <class ExecSpace>
double estimate_spectral_radius(GaussSeidel<ExecSpace>& gs, int iterations = 100, unsigned seed = 12345) {
  if (iterations < 1) throw std::invalid_argument("estimate_spectral_radius: iterations < 1");
  using V = Vector<ExecSpace>;
  const auto n = static_cast<std::size_t>(gs.num_rows());
  if (n == 0) return 0.0;
  V zero("numlab::gs::rho_b", n);  // zero-initialised right-hand side
  V x(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::rho_x"), n);
  Kokkos::Random_XorShift64_Pool<ExecSpace> pool(seed);
  Kokkos::fill_random(x, pool, 0.0, 1.0);
  Kokkos::fence();
  const double n0 = KokkosBlas::nrm2(x);
  KokkosBlas::scal(x, 1.0 / n0, x);

  const int m = std::max(1, iterations / 2);
  double sum_log = 0.0;
  for (int k = 1; k <= iterations; ++k) {
    check_interrupt();
    gs.sweep(zero, x);
    Kokkos::fence();
    const double q = KokkosBlas::nrm2(x);  // ||x_{k-1}|| = 1, so q is the norm ratio
    if (q == 0.0) return 0.0;
    if (!std::isfinite(q)) return q;
    if (k > iterations - m) sum_log += std::log(q);
    KokkosBlas::scal(x, 1.0 / q, x);
  }
  return std::exp(sum_log / m);
}

}  // namespace numlab::linsolve
