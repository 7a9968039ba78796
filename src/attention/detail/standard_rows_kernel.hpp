// SPDX-License-Identifier: MIT
// The row-wise steps of the BLAS standard attention, between its GEMMs: the softmax of S into P
// (forward, and the backward's recomputation) and dS = P o (dP - rowsum(dP o P)) (backward).
// One functor per step, parallel over the B H N rows of [B,H,N,N_kv] buffers: a team owns a few
// rows (TeamThreadRange), vector lanes split a row's columns. On a host backend a row's loops are
// plain loops written so gcc vectorises them without -ffast-math: the max over order-preserving
// integer keys, sums in kLanes independent accumulators (no reassociation needed), exp2 from
// fast_exp2.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/fwd_backend.hpp"
#include "attention/detail/fwd_exp2.hpp"
#include "attention/detail/fwd_tiles.hpp"
#include "attention/online_softmax.hpp"
#include "core/kokkos_ext/compat.hpp"

#include <Kokkos_Core.hpp>

namespace numlab::attention::detail {

// Independent partial sums of a host row reduction: one AVX-512 vector of floats (two of doubles).
inline constexpr int kRowLanes = 16;

// Rows of a team on a GPU: one warp's worth of vector lanes per row, several rows per team.
inline constexpr int kRowsPerTeam = 8;

// Sum of f(j) over j < n, on the member's vector lanes.
template <class Member, class T, class F>
KOKKOS_INLINE_FUNCTION T row_sum_of(Member const& member, int n, F&& f) {
  T sum = 0;
  if constexpr (is_host_member_v<Member>) {
    T acc[kRowLanes] = {};
    int j = 0;
    for (; j + kRowLanes <= n; j += kRowLanes)
      for (int r = 0; r < kRowLanes; ++r) acc[r] += f(j + r);
    for (; j < n; ++j) acc[0] += f(j);
    for (int r = 0; r < kRowLanes; ++r) sum += acc[r];
  } else {
    Kokkos::parallel_reduce(Kokkos::ThreadVectorRange(member, n), [&](int j, T& a) { a += f(j); }, sum);
  }
  return sum;
}

// Max of s[j], j < n (-inf for n = 0), on the member's vector lanes.
template <class Member, class T>
KOKKOS_INLINE_FUNCTION T row_max_of(Member const& member, T const* s, int n) {
  T m = negative_infinity<T>();
  if constexpr (is_host_member_v<Member>) {
    using I = decltype(ordered_key(T(0)));
    I acc = ordered_key(m);
    for (int j = 0; j < n; ++j) {
      I const k = ordered_key(s[j]);
      acc = acc > k ? acc : k;
    }
    m = from_ordered_key<T>(acc);
  } else if (n > 0) {
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(member, n), [&](int j, T& mx) { mx = s[j] > mx ? s[j] : mx; }, Kokkos::Max<T>(m));
  }
  return m;
}

// The (b, h, i) of a flat row index over [B,H,N].
struct RowIndex {
  int b, h, i;
};
KOKKOS_INLINE_FUNCTION RowIndex row_index(int row, AttentionShape const& s) {
  int const bh = row / s.N;
  return {bh / s.H, bh % s.H, row % s.N};
}

// P = softmax(S) row by row over each row's visible keys (0 past them), in place: SP holds the
// scaled scores S on entry and P on exit (one pointer, so the host loops vectorise without an
// aliasing check). L_i = max + ln(sum) (-inf for a row that sees no key); L may be empty.
template <class ExecSpace, class T, class Mem>
struct SoftmaxRows {
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  AttentionShape shape;
  Tensor4<T, Mem> SP;  // [B,H,N,N_kv]
  Tensor3<T, Mem> L;   // [B,H,N] or empty

  KOKKOS_FUNCTION void operator()(member_type const& member) const {
    int const rows = shape.B * shape.H * shape.N;
    int const r0 = member.league_rank() * kRowsPerTeam;
    int const nr = imin(kRowsPerTeam, rows - r0);
    bool const store_L = L.size() > 0;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(member, nr), [&](int rr) {
      RowIndex const x = row_index(r0 + rr, shape);
      int const n = imax(0, imin(shape.N_kv, shape.last_key(x.i) + 1));
      T* p = &SP(x.b, x.h, x.i, 0);
      T const m_safe = safe_max(row_max_of(member, p, n));  // a row without keys has no terms
      T const c = log2e_v<T>;
      // The difference first: the row's largest term is exactly exp2(0) = 1 (online_softmax.hpp).
      // The clamp of softmax_exponent as a bit select (a float ?: stays a branch under
      // -ftrapping-math); exponentiation in its own pass: it vectorises, a fused sum does not.
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, n), [&](int j) {
        T const e = (p[j] - m_safe) * c;
        p[j] = fast_exp2(bit_select(e > T(0), T(0), e));
      });
      T const sum = row_sum_of<member_type, T>(member, n, [&](int j) { return p[j]; });
      T const inv = sum > T(0) ? T(1) / sum : T(0);
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, n), [&](int j) { p[j] *= inv; });
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, n, shape.N_kv), [&](int j) { p[j] = T(0); });
      if (store_L)
        Kokkos::single(Kokkos::PerThread(member),
                       [&]() { L(x.b, x.h, x.i) = sum > T(0) ? m_safe + kx::log(sum) : negative_infinity<T>(); });
    });
  }
};

// dS = P o (dP - rowsum(dP o P)) in place over dP, row by row (the softmax's backward).
template <class ExecSpace, class T, class Mem>
struct SoftmaxBackwardRows {
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  AttentionShape shape;
  Tensor4<T, Mem> P, dS;  // [B,H,N,N_kv]; dS holds dP on entry

  KOKKOS_FUNCTION void operator()(member_type const& member) const {
    int const rows = shape.B * shape.H * shape.N;
    int const r0 = member.league_rank() * kRowsPerTeam;
    int const nr = imin(kRowsPerTeam, rows - r0);
    int const n = shape.N_kv;  // P = 0 past a row's visible keys, so dS = 0 there
    Kokkos::parallel_for(Kokkos::TeamThreadRange(member, nr), [&](int rr) {
      RowIndex const x = row_index(r0 + rr, shape);
      T const* p = &P(x.b, x.h, x.i, 0);
      T* ds = &dS(x.b, x.h, x.i, 0);
      T const dot = row_sum_of<member_type, T>(member, n, [&](int j) { return ds[j] * p[j]; });
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, n), [&](int j) { ds[j] = p[j] * (ds[j] - dot); });
    });
  }
};

// The policy of the row functors: kRowsPerTeam rows a team; on a host one thread per team.
template <class ExecSpace>
Kokkos::TeamPolicy<ExecSpace> rows_policy(ExecSpace const& space, AttentionShape const& s) {
  int const rows = s.B * s.H * s.N;
  int const league = (rows + kRowsPerTeam - 1) / kRowsPerTeam;
  if constexpr (is_host_exec_v<ExecSpace>)
    return Kokkos::TeamPolicy<ExecSpace>(space, league, 1);
  else
    return Kokkos::TeamPolicy<ExecSpace>(space, league, kRowsPerTeam, 32);
}

}  // namespace numlab::attention::detail
