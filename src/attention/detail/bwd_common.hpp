// SPDX-License-Identifier: MIT
// Pieces shared by the tiled and the FlashAttention-2 backward kernels: argument checks,
// the team-scratch plan, the team policy, tile bounds under the causal mask, cooperative
// tile loads and the row-times-tile micro-kernels all five tile products are made of.
#pragma once

#include "attention/attention_types.hpp"

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace numlab::attention::detail::bwd {

// Keeps a parameter out of template argument deduction (std::type_identity_t of C++20).
template <class X>
struct identity {
  using type = X;
};
template <class X>
using identity_t = typename identity<X>::type;

template <class T>
inline constexpr bool is_real_v = std::is_same_v<T, float> || std::is_same_v<T, double>;

template <class T>
constexpr char const* dtype_name() {
  return std::is_same_v<T, float> ? "fp32" : "fp64";
}

// ------------------------------------------------------------------ scratch views --

// One unmanaged scratch alias per tile kind: a row-major [rows][cols] tile and a vector.
template <class ExecSpace, class T>
using ScratchTile =
    Kokkos::View<T**, Kokkos::LayoutRight, typename ExecSpace::scratch_memory_space, Kokkos::MemoryUnmanaged>;
template <class ExecSpace, class T>
using ScratchVec =
    Kokkos::View<T*, Kokkos::LayoutRight, typename ExecSpace::scratch_memory_space, Kokkos::MemoryUnmanaged>;

// Bytes of one [rows][cols] scratch tile, plus slack for the allocator's alignment.
template <class ExecSpace, class T>
std::size_t scratch_tile_bytes(int rows, int cols) {
  return ScratchTile<ExecSpace, T>::shmem_size(rows, cols) + 64;
}
template <class ExecSpace, class T>
std::size_t scratch_vec_bytes(int n) {
  return ScratchVec<ExecSpace, T>::shmem_size(n) + 64;
}

// Where a kernel's team scratch lives. Level 0 is the fast per-team memory (GPU shared
// memory; 40,936 bytes per team under Kokkos 4.6's CUDA backend, which does not opt in to
// Hopper's 227 KiB). Tiles that exceed it run from level 1: on host backends both levels are
// the same per-thread buffer (level 0 is nominally capped at 32 KiB, "roughly L1"), so that
// costs nothing; on a GPU level 1 is global memory (correct, but slower: the default tiles
// always fit level 0 where any tile does, and fp64 at D = 256 is the case that needs it).
struct ScratchPlan {
  int level = 0;
  std::size_t bytes = 0;
};

template <class ExecSpace, class T>
ScratchPlan plan_scratch(char const* who, std::size_t bytes, TileSizes tiles, int D) {
  using Policy = Kokkos::TeamPolicy<ExecSpace>;
  const std::size_t max0 = static_cast<std::size_t>(Policy::scratch_size_max(0));
  if (bytes <= max0) return {0, bytes};
  const std::size_t max1 = static_cast<std::size_t>(Policy::scratch_size_max(1));
  if (bytes <= max1) return {1, bytes};
  throw std::invalid_argument(std::string(who) + ": tile_q=" + std::to_string(tiles.tile_q) +
                              ", tile_k=" + std::to_string(tiles.tile_k) + " at D=" + std::to_string(D) + " (" +
                              dtype_name<T>() + ") need " + std::to_string(bytes) +
                              " bytes of team scratch, more than the " + std::to_string(max1) + " bytes a team of " +
                              ExecSpace::name() +
                              " can have (TeamPolicy::scratch_size_max(1)); choose smaller tile_q / tile_k");
}

// Vector lanes per team thread: a warp-sized vector on GPUs (the inner loops run over Bc or
// D, 16..256 long); 1 on host backends, where the inner loops are SIMD-vectorised by the compiler.
template <class ExecSpace>
int vector_length() {
  if constexpr (Kokkos::SpaceAccessibility<ExecSpace, Kokkos::HostSpace>::accessible) {
    return 1;
  } else {
    const int vmax = Kokkos::TeamPolicy<ExecSpace>::vector_length_max();
    return vmax < 32 ? vmax : 32;
  }
}

template <class ExecSpace, class Tag = void>
auto team_policy(ExecSpace const& space, int league, ScratchPlan const& plan) {
  using Policy =
      std::conditional_t<std::is_void_v<Tag>, Kokkos::TeamPolicy<ExecSpace>, Kokkos::TeamPolicy<ExecSpace, Tag>>;
  return Policy(space, league, Kokkos::AUTO, vector_length<ExecSpace>())
      .set_scratch_size(plan.level, Kokkos::PerTeam(plan.bytes));
}

// ----------------------------------------------------------------- argument checks --

inline void check_extents4(char const* who, char const* name, std::size_t e0, std::size_t e1, std::size_t e2,
                           std::size_t e3, AttentionShape const& s, int rows, char const* rows_name) {
  if (e0 != std::size_t(s.B) || e1 != std::size_t(s.H) || e2 != std::size_t(rows) || e3 != std::size_t(s.D))
    throw std::invalid_argument(std::string(who) + ": " + name + " has extents [" + std::to_string(e0) + "," +
                                std::to_string(e1) + "," + std::to_string(e2) + "," + std::to_string(e3) +
                                "], expected [B,H," + rows_name + ",D] = [" + std::to_string(s.B) + "," +
                                std::to_string(s.H) + "," + std::to_string(rows) + "," + std::to_string(s.D) + "]");
}

template <class View>
void check_q_like(char const* who, char const* name, View const& v, AttentionShape const& s) {
  check_extents4(who, name, v.extent(0), v.extent(1), v.extent(2), v.extent(3), s, s.N, "N");
}
template <class View>
void check_kv_like(char const* who, char const* name, View const& v, AttentionShape const& s) {
  check_extents4(who, name, v.extent(0), v.extent(1), v.extent(2), v.extent(3), s, s.N_kv, "N_kv");
}

// The arguments every backward takes: Q, O, dO, dQ are [B,H,N,D]; K, V, dK, dV [B,H,N_kv,D].
template <class In, class Out>
void check_backward_views(char const* who, AttentionShape const& s, In const& Q, In const& K, In const& V,
                          In const& O, In const& dO, Out const& dQ, Out const& dK, Out const& dV) {
  check_q_like(who, "Q", Q, s);
  check_kv_like(who, "K", K, s);
  check_kv_like(who, "V", V, s);
  check_q_like(who, "O", O, s);
  check_q_like(who, "dO", dO, s);
  check_q_like(who, "dQ", dQ, s);
  check_kv_like(who, "dK", dK, s);
  check_kv_like(who, "dV", dV, s);
}

inline void check_shape_and_tiles(char const* who, AttentionShape const& s, TileSizes t) {
  if (s.B < 0 || s.H < 0 || s.N < 0 || s.N_kv < 0 || s.D <= 0)
    throw std::invalid_argument(std::string(who) + ": shape needs B, H, N, N_kv >= 0 and D > 0");
  if (t.tile_q <= 0 || t.tile_k <= 0)
    throw std::invalid_argument(std::string(who) + ": tile_q and tile_k must be positive (got " +
                                std::to_string(t.tile_q) + ", " + std::to_string(t.tile_k) + ")");
}

// ------------------------------------------------------------ tiles and the mask --

KOKKOS_INLINE_FUNCTION int imin(int a, int b) { return a < b ? a : b; }
KOKKOS_INLINE_FUNCTION int imax(int a, int b) { return a < b ? b : a; }
KOKKOS_INLINE_FUNCTION int ceil_div(int a, int b) { return (a + b - 1) / b; }
KOKKOS_INLINE_FUNCTION int clamp_int(int x, int lo, int hi) { return x < lo ? lo : (x > hi ? hi : x); }

// Columns [0, result) of the key tile starting at k0 (nc keys) that query row q sees.
KOKKOS_INLINE_FUNCTION int visible_cols(AttentionShape const& s, int q, int k0, int nc) {
  return clamp_int(s.last_key(q) - k0 + 1, 0, nc);
}
// First row of the query tile starting at q0 (nr rows) that sees key k: rows below see it too
// (the bottom-right-aligned mask only opens up with the row index).
KOKKOS_INLINE_FUNCTION int first_row_seeing(AttentionShape const& s, int k, int q0, int nr) {
  return s.causal ? clamp_int(k - (s.N_kv - s.N) - q0, 0, nr) : 0;
}

// ----------------------------------------------------------------- tile transfers --

// dst[r*ld + d] = X(b, h, row0 + r, d) for r < nr, d < D: a [nr][D] tile, coalesced in d.
template <class Member, class View, class T>
KOKKOS_INLINE_FUNCTION void load_rows(Member const& m, View const& X, int b, int h, int row0, int nr, int D, T* dst,
                                      int ld) {
  Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nr), [&](int r) {
    T* out = dst + r * ld;
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, D), [&](int d) { out[d] = X(b, h, row0 + r, d); });
  });
}

