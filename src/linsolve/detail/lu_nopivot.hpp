// SPDX-License-Identifier: MIT
// LU without pivoting (A = LU, L unit lower, U upper, in place), for matrices that a random
// butterfly transformation has prepared (linsolve/butterfly.hpp; Baboulin, Dongarra, Herrmann &
// Tomov 2013): with no interchanges there is no pivot search across the column, so the tall panel
// of partial pivoting, a chain of column steps over every row that no GEMM can take (its ~90 ms
// at n = 16384 on an H200), becomes a triangular solve L21 = A21 U11^-1, a BLAS-3 call.
// Right-looking blocked: per block of nb columns the diagonal block is factored by recursion (leaves
// of at most lu_nopivot_leaf columns in one team's scratch), then L21 and U12 by trsm and the
// trailing update by gemm: all but the leaves are cuBLAS / BLAS calls.
// Without pivoting nothing bounds the growth of the entries: unstable for general matrices. Its
// caller (the mixed-precision solver) refines in fp64 and judges the factors by the backward error.
#pragma once

#include "linsolve/detail/dense_lu_impl.hpp"
#include "linsolve/detail/low_precision.hpp"

#include <KokkosBlas3_gemm.hpp>
#include <KokkosBlas3_trsm.hpp>
#include <Kokkos_Core.hpp>

#include <algorithm>

namespace numlab::linsolve::detail {

// Widest diagonal block one team factors in scratch (64 x 64 fp64: 32 KiB).
inline constexpr int lu_nopivot_leaf = 64;

// One team factors the m x m block D (m <= lu_nopivot_leaf) without pivoting, in scratch
// (column-major S[j*m + i]): per column the multipliers, a barrier, the rank-1 update of the rest,
// a barrier. A zero pivot gives zero multipliers here; the triangular solves of the blocks beyond
// divide by it (inf/NaN there): the factors are then meaningless, and the singularity test of
// lu_factor_unpivoted reports the first zero pivot.
template <class ExecSpace, class AV>
struct LeafNoPivot {
  using T = typename AV::non_const_value_type;
  using member_t = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  using scratch_t = Kokkos::View<T*, typename ExecSpace::scratch_memory_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  AV D;
  int m;

  static std::size_t scratch_bytes(int m) { return scratch_t::shmem_size(std::size_t(m) * m); }

  KOKKOS_INLINE_FUNCTION void operator()(member_t const& t) const {
    scratch_t S(t.team_scratch(0), std::size_t(m) * m);
    const int mm = m * m;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, mm), [&](const int e) { S(e) = D(e % m, e / m); });
    t.team_barrier();
    for (int c = 0; c < m - 1; ++c) {
      const T d = S(c * m + c);
      const T inv = d != T(0) ? T(1) / d : T(0);
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, c + 1, m), [&](const int i) { S(c * m + i) *= inv; });
      t.team_barrier();
      const int r = m - 1 - c;  // the trailing r x r block
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, r * r), [&](const int e) {
        const int i = c + 1 + e % r, j = c + 1 + e / r;
        S(j * m + i) -= S(c * m + i) * S(j * m + c);
      });
      t.team_barrier();
    }
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, mm), [&](const int e) { D(e % m, e / m) = S(e); });
  }
};

template <class ExecSpace, class AV>
void factor_leaf_nopivot(ExecSpace const& space, AV const& D) {
  const int m = static_cast<int>(D.extent(0));
  if (m == 0) return;
  constexpr bool host = is_host_space_v<ExecSpace>;
  const int team = host ? 1 : std::min(256, std::max(32, (m * m + 31) / 32 * 32 / 4));
  LeafNoPivot<ExecSpace, AV> f{D, m};
  Kokkos::parallel_for("numlab::lu::leaf_nopivot",
                       Kokkos::TeamPolicy<ExecSpace>(space, 1, team).set_scratch_size(0, Kokkos::PerTeam(f.scratch_bytes(m))),
                       f);
}

// With the diagonal block [k0, k1)^2 of the square [k0, k2)^2 of A factored (L11 U11, stored as
// L\U): U12 = L11^-1 A12 and L21 = A21 U11^-1 by trsm, then A22 -= L21 U12 by gemm, each block
// rounded to `storage` once written (the update uses the stored factors).
template <class ExecSpace, class AV>
void eliminate_below_block(ExecSpace const& space, AV const& A, int k0, int k1, int k2, FactorPrecision storage) {
  auto A11 = Kokkos::subview(A, range_t(k0, k1), range_t(k0, k1));
  auto A12 = Kokkos::subview(A, range_t(k0, k1), range_t(k1, k2));
  auto A21 = Kokkos::subview(A, range_t(k1, k2), range_t(k0, k1));
  auto A22 = Kokkos::subview(A, range_t(k1, k2), range_t(k1, k2));
  trsm_left(space, "L", "U", A11, A12);
  trsm_right(space, "U", "N", A11, A21);
  round_block(space, A12, storage);
  round_block(space, A21, storage);
  gemm_nn(space, -1.0, A21, A12, 1.0, A22);
  round_block(space, A22, storage);
}

// The square block A[k0, k0 + m) x [k0, k0 + m) factored without pivoting, by halves down to the
// leaves (dgetrf2's recursion without its interchanges).
template <class ExecSpace, class AV>
void factor_square_nopivot(ExecSpace const& space, AV const& A, int k0, int m, FactorPrecision storage) {
  if (m <= lu_nopivot_leaf) {
    factor_leaf_nopivot(space, Kokkos::subview(A, range_t(k0, k0 + m), range_t(k0, k0 + m)));
    round_block(space, Kokkos::subview(A, range_t(k0, k0 + m), range_t(k0, k0 + m)), storage);
    return;
  }
  const int m1 = std::max(lu_nopivot_leaf, m / 2 / lu_nopivot_leaf * lu_nopivot_leaf);  // leaves stay whole
  factor_square_nopivot(space, A, k0, m1, storage);
  eliminate_below_block(space, A, k0, k0 + m1, k0 + m, storage);
  factor_square_nopivot(space, A, k0 + m1, m - m1, storage);
}

// A := L\U in place, no interchanges, blocks of nb columns (entries rounded to `storage` after
// every kernel, as the pivoted LU does).
template <class ExecSpace, class AV>
void lu_factor_nopivot(ExecSpace const& space, AV const& A, int nb, FactorPrecision storage) {
  const int n = static_cast<int>(A.extent(0));
  nb = std::max(1, nb);
  for (int k = 0; k < n; k += nb) {
    const int k2 = std::min(k + nb, n);
    factor_square_nopivot(space, A, k, k2 - k, storage);
    if (k2 < n) eliminate_below_block(space, A, k, k2, n, storage);
  }
}

}  // namespace numlab::linsolve::detail
