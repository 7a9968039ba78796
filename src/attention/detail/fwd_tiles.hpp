// SPDX-License-Identifier: MIT
// Building blocks shared by the forward kernels: scratch carving, tile loads from global memory
// into team scratch (zero padded), and the register-blocked tile GEMM.
//
// Layouts of the scratch tiles (R = FwdRegisterBlock::R):
//   Q, P (= S):  panels of R rows, element (r, k) of panel rb at [rb][k][r]  (GEMM A operand)
//   K^T:         (D, ldKt) row-major                                         (GEMM B operand)
//   V:           (BcP, DP) row-major                                         (GEMM B operand)
//   O acc:       (BrP, DP) row-major                                         (GEMM C)
#pragma once

#include "attention/attention_types.hpp"
#include "attention/tile_size.hpp"

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace numlab::attention::detail {

// One unmanaged scratch View alias for every tile; kernels index raw pointers with explicit
// leading dimensions (the register-blocked GEMM wants pointers anyway).
template <class ExecSpace, class T>
using ScratchVec = Kokkos::View<T*, typename ExecSpace::scratch_memory_space, Kokkos::MemoryUnmanaged>;

// Carves the team scratch in the order of ScratchCounts (tile_size.hpp).
template <class ExecSpace, class T, class Member>
KOKKOS_INLINE_FUNCTION void carve_scratch(Member const& member, int level, ScratchCounts const& counts, T* (&ptr)[5]) {
  for (int i = 0; i < 5; ++i)
    ptr[i] = counts.n[i] > 0 ? ScratchVec<ExecSpace, T>(member.team_scratch(level), counts.n[i]).data() : nullptr;
}

// Integer min/max usable in kernels (Kokkos::min/max are not in 3.4).
KOKKOS_INLINE_FUNCTION constexpr int imin(int a, int b) { return a < b ? a : b; }
KOKKOS_INLINE_FUNCTION constexpr int imax(int a, int b) { return a > b ? a : b; }

// (b, h, tile) from a league index, tile fastest: consecutive teams share K/V of one head.
struct HeadTile {
  int b, h, tile;
};
KOKKOS_INLINE_FUNCTION HeadTile head_tile(int league_index, int H, int n_tiles) {
  int const bh = league_index / n_tiles;
  return {bh / H, bh % H, league_index % n_tiles};
}

// dst (rows_padded, ld) <- X(b, h, row0 + r, d) for r < n_rows, d < D; zero elsewhere (padding
// rows, columns D..ld). Coalesced on a GPU (lanes along d).
template <class Member, class T, class Mem>
KOKKOS_INLINE_FUNCTION void load_rows(Member const& member, Tensor4<const T, Mem> const& X, int b, int h, int row0,
                                      int n_rows, int rows_padded, int D, T* dst, int ld) {
  Kokkos::parallel_for(Kokkos::TeamThreadRange(member, rows_padded), [&](int r) {
    T* out = dst + std::size_t(r) * ld;
    if (r < n_rows) {
      T const* in = &X(b, h, row0 + r, 0);  // LayoutRight: a row of X is contiguous
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, D), [&](int d) { out[d] = in[d]; });
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, D, ld), [&](int d) { out[d] = T(0); });
    } else {
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, ld), [&](int d) { out[d] = T(0); });
    }
  });
}

// Panels of R rows (the A operand layout of register_block_gemm): row r = R rb + i, column c at
// dst[rb * panel_stride + c * R + i]. Loads X(b, h, row0 + r, col0 + c) for r < n_rows,
// c < n_cols; zero for the padding rows up to rows_padded and columns up to cols_padded.
template <int R, class Member, class View4>
KOKKOS_INLINE_FUNCTION void load_row_panels(Member const& member, View4 const& X, int b, int h, int row0, int n_rows,
                                            int rows_padded, int col0, int n_cols, int cols_padded,
                                            typename View4::non_const_value_type* dst, std::size_t panel_stride) {
  using T = typename View4::non_const_value_type;
  Kokkos::parallel_for(Kokkos::TeamThreadRange(member, rows_padded), [&](int r) {
    T* out = dst + std::size_t(r / R) * panel_stride + r % R;
    if (r < n_rows) {
      auto const* in = &X(b, h, row0 + r, col0);  // LayoutRight: a row of X is contiguous
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, n_cols), [&](int c) { out[c * R] = in[c]; });
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, n_cols, cols_padded), [&](int c) { out[c * R] = T(0); });
    } else {
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, cols_padded), [&](int c) { out[c * R] = T(0); });
    }
  });
}