// dst[d*ld + r] = X(b, h, row0 + r, d): the transposed [D][nr] tile, so products against it run
// their innermost loop over contiguous keys.
template <class Member, class View, class T>
KOKKOS_INLINE_FUNCTION void load_rows_transposed(Member const& m, View const& X, int b, int h, int row0, int nr, int D,
                                                 T* dst, int ld) {
  Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nr), [&](int r) {
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, D), [&](int d) { dst[d * ld + r] = X(b, h, row0 + r, d); });
  });
}

template <class Member, class T>
KOKKOS_INLINE_FUNCTION void zero_tile(Member const& m, T* dst, int nr, int ncols, int ld) {
  Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nr), [&](int r) {
    T* out = dst + r * ld;
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, ncols), [&](int c) { out[c] = T(0); });
  });
}

// ------------------------------------------------------------------ micro-kernels --

// acc[x] += sum_{t < n} coef[t * cs] * X[t * ldx + x]  for x < len; called by one team thread,
// vectorised over x (contiguous). Every tile product of the backward is this, one output row
// per call: S_i = Q_i K_j^T (coef = a row of Q_i, X = K_j^T), dP = dO_i V_j^T, dV_j += P^T dO_i
// and dK_j += dS^T Q_i (coef = a column of P / dS), dQ_i += dS K_j. Four terms per pass cut
// the load/store traffic on acc; no reduction sits in the innermost loop. The lambdas capture
// by value: captured by reference, the pointers could alias acc and gcc would not vectorise.
template <class Member, class T>
KOKKOS_INLINE_FUNCTION void row_axpy(Member const& m, int n, T const* coef, int cs, T const* X, int ldx, int len,
                                     T* acc) {
  int t = 0;
  for (; t + 4 <= n; t += 4) {
    const T c0 = coef[t * cs], c1 = coef[(t + 1) * cs], c2 = coef[(t + 2) * cs], c3 = coef[(t + 3) * cs];
    T const* x0 = X + t * ldx;
    T const* x1 = x0 + ldx;
    T const* x2 = x1 + ldx;
    T const* x3 = x2 + ldx;
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, len),
                         [=](int x) { acc[x] += (c0 * x0[x] + c1 * x1[x]) + (c2 * x2[x] + c3 * x3[x]); });
  }
  for (; t < n; ++t) {
    const T c0 = coef[t * cs];
    T const* x0 = X + t * ldx;
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, len), [=](int x) { acc[x] += c0 * x0[x]; });
  }
}

