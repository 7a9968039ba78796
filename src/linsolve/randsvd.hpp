// SPDX-License-Identifier: MIT
// randsvd: dense test matrices with a prescribed 2-norm condition number, as MATLAB's
// gallery('randsvd', n, cond, mode): A = U diag(sigma) V with U, V random orthogonal and
// sigma_1 = 1 >= ... >= sigma_n = 1/cond. U and V are Haar distributed (Stewart 1980): the Q of
// the Householder QR of a Gaussian matrix with R's diagonal made positive, i.e. the product
// H_0 H_1 ... H_{n-2} D of reflectors H_k = I - tau_k v_k v_k^T whose v_k (rows k..n-1) come from
// a Gaussian vector, and D = diag(sign(r_kk)). The reflectors are applied in blocks of
// kRandsvdBlock (compact WY: H_k0 ... H_k0+b-1 = I - Y T Y^T, LAPACK dlarft) by gemm on the
// execution space: about 4 n^3 flops in all (6 LU factorisations).
#pragma once

#include "core/kokkos_ext/compat.hpp"
#include "linsolve/csr.hpp"
#include "linsolve/generators.hpp"

#include <KokkosBlas3_gemm.hpp>
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace numlab::linsolve {

// The singular values between 1 and 1/cond (MATLAB's randsvd modes 3, 2, 1 and 4):
//   geometric   sigma_i = cond^(-i/(n-1))            (mode 3, MATLAB's default)
//   one_small   1, ..., 1, 1/cond                    (mode 2)
//   one_large   1, 1/cond, ..., 1/cond               (mode 1)
//   arithmetic  sigma_i = 1 - (1 - 1/cond) i/(n-1)   (mode 4)
enum class SvDistribution { geometric, one_small, one_large, arithmetic };

inline SvDistribution sv_distribution_from(std::string const& s) {
  if (s == "geometric") return SvDistribution::geometric;
  if (s == "one_small") return SvDistribution::one_small;
  if (s == "one_large") return SvDistribution::one_large;
  if (s == "arithmetic") return SvDistribution::arithmetic;
  throw std::invalid_argument("unknown singular-value distribution '" + s +
                              "' (expected geometric, one_small, one_large or arithmetic)");
}

// n = 1: {1} (a 1 x 1 matrix has condition number 1).
inline std::vector<double> randsvd_singular_values(int n, double cond, SvDistribution d) {
  if (n < 1 || !(cond >= 1.0) || !std::isfinite(cond))
    throw std::invalid_argument("randsvd: need n >= 1 and a finite cond >= 1");
  std::vector<double> s(static_cast<std::size_t>(n), 1.0);
  if (n == 1) return s;
  for (int i = 0; i < n; ++i) {
    const double t = double(i) / double(n - 1);
    switch (d) {
      case SvDistribution::geometric: s[i] = std::pow(cond, -t); break;
      case SvDistribution::one_small: s[i] = i == n - 1 ? 1.0 / cond : 1.0; break;
      case SvDistribution::one_large: s[i] = i == 0 ? 1.0 : 1.0 / cond; break;
      case SvDistribution::arithmetic: s[i] = 1.0 - (1.0 - 1.0 / cond) * t; break;
    }
  }
  s[n - 1] = 1.0 / cond;  // exactly, whatever pow rounds to
  return s;
}

// Reflectors per block: wide enough for the gemms to run at BLAS-3 speed, narrow enough that
// the host work per block (n x b Gaussians, the b x b T) stays small.
inline constexpr int kRandsvdBlock = 64;

namespace detail {

// C := alpha op(A) op(B) + beta C on `space` (Kokkos Kernels 3.4 has no execution-space overload).
template <class ExecSpace, class AV, class BV, class CV>
void randsvd_gemm(ExecSpace const& space, const char* ta, const char* tb, double alpha, AV const& A, BV const& B,
                  double beta, CV const& C) {
  if (C.extent(0) == 0 || C.extent(1) == 0) return;
#if NUMLAB_KOKKOS4
  KokkosBlas::gemm(space, ta, tb, alpha, A, B, beta, C);
#else
  space.fence();
  KokkosBlas::gemm(ta, tb, alpha, A, B, beta, C);
#endif
}

// Rows (left) or columns (right) of M scaled by d: M := D M or M D.
template <class ExecSpace, class MV, class DV>
void scale_by_signs(ExecSpace const& space, MV const& M, DV const& d, bool rows) {
  const int n = static_cast<int>(M.extent(0));
  Kokkos::parallel_for(
      "numlab::randsvd::signs", Kokkos::RangePolicy<ExecSpace>(space, 0, n), KOKKOS_LAMBDA(const int j) {
        for (int i = 0; i < n; ++i) M(i, j) *= rows ? d(i) : d(j);
      });
}

template <class ExecSpace, class MV, class SV>
void set_diagonal(ExecSpace const& space, MV const& M, SV const& s) {
  Kokkos::parallel_for(
      "numlab::randsvd::diag", Kokkos::RangePolicy<ExecSpace>(space, 0, static_cast<int>(s.extent(0))),
      KOKKOS_LAMBDA(const int i) { M(i, i) = s(i); });
}

// One block of a Haar factor: reflectors k0 .. k0+b-1 of factor `which` (0: U, 1: V): Y holds
// their vectors as the rows >= k0 of an (n-k0) x b LayoutLeft array (v_k zero above row k), tau
// their 2 / v^T v.
struct ReflectorBlock {
  std::vector<double> Y, tau;
  int k0 = 0, b = 0;
};

inline ReflectorBlock reflector_block(int n, int k0, int b, std::uint64_t seed, int which) {
  ReflectorBlock r;
  r.k0 = k0;
  r.b = b;
  const int m = n - k0;
  r.Y.assign(static_cast<std::size_t>(m) * b, 0.0);
  r.tau.assign(static_cast<std::size_t>(b), 0.0);
  for (int i = 0; i < b; ++i) {
    const int k = k0 + i;
    double* v = r.Y.data() + static_cast<std::size_t>(i) * m + (k - k0);
    const int len = n - k;
    fill_gaussian(seed, static_cast<std::uint64_t>(which) * (std::uint64_t(n) + 1) + k, v, len);
    double nrm2 = 0;
    for (int t = 0; t < len; ++t) nrm2 += v[t] * v[t];
    v[0] += std::copysign(std::sqrt(nrm2), v[0]);  // v = x + sign(x_0) ||x|| e_0: H x = -sign(x_0) ||x|| e_0
    double vv = 0;
    for (int t = 0; t < len; ++t) vv += v[t] * v[t];
    r.tau[i] = vv > 0 ? 2.0 / vv : 0.0;
  }
  return r;
}

// T (b x b upper, column-major) with H_k0 ... H_k0+b-1 = I - Y T Y^T from G = Y^T Y (LAPACK
// dlarft, forward, columnwise): T(i, i) = tau_i, T(0:i, i) = -tau_i T(0:i, 0:i) G(0:i, i).
inline std::vector<double> block_T(std::vector<double> const& G, std::vector<double> const& tau) {
  const int b = static_cast<int>(tau.size());
  std::vector<double> T(static_cast<std::size_t>(b) * b, 0.0);
  auto at = [b](int i, int j) { return static_cast<std::size_t>(j) * b + i; };
  for (int i = 0; i < b; ++i) {
    for (int j = 0; j < i; ++j) {
      double s = 0;
      for (int q = j; q < i; ++q) s += T[at(j, q)] * G[at(q, i)];
      T[at(j, i)] = -tau[i] * s;
    }
    T[at(i, i)] = tau[i];
  }
  return T;
}

// D of factor `which`: -sign(x_0) of each reflector's Gaussian vector (R's diagonal made
// positive), the last from a 1 x 1 Gaussian.
inline std::vector<double> factor_signs(int n, std::uint64_t seed, int which) {
  std::vector<double> d(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) {
    double x0 = 0;
    fill_gaussian(seed, static_cast<std::uint64_t>(which) * (std::uint64_t(n) + 1) + k, &x0, 1);
    d[k] = k < n - 1 ? (x0 >= 0 ? -1.0 : 1.0) : (x0 >= 0 ? 1.0 : -1.0);
  }
  return d;
}

}  // namespace detail

// A = U diag(sigma) V, n x n on `space` (see the file comment); deterministic for a seed.
template <class ExecSpace>
DenseMatrix<ExecSpace> randsvd(ExecSpace const& space, int n, double cond, SvDistribution dist, std::uint64_t seed) {
  using range_t = Kokkos::pair<int, int>;
  const std::vector<double> sigma = randsvd_singular_values(n, cond, dist);
  DenseMatrix<ExecSpace> M("numlab::randsvd::A", n, n);
  {
    Vector<ExecSpace> s("numlab::randsvd::sigma", n);
    auto hs = Kokkos::create_mirror_view(s);
    for (int i = 0; i < n; ++i) hs(i) = sigma[i];
    Kokkos::deep_copy(s, hs);
    detail::set_diagonal(space, M, s);
  }
  const int nb = std::max(1, std::min(kRandsvdBlock, n - 1));
  const int reflectors = n - 1;
  DenseMatrix<ExecSpace> W("numlab::randsvd::W", n, nb), W2("numlab::randsvd::W2", n, nb);     // n x b
  DenseMatrix<ExecSpace> Wt("numlab::randsvd::Wt", nb, n), Wt2("numlab::randsvd::Wt2", nb, n);  // b x n
  // The block's Y ((n-k0) x b) and T (b x b) on the device; G = Y^T Y by gemm there, T from it
  // on the host (b^3 / 3 flops).
  auto upload = [&](detail::ReflectorBlock const& r) {
    const int m = n - r.k0;
    using HostMatrix = Kokkos::View<double**, Kokkos::LayoutLeft, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
    DenseMatrix<ExecSpace> y(Kokkos::ViewAllocateWithoutInitializing("numlab::randsvd::Y"), m, r.b);
    DenseMatrix<ExecSpace> t(Kokkos::ViewAllocateWithoutInitializing("numlab::randsvd::T"), r.b, r.b);
    DenseMatrix<ExecSpace> g("numlab::randsvd::G", r.b, r.b);
    space.fence();  // the previous block's gemms may still read the previous Y and T
    Kokkos::deep_copy(y, HostMatrix(const_cast<double*>(r.Y.data()), m, r.b));
    detail::randsvd_gemm(space, "T", "N", 1.0, y, y, 0.0, g);
    space.fence();
    std::vector<double> G(static_cast<std::size_t>(r.b) * r.b);
    Kokkos::deep_copy(HostMatrix(G.data(), r.b, r.b), g);
    std::vector<double> T = detail::block_T(G, r.tau);
    Kokkos::deep_copy(t, HostMatrix(T.data(), r.b, r.b));
    return std::make_pair(y, t);
  };
  auto signs = [&](int which) {
    Vector<ExecSpace> d("numlab::randsvd::d", n);
    auto hd = Kokkos::create_mirror_view(d);
    const auto v = detail::factor_signs(n, seed, which);
    for (int i = 0; i < n; ++i) hd(i) = v[i];
    Kokkos::deep_copy(d, hd);
    return d;
  };

  // M := U M = H_0 ... H_{n-2} D M: D first, then the blocks from the last one back.
  detail::scale_by_signs(space, M, signs(0), true);
  for (int k0 = ((reflectors - 1) / nb) * nb; reflectors > 0 && k0 >= 0; k0 -= nb) {
    const auto r = detail::reflector_block(n, k0, std::min(nb, reflectors - k0), seed, 0);
    auto [Y, T] = upload(r);
    auto Mr = Kokkos::subview(M, range_t(k0, n), Kokkos::ALL());  // the rows P changes, (n-k0) x n
    auto Z = Kokkos::subview(Wt, range_t(0, r.b), Kokkos::ALL());  // b x n
    auto Z2 = Kokkos::subview(Wt2, range_t(0, r.b), Kokkos::ALL());
    detail::randsvd_gemm(space, "T", "N", 1.0, Y, Mr, 0.0, Z);     // Y^T Mr
    detail::randsvd_gemm(space, "N", "N", 1.0, T, Z, 0.0, Z2);     // T Y^T Mr
    detail::randsvd_gemm(space, "N", "N", -1.0, Y, Z2, 1.0, Mr);   // Mr -= Y T Y^T Mr
  }
  // M := M V = M H_0 ... H_{n-2} D: the blocks from the first one, then D.
  for (int k0 = 0; k0 < reflectors; k0 += nb) {
    const auto r = detail::reflector_block(n, k0, std::min(nb, reflectors - k0), seed, 1);
    auto [Y, T] = upload(r);
    auto Mc = Kokkos::subview(M, Kokkos::ALL(), range_t(k0, n));  // the columns P changes
    auto Z = Kokkos::subview(W, Kokkos::ALL(), range_t(0, r.b));   // n x b
    auto Z2 = Kokkos::subview(W2, Kokkos::ALL(), range_t(0, r.b));
    detail::randsvd_gemm(space, "N", "N", 1.0, Mc, Y, 0.0, Z);     // Mc Y
    detail::randsvd_gemm(space, "N", "N", 1.0, Z, T, 0.0, Z2);     // Mc Y T
    detail::randsvd_gemm(space, "N", "T", -1.0, Z2, Y, 1.0, Mc);   // Mc -= Mc Y T Y^T
  }
  detail::scale_by_signs(space, M, signs(1), false);
  space.fence();
  return M;
}

// The dense matrix as a host CSR holding every entry (the linear-systems problem's form).
template <class DV>
HostCsr dense_to_host_csr(DV const& D) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), D);
  const auto n = static_cast<ordinal_t>(h.extent(0));
  const std::size_t nn = static_cast<std::size_t>(n) * static_cast<std::size_t>(n);
  HostCsr::row_map_type::non_const_type rm(Kokkos::ViewAllocateWithoutInitializing("numlab::randsvd::row_map"), n + 1);
  HostCsr::index_type::non_const_type ci(Kokkos::ViewAllocateWithoutInitializing("numlab::randsvd::entries"), nn);
  HostCsr::values_type::non_const_type v(Kokkos::ViewAllocateWithoutInitializing("numlab::randsvd::values"), nn);
  Kokkos::parallel_for(
      "numlab::randsvd::to_csr", Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>(0, n), [&](const ordinal_t i) {
        const std::size_t row = static_cast<std::size_t>(i) * n;
        rm(i + 1) = row + n;
        for (ordinal_t j = 0; j < n; ++j) {
          ci(row + j) = j;
          v(row + j) = h(i, j);
        }
      });
  Kokkos::DefaultHostExecutionSpace().fence();
  rm(0) = 0;
  return HostCsr("numlab::randsvd", n, n, nn, v, rm, ci);
}

}  // namespace numlab::linsolve
