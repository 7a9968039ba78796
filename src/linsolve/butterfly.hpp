// SPDX-License-Identifier: MIT
// Random butterfly transformation (RBT; Parker 1995, Baboulin, Dongarra, Herrmann & Tomov 2013,
// MAGMA's dgesv_rbt): A x = b becomes (U^T A V) y = U^T b, x = V y, with U and V random recursive
// butterflies of depth d. With probability close to one the transformed matrix can be factored
// without pivoting (detail/lu_nopivot.hpp), whose factorisation is all BLAS-3. Applying U^T . V to
// an n x n matrix costs 2d passes over it, to a vector 2d n flops.
//
// A butterfly of order len on the segment [lo, lo + len), h = floor(len / 2):
//   B = 1/sqrt(2) [R0  R1; R0  -R1]
// with R0, R1 diagonal (entries D(lo .. lo+h) and D(lo+h .. lo+2h)), pairing row lo + i with
// lo + h + i; an odd segment's last index is scaled by its D alone. Level l of a recursive
// butterfly is the block diagonal of the butterflies of its 2^l segments (level 0: [0, n); each
// segment's halves [lo, lo + h) and [lo + h, lo + len) are the next level's). U = L_{d-1} ... L_0,
// each level with its own random diagonal D_l, entries exp(r / 10), r uniform in [-1/2, 1/2]
// (Parker's choice: the transformation is well conditioned, cond(B) <= e^(1/10)).
#pragma once

