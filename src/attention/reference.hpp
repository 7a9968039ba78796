// SPDX-License-Identifier: MIT
// The fp64 reference attention on the host, which every method's error is measured against,
// and the error metrics (max-abs and relative Frobenius) of a result against it.
//
// Inputs in any T are converted to double. Per (b, h), one head at a time (memory
// O(N N_kv) doubles, twice):
//   S = Q K^T scale (+ mask), P = softmax(S), L = logsumexp(S), O = P V;
//   backward: dV = P^T dO, dP = dO V^T, D_i = rowsum(dO o O), dS = P o (dP - D_i),
//             dQ = dS K scale, dK = dS^T Q scale.
// The five products are KokkosBlas::gemm on LayoutRight host views, which Kokkos Kernels
// hands to the host BLAS (OpenBLAS): N = 4096 takes seconds, not minutes.
// Mask: AttentionShape::last_key (bottom-right aligned causal); a row that sees no key has
// P = 0, O = 0, L = -inf and zero gradients.
#pragma once

#include "attention/attention_types.hpp"

#include <KokkosBlas3_gemm.hpp>
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace numlab::attention {

struct ReferenceResult {
  Tensor4<double, Kokkos::HostSpace> O;           // [B,H,N,D]
  Tensor3<double, Kokkos::HostSpace> L;           // [B,H,N] log-sum-exp of the scaled scores; -inf: no key
  Tensor4<double, Kokkos::HostSpace> dQ, dK, dV;  // empty after a forward-only call
  bool has_gradients = false;
};

// Error of a result against the reference. Entries equal in both (infinities of L included)
// count as exact; a non-finite mismatch makes both norms +inf. rel_fro divides by
// ||ref||_F over the finite reference entries (by 1 where that is 0).
struct ErrorNorms {
  double max_abs = 0.0;  // max |x - ref|
  double rel_fro = 0.0;  // ||x - ref||_F / ||ref||_F
};

namespace detail::ref {

using HostMatrix = Kokkos::View<double**, Kokkos::LayoutRight, Kokkos::HostSpace>;

// Host copy of any Tensor4 / Tensor3, converted to double.
template <class Dst, class Src>
Dst to_host_double(Src const& x, char const* label) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  Dst out(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("numlab::attention::reference::") + label),
          x.layout());
  static_assert(std::is_same_v<typename Dst::array_layout, Kokkos::LayoutRight>);
  for (std::size_t n = 0; n < h.span(); ++n) out.data()[n] = static_cast<double>(h.data()[n]);
  return out;
}

// C = alpha op(A) op(B) + beta C on LayoutRight host matrices: the BLAS TPL of Kokkos Kernels
// (3.4 and 4.x) takes row-major operands as transposed column-major ones.
template <class AV, class BV, class CV>
void ref_gemm(char const* ta, char const* tb, double alpha, AV const& A, BV const& B, double beta, CV const& C) {
  static_assert(std::is_same_v<typename AV::array_layout, Kokkos::LayoutRight> &&
                    std::is_same_v<typename BV::array_layout, Kokkos::LayoutRight> &&
                    std::is_same_v<typename CV::array_layout, Kokkos::LayoutRight>,
                "reference: subviews must stay LayoutRight so the BLAS TPL is used");
  if (C.extent(0) == 0 || C.extent(1) == 0) return;
  KokkosBlas::gemm(ta, tb, alpha, A, B, beta, C);
}

template <class View>
auto head(View const& x, int b, int h) {
  return Kokkos::subview(x, b, h, Kokkos::ALL, Kokkos::ALL);
}

template <class XV, class RV>
ErrorNorms error_norms(XV const& x_host, RV const& ref) {
  ErrorNorms e;
  double diff2 = 0.0, ref2 = 0.0;
  bool nonfinite_mismatch = false;
  for (std::size_t n = 0; n < ref.span(); ++n) {
    const double r = ref.data()[n], v = static_cast<double>(x_host.data()[n]);
    if (std::isfinite(r)) ref2 += r * r;
    if (v == r) continue;
    const double d = std::abs(v - r);
    if (!std::isfinite(d)) {
      nonfinite_mismatch = true;
      continue;
    }
    e.max_abs = d > e.max_abs ? d : e.max_abs;
    diff2 += d * d;
  }
  if (nonfinite_mismatch) {
    e.max_abs = e.rel_fro = std::numeric_limits<double>::infinity();
    return e;
  }
  e.rel_fro = std::sqrt(diff2) / (ref2 > 0.0 ? std::sqrt(ref2) : 1.0);
  return e;
}

}  // namespace detail::ref

