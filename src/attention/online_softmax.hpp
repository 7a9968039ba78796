// SPDX-License-Identifier: MIT
// The online softmax of FlashAttention-2, written once: the running state of a block of R query
// rows and the row operations on a tile of their scores, for any team member (vector lanes split
// the columns). R = 1 is the plain one-row version.
//
// Score tiles are "panels": R rows interleaved, element (row r, column j) at s[j * R + r]. The
// forward kernels keep S/P in that layout because it is the A operand layout of their
// register-blocked P V product, and because every row operation below then works on R rows at
// once (one SIMD vector on the host: the max/sum reductions vectorise across rows, which needs
// no reassociation).
#pragma once

#include "attention/detail/fwd_backend.hpp"
#include "attention/detail/fwd_exp2.hpp"
#include "core/kokkos_ext/compat.hpp"

#include <Kokkos_Core.hpp>

namespace numlab::attention {

template <class T>
KOKKOS_INLINE_FUNCTION constexpr T negative_infinity() {
  return -Kokkos::Experimental::infinity<T>::value;
}

// softmax scale * log2(e): scores s enter raw (s = q . k) and every probability is one
// exp2(s * scale_log2 - m), the FlashAttention-2 folding.
template <class T>
constexpr T softmax_scale_log2(double scale) {
  return T(scale * detail::log2e_v<double>);
}

namespace detail {

// R per-row values reduced together (one reduction for a whole panel).
template <class T, int R>
struct RowBlock {
  T v[R];
};

// Kokkos reducer over RowBlock: elementwise max (identity -inf, so a row with no visible entry
// stays -inf) or sum (identity 0).
template <class T, int R, bool IsMax>
struct RowBlockReducer {
  using reducer = RowBlockReducer;
  using value_type = RowBlock<T, R>;
  using result_view_type = Kokkos::View<value_type, Kokkos::HostSpace, Kokkos::MemoryUnmanaged>;

  value_type* result;

  KOKKOS_INLINE_FUNCTION explicit RowBlockReducer(value_type& r) : result(&r) {}
  KOKKOS_INLINE_FUNCTION static T combine(T a, T b) {
    if constexpr (IsMax)
      return a > b ? a : b;
    else
      return a + b;
  }
  KOKKOS_INLINE_FUNCTION void join(value_type& dest, value_type const& src) const {
    for (int r = 0; r < R; ++r) dest.v[r] = combine(dest.v[r], src.v[r]);
  }
#if !NUMLAB_KOKKOS4
  // Kokkos 3.x reduces through volatile references on CUDA (deprecated in 4.x).
  KOKKOS_INLINE_FUNCTION void join(value_type volatile& dest, value_type const volatile& src) const {
    for (int r = 0; r < R; ++r) dest.v[r] = combine(dest.v[r], src.v[r]);
  }
#endif
  KOKKOS_INLINE_FUNCTION void init(value_type& val) const {
    for (int r = 0; r < R; ++r) val.v[r] = IsMax ? negative_infinity<T>() : T(0);
  }
  KOKKOS_INLINE_FUNCTION value_type& reference() const { return *result; }
  KOKKOS_INLINE_FUNCTION result_view_type view() const { return result_view_type(result); }
  KOKKOS_INLINE_FUNCTION bool references_scalar() const { return true; }
};

// Reduction of body(j, acc) over j < n across the vector lanes of the calling thread. A host
// member runs one lane: a plain loop on local scalars, which gcc keeps in registers and
// vectorises across the R rows (through Kokkos' reducer reference, or a RowBlock struct, the
// accumulator stays in memory and the loop scalar).
template <class Reducer, class Member, class Body>
KOKKOS_INLINE_FUNCTION typename Reducer::value_type vector_reduce(Member const& member, int n, Body const& body) {
  using Block = typename Reducer::value_type;
  Block result;
  if constexpr (is_host_member_v<Member>) {
    constexpr int R = int(sizeof(Block::v) / sizeof(Block::v[0]));
    Reducer(result).init(result);
    decltype(+result.v[0]) acc[R];
    for (int r = 0; r < R; ++r) acc[r] = result.v[r];
    for (int j = 0; j < n; ++j) body(j, acc);
    for (int r = 0; r < R; ++r) result.v[r] = acc[r];
  } else {
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(member, n), [&](int j, Block& b) { body(j, b.v); }, Reducer(result));
  }
  return result;
}

}  // namespace detail