#include "core/kokkos_ext/compat.hpp"

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace numlab::linsolve {

// One recursive butterfly of order n and depth d: per level its pairs and the odd segments' single
// indices, and its diagonal.
template <class ExecSpace>
struct Butterfly {
  using MS = typename ExecSpace::memory_space;
  int n = 0;
  int depth = 0;
  std::vector<Kokkos::View<int* [2], MS>> pairs;  // level l: (p, q) pairs
  std::vector<Kokkos::View<int*, MS>> singles;    // level l: indices scaled alone
  std::vector<Kokkos::View<double*, MS>> diag;    // level l: D_l, n entries
};

// The largest depth whose every segment keeps at least two indices: floor(log2 n) (0 for n < 2).
inline int butterfly_max_depth(int n) {
  int d = 0;
  while ((n >> (d + 1)) >= 1) ++d;  // n >= 2^(d+1), without overflow
  return d;
}

// Segments of level l of [0, n): (lo, len) pairs, left to right.
inline std::vector<std::pair<int, int>> butterfly_segments(int n, int level) {
  std::vector<std::pair<int, int>> seg{{0, n}};
  for (int l = 0; l < level; ++l) {
    std::vector<std::pair<int, int>> next;
    for (auto [lo, len] : seg) {
      const int h = len / 2;
      next.push_back({lo, h});
      next.push_back({lo + h, len - h});
    }
    seg = std::move(next);
  }
  return seg;
}

// A recursive butterfly of order n and depth d drawn from `seed`.
template <class ExecSpace>
Butterfly<ExecSpace> make_butterfly(ExecSpace const& space, int n, int depth, std::uint64_t seed) {
  if (n < 0 || depth < 0 || depth > butterfly_max_depth(n))
    throw std::invalid_argument("numlab::linsolve::make_butterfly: depth must lie in [0, floor(log2 n)] (n = " +
                                std::to_string(n) + ", depth " + std::to_string(depth) + ")");
  using MS = typename ExecSpace::memory_space;
  Butterfly<ExecSpace> b;
  b.n = n;
  b.depth = depth;
  std::mt19937_64 rng(seed);  // its raw output is the same everywhere (distributions are not)
  auto u = [&rng] { return double(rng() >> 11) * 0x1.0p-53 - 0.5; };
  for (int l = 0; l < depth; ++l) {
    const auto segments = butterfly_segments(n, l);
    std::size_t np = 0, ns = 0;
    for (auto [lo, len] : segments) np += len / 2, ns += len % 2;
    Kokkos::View<int* [2], MS> pv("numlab::rbt::pairs", np);
    Kokkos::View<int*, MS> sv("numlab::rbt::singles", ns);
    Kokkos::View<double*, MS> dv("numlab::rbt::diag", n);
    auto hp = Kokkos::create_mirror_view(pv);
    auto hs = Kokkos::create_mirror_view(sv);
    auto hd = Kokkos::create_mirror_view(dv);
    np = ns = 0;
    for (auto [lo, len] : segments) {
      const int h = len / 2;
      for (int i = 0; i < h; ++i, ++np) hp(np, 0) = lo + i, hp(np, 1) = lo + h + i;
      if (len % 2) hs(ns++) = lo + 2 * h;
    }
    for (int i = 0; i < n; ++i) hd(i) = std::exp(u() / 10);
    Kokkos::deep_copy(space, pv, hp);
    Kokkos::deep_copy(space, sv, hs);
    Kokkos::deep_copy(space, dv, hd);
    space.fence();  // the host mirrors go out of scope
    b.pairs.push_back(pv);
    b.singles.push_back(sv);
    b.diag.push_back(dv);
  }
  return b;
}

namespace detail {

// Transposed form on a pair, (x_p, x_q) <- (D_p (x_p + x_q), D_q (x_p - x_q)) / sqrt(2): B^T on a
// vector, and B from the right on a row (A B)(i, :).
template <class T>
KOKKOS_INLINE_FUNCTION void butterfly_t_pair(T& xp, T& xq, double dp, double dq) {
  constexpr double s = 0.70710678118654752440;
  const double a = xp, b = xq;
  xp = T(dp * s * (a + b));
  xq = T(dq * s * (a - b));
}

// Level l applied along dimension `dim` of the rank-2 view A (0: to every column, rows mixed,
// B^T A; 1: to every row, columns mixed, A B), transposed form.
template <class ExecSpace, class AV>
void butterfly_level_matrix(ExecSpace const& space, Butterfly<ExecSpace> const& bf, int l, AV const& A, int dim) {
  auto pr = bf.pairs[l];
  auto sg = bf.singles[l];
  auto D = bf.diag[l];
  using T = typename AV::non_const_value_type;
  using policy_t = Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2, Kokkos::Iterate::Left, Kokkos::Iterate::Left>>;
  const std::int64_t other = static_cast<std::int64_t>(A.extent(1 - dim));
  const std::int64_t np = static_cast<std::int64_t>(pr.extent(0)), ns = static_cast<std::int64_t>(sg.extent(0));
  if (other == 0) return;
  if (dim == 0) {
    if (np > 0)
      Kokkos::parallel_for("numlab::rbt::rows", policy_t(space, {0, 0}, {np, other}),
                           KOKKOS_LAMBDA(const std::int64_t k, const std::int64_t j) {
                             const int p = pr(k, 0), q = pr(k, 1);
                             butterfly_t_pair<T>(A(p, j), A(q, j), D(p), D(q));
                           });
    if (ns > 0)
      Kokkos::parallel_for("numlab::rbt::rows_single", policy_t(space, {0, 0}, {ns, other}),
                           KOKKOS_LAMBDA(const std::int64_t k, const std::int64_t j) {
                             const int u = sg(k);
                             A(u, j) = T(D(u) * A(u, j));
                           });
  } else {
    if (np > 0)
      Kokkos::parallel_for("numlab::rbt::cols", policy_t(space, {0, 0}, {other, np}),
                           KOKKOS_LAMBDA(const std::int64_t i, const std::int64_t k) {
                             const int p = pr(k, 0), q = pr(k, 1);
                             butterfly_t_pair<T>(A(i, p), A(i, q), D(p), D(q));
                           });
    if (ns > 0)
      Kokkos::parallel_for("numlab::rbt::cols_single", policy_t(space, {0, 0}, {other, ns}),
                           KOKKOS_LAMBDA(const std::int64_t i, const std::int64_t k) {
                             const int u = sg(k);
                             A(i, u) = T(D(u) * A(i, u));
                           });
  }
}

}  // namespace detail

// A := U^T A V (U, V of order n = A's; each level one pass over A for U, one for V).
template <class ExecSpace, class AV>
void butterfly_transform_matrix(ExecSpace const& space, Butterfly<ExecSpace> const& U, Butterfly<ExecSpace> const& V,
                                AV const& A) {
  if (A.extent(0) != std::size_t(U.n) || A.extent(1) != std::size_t(V.n))
    throw std::invalid_argument("numlab::linsolve::butterfly_transform_matrix: A must be U.n x V.n");
  // U^T = L_0^T ... L_{d-1}^T: the deepest level first; A V = A L_{d-1} ... L_0: likewise.
  for (int l = U.depth - 1; l >= 0; --l) detail::butterfly_level_matrix(space, U, l, A, 0);
  for (int l = V.depth - 1; l >= 0; --l) detail::butterfly_level_matrix(space, V, l, A, 1);
}

namespace detail {

// Level l of bf on the vector v: the transposed form (B^T v) or the plain one (B v:
// (x_p, x_q) <- (D_p x_p + D_q x_q, D_p x_p - D_q x_q) / sqrt(2)); singles are scaled by D alone.
template <class ExecSpace, class XV>
void butterfly_level_vector(ExecSpace const& space, Butterfly<ExecSpace> const& bf, int l, XV const& v, bool transposed) {
  using T = typename XV::non_const_value_type;
  auto pr = bf.pairs[l];
  auto sg = bf.singles[l];
  auto D = bf.diag[l];
  Kokkos::parallel_for(
      "numlab::rbt::vec", Kokkos::RangePolicy<ExecSpace>(space, 0, static_cast<int>(pr.extent(0))),
      KOKKOS_LAMBDA(const int k) {
        const int p = pr(k, 0), q = pr(k, 1);
        if (transposed) {
          butterfly_t_pair<T>(v(p), v(q), D(p), D(q));
        } else {
          constexpr double s = 0.70710678118654752440;
          const double a = D(p) * v(p), b = D(q) * v(q);
          v(p) = T(s * (a + b));
          v(q) = T(s * (a - b));
        }
      });
  Kokkos::parallel_for(
      "numlab::rbt::vec_single", Kokkos::RangePolicy<ExecSpace>(space, 0, static_cast<int>(sg.extent(0))),
      KOKKOS_LAMBDA(const int k) { v(sg(k)) = T(D(sg(k)) * v(sg(k))); });
}

}  // namespace detail

// v := U^T v (L_{d-1}^T first).
template <class ExecSpace, class XV>
void butterfly_apply_transpose(ExecSpace const& space, Butterfly<ExecSpace> const& U, XV const& v) {
  for (int l = U.depth - 1; l >= 0; --l) detail::butterfly_level_vector(space, U, l, v, true);
}

// v := V v (L_0 first).
template <class ExecSpace, class XV>
void butterfly_apply(ExecSpace const& space, Butterfly<ExecSpace> const& V, XV const& v) {
  for (int l = 0; l < V.depth; ++l) detail::butterfly_level_vector(space, V, l, v, false);
}

}  // namespace numlab::linsolve