// The fp64 reference. dO empty (a default-constructed view): forward only (O, L).
template <class T, class Mem>
ReferenceResult reference_attention(AttentionShape const& s, Tensor4<const T, Mem> Q, Tensor4<const T, Mem> K,
                                    Tensor4<const T, Mem> V, Tensor4<const T, Mem> dO = {}) {
  constexpr char const* who = "numlab::attention::reference_attention";
  using H4 = Tensor4<double, Kokkos::HostSpace>;
  using H3 = Tensor3<double, Kokkos::HostSpace>;
  auto check = [&](char const* name, auto const& v, bool kv) {
    const int rows = kv ? s.N_kv : s.N;
    if (v.extent(0) != std::size_t(s.B) || v.extent(1) != std::size_t(s.H) || v.extent(2) != std::size_t(rows) ||
        v.extent(3) != std::size_t(s.D))
      throw std::invalid_argument(std::string(who) + ": " + name + " does not have extents [B,H," +
                                  (kv ? "N_kv" : "N") + ",D]");
  };
  if (s.B < 0 || s.H < 0 || s.N < 0 || s.N_kv < 0 || s.D <= 0)
    throw std::invalid_argument(std::string(who) + ": shape needs B, H, N, N_kv >= 0 and D > 0");
  check("Q", Q, false);
  check("K", K, true);
  check("V", V, true);
  const bool backward = dO.extent(3) != 0;  // a default view has all extents 0, D > 0
  if (backward) check("dO", dO, false);

  const H4 q = detail::ref::to_host_double<H4>(Q, "Q"), k = detail::ref::to_host_double<H4>(K, "K"),
           v = detail::ref::to_host_double<H4>(V, "V");
  H4 dout = backward ? detail::ref::to_host_double<H4>(dO, "dO") : H4();

  ReferenceResult res;
  res.has_gradients = backward;
  res.O = H4("numlab::attention::reference::O", s.B, s.H, s.N, s.D);
  res.L = H3(Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::attention::reference::L"), s.B, s.H, s.N);
  if (backward) {
    res.dQ = H4("numlab::attention::reference::dQ", s.B, s.H, s.N, s.D);
    res.dK = H4("numlab::attention::reference::dK", s.B, s.H, s.N_kv, s.D);
    res.dV = H4("numlab::attention::reference::dV", s.B, s.H, s.N_kv, s.D);
  }
  constexpr double neg_inf = -std::numeric_limits<double>::infinity();
  Kokkos::deep_copy(res.L, neg_inf);
  if (s.N == 0 || s.N_kv == 0) return res;  // no keys: P = 0 everywhere

  const double scale = s.scale();
  detail::ref::HostMatrix P("numlab::attention::reference::P", s.N, s.N_kv);  // S, then P
  detail::ref::HostMatrix dS(std::string(backward ? "numlab::attention::reference::dS" : ""), backward ? s.N : 0,
                             backward ? s.N_kv : 0);  // dP, then dS
  // The row-wise steps in parallel on the host; fenced because BLAS reads their results next.
  const Kokkos::DefaultHostExecutionSpace host;
  const Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace> rows(host, 0, s.N);
  for (int b = 0; b < s.B; ++b) {
    for (int h = 0; h < s.H; ++h) {
      auto Qh = detail::ref::head(q, b, h), Kh = detail::ref::head(k, b, h), Vh = detail::ref::head(v, b, h);
      auto Oh = detail::ref::head(res.O, b, h);
      detail::ref::ref_gemm("N", "T", scale, Qh, Kh, 0.0, P);  // S = Q K^T scale
      Kokkos::parallel_for("numlab::attention::reference::softmax", rows, [&](int i) {
        const int n = std::min(std::max(s.last_key(i) + 1, 0), s.N_kv);  // keys row i sees
        double* p = &P(i, 0);
        double mx = neg_inf, sum = 0.0;
        for (int j = 0; j < n; ++j) mx = std::max(mx, p[j]);
        for (int j = 0; j < n; ++j) sum += (p[j] = std::exp(p[j] - mx));
        for (int j = 0; j < n; ++j) p[j] /= sum;
        for (int j = n; j < s.N_kv; ++j) p[j] = 0.0;
        res.L(b, h, i) = n > 0 ? mx + std::log(sum) : neg_inf;
      });
      host.fence();
      detail::ref::ref_gemm("N", "N", 1.0, P, Vh, 0.0, Oh);  // O = P V
      if (!backward) continue;

      auto dOh = detail::ref::head(dout, b, h);
      detail::ref::ref_gemm("T", "N", 1.0, P, dOh, 0.0, detail::ref::head(res.dV, b, h));  // dV = P^T dO
      detail::ref::ref_gemm("N", "T", 1.0, dOh, Vh, 0.0, dS);                              // dP = dO V^T
      Kokkos::parallel_for("numlab::attention::reference::dS", rows, [&](int i) {
        double Di = 0.0;  // D_i = rowsum(dO o O)
        for (int d = 0; d < s.D; ++d) Di += dOh(i, d) * Oh(i, d);
        double* ds = &dS(i, 0);
        double const* p = &P(i, 0);
        for (int j = 0; j < s.N_kv; ++j) ds[j] = p[j] * (ds[j] - Di);
      });
      host.fence();
      detail::ref::ref_gemm("N", "N", scale, dS, Kh, 0.0, detail::ref::head(res.dQ, b, h));  // dQ = dS K scale
      detail::ref::ref_gemm("T", "N", scale, dS, Qh, 0.0, detail::ref::head(res.dK, b, h));  // dK = dS^T Q scale
    }
  }
  return res;
}

// Forward only: O and L.
template <class T, class Mem>
ReferenceResult reference_forward(AttentionShape const& s, Tensor4<const T, Mem> Q, Tensor4<const T, Mem> K,
                                  Tensor4<const T, Mem> V) {
  return reference_attention<T, Mem>(s, Q, K, V, Tensor4<const T, Mem>());
}

// Error metrics of a result (any T, any memory space) against the fp64 reference.
template <class T, class Mem>
ErrorNorms compare(Tensor4<const T, Mem> x, Tensor4<const double, Kokkos::HostSpace> ref) {
  for (int r = 0; r < 4; ++r)
    if (x.extent(r) != ref.extent(r))
      throw std::invalid_argument("numlab::attention::compare: result and reference extents differ");
  return detail::ref::error_norms(Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x), ref);
}

template <class T, class Mem>
ErrorNorms compare(Tensor3<const T, Mem> x, Tensor3<const double, Kokkos::HostSpace> ref) {
  for (int r = 0; r < 3; ++r)
    if (x.extent(r) != ref.extent(r))
      throw std::invalid_argument("numlab::attention::compare: result and reference extents differ");
  return detail::ref::error_norms(Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x), ref);
}

}  // namespace numlab::attention
