// SPDX-License-Identifier: MIT
// Method `standard`, kernel blas: the baseline as a library computes it. S = Q K^T * scale and
// O = P V through KokkosBlas::gemm per (b, h) head, P = softmax(S) row-parallel between, in place:
// S then P in one [B,H,N,N_kv] View, the O(N^2) memory that defines the method.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/fwd_tiles.hpp"
#include "attention/detail/head_gemm.hpp"
#include "attention/detail/standard_rows_kernel.hpp"
#include "attention/online_softmax.hpp"

#include "core/kokkos_ext/huge_pages.hpp"

#include <Kokkos_Core.hpp>

#include <string>

namespace numlab::attention {

// O = softmax(Q K^T * scale [+ causal mask]) V and L = log-sum-exp per row of the scaled scores
// (natural log; L may be an empty View). Q, O: [B,H,N,D]; K, V: [B,H,N_kv,D]; L: [B,H,N]. The
// causal mask is applied in the softmax (the GEMM computes the full S, as a library's attention
// does). Allocates the S/P buffer itself and fences before freeing it.
template <class ExecSpace, class T, class Mem>
void standard_forward_blas(ExecSpace const& space, AttentionShape const& shape, Tensor4<const T, Mem> Q,
                           Tensor4<const T, Mem> K, Tensor4<const T, Mem> V, Tensor4<T, Mem> O, Tensor3<T, Mem> L) {
  detail::static_check_forward<ExecSpace, T, Mem>();
  char const* who = "numlab::attention::standard_forward_blas";
  detail::check_forward_extents(who, shape, Q, K, V, O, L);
  if (shape.N == 0) return;
  Kokkos::Profiling::pushRegion(who);
  if (shape.N_kv == 0) {  // no keys: O = 0, L = -inf
    Kokkos::deep_copy(space, O, T(0));
    if (L.size() > 0) Kokkos::deep_copy(space, L, negative_infinity<T>());
  } else {
    auto alloc = [&](std::string const& label) {
      Tensor4<T, Mem> t(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, label), shape.B, shape.H, shape.N,
                        shape.N_kv);
      kx::advise_huge_pages(t);  // written once per call: 2 MiB faults, not 4 KiB ones
      return t;
    };
    // P overwrites S: one N^2 buffer, as a library's softmax(Q K^T) V holds (and NumPy's in place).
    Tensor4<T, Mem> const P = alloc("numlab::attention::standard_blas::P");
    space.fence();  // Q, K, V written on `space`; gemm runs on the default instance
    detail::head_gemm("N", "T", T(shape.scale()), Q, K, T(0), P);  // S = Q K^T scale
    Kokkos::fence();
    Kokkos::parallel_for("numlab::attention::standard_blas::softmax", detail::rows_policy(space, shape),
                         detail::SoftmaxRows<ExecSpace, T, Mem>{shape, P, L});
    space.fence();
    detail::head_gemm("N", "N", T(1), Tensor4<const T, Mem>(P), V, T(0), O);  // O = P V
    Kokkos::fence();  // before S/P is freed
  }
  Kokkos::Profiling::popRegion();
}

}  // namespace numlab::attention