// Kt (D, ldKt) <- K(b, h, row0 + c, d)^T for c < n_rows; zero for n_rows <= c < cols_padded.
// Lanes read along d (coalesced) and write with stride ldKt (odd on a GPU: conflict-free).
template <class Member, class T, class Mem>
KOKKOS_INLINE_FUNCTION void load_rows_transposed(Member const& member, Tensor4<const T, Mem> const& K, int b, int h,
                                                 int row0, int n_rows, int cols_padded, int D, T* Kt, int ldKt) {
  Kokkos::parallel_for(Kokkos::TeamThreadRange(member, cols_padded), [&](int c) {
    if (c < n_rows) {
      T const* in = &K(b, h, row0 + c, 0);
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, D), [&](int d) { Kt[std::size_t(d) * ldKt + c] = in[d]; });
    } else {
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, D), [&](int d) { Kt[std::size_t(d) * ldKt + c] = T(0); });
    }
  });
}

// How a tile GEMM combines A B with C.
enum class GemmUpdate {
  overwrite,           // C = A B
  accumulate,          // C += A B
  rescale_accumulate,  // C = diag(row_scale) C + A B   (the online softmax's alpha)
};

// One register block: C (R, W) updated with A (R, K) B (K, W).
//  - A is one panel: element (r, k) at A[k * R + r], so the R values of a k are contiguous and
//    all strides but B's are compile-time constants. (With a runtime row stride for A, gcc -O3
//    vectorises the k loop itself, transposing A, at a third of the speed.)
//  - B row-major with leading dim ldb; C row-major (ldc) or, with CPanel, a panel (element
//    (r, w) at C[w * R + r], the layout of the S/P tiles).
// All loops but k have compile-time trip counts: acc stays in registers (host: 2R SSE
// registers) and each B value loaded feeds R rows.
template <int R, int W, GemmUpdate Update, bool CPanel, class T>
KOKKOS_FORCEINLINE_FUNCTION void register_block_gemm(int K, T const* A, T const* B, int ldb, T* C, int ldc,
                                                     T const* row_scale) {
  static_assert(Update == GemmUpdate::overwrite || !CPanel, "register_block_gemm: C panels are written, not updated");
  T acc[R][W];
  for (int r = 0; r < R; ++r) {
    T const s = Update == GemmUpdate::rescale_accumulate ? row_scale[r] : T(1);
    for (int w = 0; w < W; ++w) {
      if constexpr (Update == GemmUpdate::overwrite)
        acc[r][w] = T(0);
      else if constexpr (Update == GemmUpdate::accumulate)
        acc[r][w] = C[r * ldc + w];
      else
        acc[r][w] = s * C[r * ldc + w];
    }
  }
  for (int k = 0; k < K; ++k) {
    T b[W];
    for (int w = 0; w < W; ++w) b[w] = B[std::size_t(k) * ldb + w];
    for (int r = 0; r < R; ++r) {
      T const a = A[k * R + r];
      for (int w = 0; w < W; ++w) acc[r][w] += a * b[w];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int w = 0; w < W; ++w) {
      if constexpr (CPanel)
        C[w * R + r] = acc[r][w];
      else
        C[r * ldc + w] = acc[r][w];
    }
}

// Team GEMM on tiles: C (rows, cols) updated with A (rows, K) B (K, cols), rows a multiple of R
// and cols of W (tiles are zero padded to that). A is in panels of R rows (a_panel_stride
// apart); C row-major with leading dim ldc, or (CPanel) panels ldc apart. Threads over row
// blocks, vector lanes over column blocks.
template <int R, int W, GemmUpdate Update, bool CPanel, class Member, class T>
KOKKOS_INLINE_FUNCTION void team_gemm(Member const& member, int rows, int cols, int K, T const* A,
                                      std::size_t a_panel_stride, T const* B, int ldb, T* C, std::size_t ldc,
                                      T const* row_scale = nullptr) {
  Kokkos::parallel_for(Kokkos::TeamThreadRange(member, rows / R), [&](int rb) {
    T const* A_rb = A + rb * a_panel_stride;
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, cols / W), [&](int cb) {
      int const c0 = cb * W;
      T* C_blk = CPanel ? C + rb * ldc + std::size_t(c0) * R : C + std::size_t(rb) * R * ldc + c0;
      register_block_gemm<R, W, Update, CPanel>(K, A_rb, B + c0, ldb, C_blk, int(ldc),
                                                row_scale != nullptr ? row_scale + rb * R : row_scale);
    });
  });
}