// Max of each row of the panel s (n columns).
template <int R, class Member, class T>
KOKKOS_INLINE_FUNCTION detail::RowBlock<T, R> row_max(Member const& member, T const* s, int n) {
  if constexpr (detail::is_host_member_v<Member>) {
    // Host lane: max over order-preserving integer keys, which gcc vectorises across the R rows
    // (a float max reduction stays scalar without -ffast-math).
    using I = decltype(detail::ordered_key(T(0)));
    I acc[R];
    for (int r = 0; r < R; ++r) acc[r] = detail::ordered_key(negative_infinity<T>());
    for (int j = 0; j < n; ++j)
      for (int r = 0; r < R; ++r) {
        I const k = detail::ordered_key(s[j * R + r]);
        acc[r] = acc[r] > k ? acc[r] : k;
      }
    detail::RowBlock<T, R> mx;
    for (int r = 0; r < R; ++r) mx.v[r] = detail::from_ordered_key<T>(acc[r]);
    return mx;
  } else {
    return detail::vector_reduce<detail::RowBlockReducer<T, R, true>>(member, n, [&](int j, T(&m)[R]) {
      for (int r = 0; r < R; ++r) m[r] = s[j * R + r] > m[r] ? s[j * R + r] : m[r];
    });
  }
}

// Max of each row of the panel s (n columns) over its visible prefix j < n_valid[r]; -inf for
// a row with n_valid[r] == 0. (Scalar on the host: gcc 12 does not vectorise the int-compare
// mask; only tiles cut by the causal diagonal or the end of the sequence take this path.)
template <int R, class Member, class T>
KOKKOS_INLINE_FUNCTION detail::RowBlock<T, R> row_max(Member const& member, T const* s, int n,
                                                      int const (&n_valid)[R]) {
  return detail::vector_reduce<detail::RowBlockReducer<T, R, true>>(member, n, [&](int j, T(&m)[R]) {
    for (int r = 0; r < R; ++r) {
      T const v = j < n_valid[r] ? s[j * R + r] : negative_infinity<T>();
      m[r] = v > m[r] ? v : m[r];
    }
  });
}

// Sum of each row of the panel p (n columns).
template <int R, class Member, class T>
KOKKOS_INLINE_FUNCTION detail::RowBlock<T, R> row_sum(Member const& member, T const* p, int n) {
  return detail::vector_reduce<detail::RowBlockReducer<T, R, false>>(member, n, [&](int j, T(&acc)[R]) {
    for (int r = 0; r < R; ++r) acc[r] += p[j * R + r];
  });
}

// True when every row of the block sees all n columns (n_valid[r] >= n): the tile is neither
// cut by the causal diagonal nor the clipped end of the sequence, and the unmasked loops apply.
template <int R>
KOKKOS_INLINE_FUNCTION bool all_visible(int n, int const (&n_valid)[R]) {
  bool all = true;
  for (int r = 0; r < R; ++r) all = all && n_valid[r] >= n;
  return all;
}

// Max of the visible scores of each row, masked or not as the tile needs.
template <int R, class Member, class T>
KOKKOS_INLINE_FUNCTION detail::RowBlock<T, R> visible_row_max(Member const& member, T const* s, int n,
                                                              int const (&n_valid)[R]) {
  return all_visible(n, n_valid) ? row_max<R>(member, s, n) : row_max<R>(member, s, n, n_valid);
}

// The softmax's "max" for exp2: -inf (a row that sees no key) is clamped to 0, since -inf - -inf
// would be NaN; exp2(-inf - 0) = 0 then gives P = 0 for such a row.
template <class T>
KOKKOS_INLINE_FUNCTION T safe_max(T m) {
  return m == negative_infinity<T>() ? T(0) : m;
}

