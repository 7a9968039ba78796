// SPDX-License-Identifier: MIT
// Method `standard_bwd`: the backward of materialised attention on BLAS, the baseline of every
// backward. P is recomputed as the blas forward makes it (S = Q K^T scale, the same softmax), then
//   dV = P^T dO, dP = dO V^T, dS = P o (dP - rowsum(dP o P)), dQ = dS K scale, dK = dS^T Q scale,
// five KokkosBlas::gemm per (b, h) head and two row-parallel passes. P and dP/dS are
// [B,H,N,N_kv] Views: O(N^2) memory, as the forward.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/bwd_common.hpp"
#include "attention/detail/head_gemm.hpp"
#include "attention/detail/standard_rows_kernel.hpp"

#include "core/kokkos_ext/huge_pages.hpp"

#include <Kokkos_Core.hpp>

#include <string>

namespace numlab::attention {

// dQ, dK, dV (overwritten) of O = softmax(Q K^T scale [+ causal mask]) V for the upstream
// gradient dO. O is not read (rowsum(dP o P) replaces rowsum(dO o O)); it is checked so every
// backward takes the same arguments. Allocates P and dS itself and fences before freeing them.
template <class ExecSpace, class T, class Mem>
void standard_backward(ExecSpace const& space, AttentionShape const& shape,
                       detail::bwd::identity_t<Tensor4<const T, Mem>> Q,
                       detail::bwd::identity_t<Tensor4<const T, Mem>> K,
                       detail::bwd::identity_t<Tensor4<const T, Mem>> V,
                       detail::bwd::identity_t<Tensor4<const T, Mem>> O,
                       detail::bwd::identity_t<Tensor4<const T, Mem>> dO, Tensor4<T, Mem> dQ, Tensor4<T, Mem> dK,
                       Tensor4<T, Mem> dV) {
  static_assert(Kokkos::is_execution_space<ExecSpace>::value, "standard_backward: ExecSpace must be an execution space");
  static_assert(detail::bwd::is_real_v<T>, "standard_backward: T must be float or double");
  static_assert(Kokkos::SpaceAccessibility<ExecSpace, Mem>::accessible,
                "standard_backward: the views' memory space must be accessible from ExecSpace");
  constexpr char const* who = "numlab::attention::standard_backward";
  if (shape.B < 0 || shape.H < 0 || shape.N < 0 || shape.N_kv < 0 || shape.D <= 0)
    throw std::invalid_argument(std::string(who) + ": shape needs B, H, N, N_kv >= 0 and D > 0");
  detail::bwd::check_backward_views(who, shape, Q, K, V, O, dO, dQ, dK, dV);
  if (shape.N == 0 || shape.N_kv == 0) {  // no query sees a key: every gradient is 0
    Kokkos::deep_copy(space, dQ, T(0));
    Kokkos::deep_copy(space, dK, T(0));
    Kokkos::deep_copy(space, dV, T(0));
    return;
  }
  Kokkos::Profiling::pushRegion(who);
  auto alloc = [&](std::string const& label) {
    Tensor4<T, Mem> t(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, label), shape.B, shape.H, shape.N,
                      shape.N_kv);
    kx::advise_huge_pages(t);
    return t;
  };
  Tensor4<T, Mem> P = alloc("numlab::attention::standard_bwd::P"), dS = alloc("numlab::attention::standard_bwd::dS");
  T const scale = T(shape.scale());
  auto const rows = detail::rows_policy(space, shape);
  space.fence();  // inputs written on `space`; gemm runs on the default instance
  detail::head_gemm("N", "T", scale, Q, K, T(0), P);  // S = Q K^T scale, softmax in place
  Kokkos::fence();
  Kokkos::parallel_for("numlab::attention::standard_bwd::softmax", rows,
                       detail::SoftmaxRows<ExecSpace, T, Mem>{shape, P, Tensor3<T, Mem>()});
  space.fence();
  Tensor4<const T, Mem> const Pc = P;
  detail::head_gemm("T", "N", T(1), Pc, dO, T(0), dV);  // dV = P^T dO
  detail::head_gemm("N", "T", T(1), dO, V, T(0), dS);   // dP = dO V^T
  Kokkos::fence();
  Kokkos::parallel_for("numlab::attention::standard_bwd::dS", rows,
                       detail::SoftmaxBackwardRows<ExecSpace, T, Mem>{shape, P, dS});
  space.fence();
  Tensor4<const T, Mem> const dSc = dS;
  detail::head_gemm("N", "N", scale, dSc, K, T(0), dQ);  // dQ = dS K scale
  detail::head_gemm("T", "N", scale, dSc, Q, T(0), dK);  // dK = dS^T Q scale
  Kokkos::fence();  // before P and dS are freed
  Kokkos::Profiling::popRegion();
}

}  // namespace numlab::attention