// Extents check shared by the launch functions: Q, O [B,H,N,D]; K, V [B,H,N_kv,D]; L [B,H,N]
// or empty.
template <class Q4, class K4, class V4, class O4, class L3>
void check_forward_extents(char const* who, AttentionShape const& s, Q4 const& Q, K4 const& K, V4 const& V, O4 const& O,
                           L3 const& L) {
  auto dims = [](auto const& v) {
    std::string d = "[";
    for (unsigned i = 0; i < v.rank; ++i) d += (i ? "," : "") + std::to_string(v.extent(i));
    return d + "]";
  };
  auto is4 = [](auto const& v, int a, int b, int c, int d) {
    return v.extent(0) == std::size_t(a) && v.extent(1) == std::size_t(b) && v.extent(2) == std::size_t(c) &&
           v.extent(3) == std::size_t(d);
  };
  std::string const w = who;
  if (s.B < 1 || s.H < 1 || s.N < 0 || s.N_kv < 0 || s.D < 1)
    throw std::invalid_argument(w + ": invalid shape B=" + std::to_string(s.B) + " H=" + std::to_string(s.H) + " N=" +
                                std::to_string(s.N) + " N_kv=" + std::to_string(s.N_kv) + " D=" + std::to_string(s.D));
  if (!is4(Q, s.B, s.H, s.N, s.D)) throw std::invalid_argument(w + ": Q is " + dims(Q) + ", expected [B,H,N,D]");
  if (!is4(K, s.B, s.H, s.N_kv, s.D)) throw std::invalid_argument(w + ": K is " + dims(K) + ", expected [B,H,N_kv,D]");
  if (!is4(V, s.B, s.H, s.N_kv, s.D)) throw std::invalid_argument(w + ": V is " + dims(V) + ", expected [B,H,N_kv,D]");
  if (!is4(O, s.B, s.H, s.N, s.D)) throw std::invalid_argument(w + ": O is " + dims(O) + ", expected [B,H,N,D]");
  bool const L_ok = L.size() == 0 || (L.extent(0) == std::size_t(s.B) && L.extent(1) == std::size_t(s.H) &&
                                      L.extent(2) == std::size_t(s.N));
  if (!L_ok) throw std::invalid_argument(w + ": L is " + dims(L) + ", expected [B,H,N] or an empty view");
}

// Compile-time checks shared by the launch functions.
template <class ExecSpace, class T, class Mem>
constexpr void static_check_forward() {
  static_assert(Kokkos::is_execution_space<ExecSpace>::value, "attention forward: ExecSpace is not an execution space");
  static_assert(Kokkos::is_memory_space<Mem>::value, "attention forward: Mem is not a memory space");
  static_assert(Kokkos::SpaceAccessibility<ExecSpace, Mem>::accessible,
                "attention forward: the Views' memory space is not accessible from ExecSpace");
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "attention forward: T is float or double");
  static_assert(
      Kokkos::is_view<Tensor4<const T, Mem>>::value && Tensor4<const T, Mem>::rank == 4 && Tensor3<T, Mem>::rank == 3,
      "attention forward: Q, K, V, O are rank-4 and L rank-3 Views");
}

// Team policy of a forward kernel from its plan (team/vector sizes and scratch); Tag selects a
// tagged operator() of the functor.
template <class Tag = void, class ExecSpace>
auto forward_policy(ExecSpace const& space, int league, FwdTilePlan const& p, std::size_t scratch_bytes) {
  using Policy =
      std::conditional_t<std::is_void_v<Tag>, Kokkos::TeamPolicy<ExecSpace>, Kokkos::TeamPolicy<ExecSpace, Tag>>;
  Policy policy = p.team_size > 0 ? Policy(space, league, p.team_size, p.vector_length)
                                  : Policy(space, league, Kokkos::AUTO, p.vector_length);
  if (scratch_bytes > 0) policy.set_scratch_size(p.level, Kokkos::PerTeam(scratch_bytes));
  return policy;
}

}  // namespace numlab::attention::detail