// Two output rows against the same X (accA += a X, accB += b X): each X element loaded once
// feeds both, which is what makes the loop compute-bound rather than load-bound on a CPU.
template <class Member, class T>
KOKKOS_INLINE_FUNCTION void row_axpy2(Member const& m, int n, T const* a, T const* b, int cs, T const* X, int ldx,
                                      int len, T* accA, T* accB) {
  int t = 0;
  for (; t + 4 <= n; t += 4) {
    const T a0 = a[t * cs], a1 = a[(t + 1) * cs], a2 = a[(t + 2) * cs], a3 = a[(t + 3) * cs];
    const T b0 = b[t * cs], b1 = b[(t + 1) * cs], b2 = b[(t + 2) * cs], b3 = b[(t + 3) * cs];
    T const* x0 = X + t * ldx;
    T const* x1 = x0 + ldx;
    T const* x2 = x1 + ldx;
    T const* x3 = x2 + ldx;
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, len), [=](int x) {
      const T v0 = x0[x], v1 = x1[x], v2 = x2[x], v3 = x3[x];
      accA[x] += (a0 * v0 + a1 * v1) + (a2 * v2 + a3 * v3);
      accB[x] += (b0 * v0 + b1 * v1) + (b2 * v2 + b3 * v3);
    });
  }
  for (; t < n; ++t) {
    const T a0 = a[t * cs], b0 = b[t * cs];
    T const* x0 = X + t * ldx;
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, len), [=](int x) {
      const T v0 = x0[x];
      accA[x] += a0 * v0;
      accB[x] += b0 * v0;
    });
  }
}

// Rows (or key columns) of a tile are handed to team threads in pairs: row `first` and, when it
// exists, row first + 1 (pair p covers first = 2p). Calls f(first, has_second).
template <class Member, class F>
KOKKOS_INLINE_FUNCTION void for_row_pairs(Member const& m, int n, F const& f) {
  Kokkos::parallel_for(Kokkos::TeamThreadRange(m, (n + 1) / 2), [&](int p) { f(2 * p, 2 * p + 1 < n); });
}

// acc row(s) += coef row(s) X, for one row or a pair of rows sharing X (see row_axpy2).
template <class Member, class T>
KOKKOS_INLINE_FUNCTION void rows_axpy(Member const& m, bool pair, int n, T const* a, T const* b, int cs, T const* X,
                                      int ldx, int len, T* accA, T* accB) {
  if (pair)
    row_axpy2(m, n, a, b, cs, X, ldx, len, accA, accB);
  else
    row_axpy(m, n, a, cs, X, ldx, len, accA);
}

}  // namespace numlab::attention::detail::bwd