// s := exp2((s - m_safe[r]) * scale_log2) on the visible prefix of each row, 0 past it; m_safe is
// the row's maximum raw score. The difference comes first: the row's largest term is exactly
// exp2(0) = 1, where s * scale_log2 - m (an FMA) would leave the product's rounding error, up to
// half an ulp of m: at logits of 1e9 enough to underflow every term of a row (l = 0, L = -inf).
// Exponentiation has its own pass: it vectorises on the host, a fused row sum would not.
template <int R, class Member, class T>
KOKKOS_INLINE_FUNCTION void exp2_rows(Member const& member, T* s, int n, int const (&n_valid)[R], T scale_log2,
                                      T const (&m_safe)[R]) {
  if (all_visible(n, n_valid)) {
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, n), [&](int j) {
      for (int r = 0; r < R; ++r) s[j * R + r] = detail::fast_exp2(softmax_exponent((s[j * R + r] - m_safe[r]) * scale_log2));
    });
  } else {
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, n), [&](int j) {
      for (int r = 0; r < R; ++r) {
        T const p = detail::fast_exp2(softmax_exponent((s[j * R + r] - m_safe[r]) * scale_log2));
        s[j * R + r] = j < n_valid[r] ? p : T(0);
      }
    });
  }
}

// Running softmax state of R query rows. The statistics are kept in T (fp32 for float inputs,
// as FlashAttention does: m_i is exact, and l_i >= 1 sums positive terms <= 1, so its relative
// error grows like eps * sqrt(#keys) on average, the order of the P V accumulation itself).
//   m_i: running max of the raw scores s = q . k, -inf before any key;
//   l_i: running sum of exp2((s - m_i) * scale_log2).
// With O~ the unnormalised accumulator of a row, O = O~ / l_i and L = ln(sum_j e^(scale s_j)) =
// m_i scale_log2 ln 2 + ln l_i at the end.
template <class T, int R = 1>
struct OnlineSoftmax {
  T m_i[R];
  T l_i[R];

  KOKKOS_INLINE_FUNCTION OnlineSoftmax() {
    for (int r = 0; r < R; ++r) {
      m_i[r] = negative_infinity<T>();
      l_i[r] = T(0);
    }
  }
  // State saved between tiles (e.g. in team scratch).
  KOKKOS_INLINE_FUNCTION OnlineSoftmax(T const* m, T const* l) {
    for (int r = 0; r < R; ++r) {
      m_i[r] = m[r];
      l_i[r] = l[r];
    }
  }
  KOKKOS_INLINE_FUNCTION void store(T* m, T* l) const {
    for (int r = 0; r < R; ++r) {
      m[r] = m_i[r];
      l[r] = l_i[r];
    }
  }

  // Folds one tile of raw scores into the state. On entry s (panel, n columns) holds the scores
  // q . k; row r sees its prefix j < n_valid[r] (masking is always a prefix: the clipped last
  // tile and the causal diagonal cut keys off the end). On exit s holds the unnormalised
  // probabilities exp2((s - m_new) * scale_log2), zero where masked, and alpha[r] = exp2((m_old -
  // m_new) * scale_log2) is the factor the caller applies to its accumulator row before adding P V (0 on a
  // row's first visible tile, 1 when the tile shows the row nothing).
  template <class Member>
  KOKKOS_INLINE_FUNCTION void rescale(Member const& member, T* s, int n, int const (&n_valid)[R], T scale_log2,
                                      T (&alpha)[R]) {
    detail::RowBlock<T, R> const tile_max = visible_row_max(member, s, n, n_valid);
    T m_new[R], m_safe[R];
    for (int r = 0; r < R; ++r) {
      T const tm = tile_max.v[r];
      m_new[r] = m_i[r] > tm ? m_i[r] : tm;
      m_safe[r] = safe_max(m_new[r]);  // a row that has seen no key: P = 0, alpha = 0, l_i = 0
      alpha[r] = detail::fast_exp2((m_i[r] - m_safe[r]) * scale_log2);
    }
    exp2_rows(member, s, n, n_valid, scale_log2, m_safe);
    detail::RowBlock<T, R> const tile_sum = row_sum<R>(member, s, n);
    for (int r = 0; r < R; ++r) {
      l_i[r] = alpha[r] * l_i[r] + tile_sum.v[r];
      m_i[r] = m_new[r];
    }
  }

  // 1 / l_i, the one division of a row at the end; 0 for a row that saw no key (O = 0).
  KOKKOS_INLINE_FUNCTION T inv_l(int r) const { return l_i[r] > T(0) ? T(1) / l_i[r] : T(0); }

  // Log-sum-exp of the row's scaled scores (natural log); -inf for a row that saw no key.
  KOKKOS_INLINE_FUNCTION T finalize(int r, T scale_log2) const {
    return l_i[r] > T(0) ? m_i[r] * (scale_log2 * detail::ln2_v<T>) + numlab::kx::log(l_i[r]) : negative_infinity<T>();
  }
};

}  // namespace numlab::attention
