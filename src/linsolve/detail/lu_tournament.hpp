// SPDX-License-Identifier: MIT
// Tournament pivoting (CALU: Grigori, Demmel & Xiang, SIAM J. Matrix Anal. Appl. 32, 2011) for a
// leaf A(k0:n, k0:k0+w) of the dense LU: the pivot rows are chosen by a reduction tree instead of
// one column-wide search per column, so a leaf costs a few launches whatever its height, not w
// steps that each span the whole column (partial pivoting's grid barrier per column on a GPU).
//
//   round 1      the leaf's rows in groups of G: each team factors its group (dgetf2 with partial
//                pivoting, in team scratch) and keeps the w rows it chose as pivots;
//   rounds 2..   groups of F winner sets (F w rows) the same way, until one set is left: the
//                leaf's w pivot rows, in the order its dgetf2 chose them, and their factors
//                L11\U11 (the factors of those rows in that order: the same elimination);
//   apply        the interchanges (LAPACK ipiv form, piv(k0 + j)) across [s0, s1) as one gather
//                (every moved row read before any is written), then L21 = A21 U11^-1 row by row.
//
// The pivots are not partial pivoting's: |L21| may exceed 1, the growth factor is bounded by
// 2^(w (log2 groups + 1)) against GEPP's 2^w and in practice grows like GEPP's (the paper's
// experiments). A zero pivot skips its division (no NaN); the singularity test reports it.
#pragma once

#include "core/kokkos_ext/compat.hpp"
#include "linsolve/detail/lu_pivot.hpp"

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace numlab::linsolve::detail {

// Widest leaf the tournament takes (its row solves and gathers hold a row in registers).
inline constexpr int lu_tournament_max_width = 32;

// Rows a GPU team holds in scratch at most (and its threads: one row each).
inline constexpr int lu_tournament_gpu_max_rows = 256;

// Workspace of the tournament, sized once per lu_factor call.
template <class MS>
struct TournamentWork {
  Kokkos::View<int**, Kokkos::LayoutRight, MS> rows;   // [2][n * w]: a round's winners (ping-pong)
  Kokkos::View<int**, Kokkos::LayoutRight, MS> count;  // [2][n]: how many each group kept
  Kokkos::View<double*, MS> lu11;  // w x w, row-major: the winners' factors L11\U11
  Kokkos::View<int*, MS> move;     // the gather: [0, 2w) destinations, [2w, 4w) sources, [4w] count
  int group_rows = 0;  // rows per group in round 1 and per team after (tests); 0: automatic
  int team_size = 0;   // 0: automatic (GPU: a thread per row; host: 1)
  int gpu_rows = 0;    // GPU: rows a team's scratch holds at this value size and leaf width
};

template <class ExecSpace, class AV, class PivView>
struct TournamentRound {
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  using T = typename AV::non_const_value_type;
  using MS = typename ExecSpace::memory_space;
  using scratch_space = typename ExecSpace::scratch_memory_space;
  using SV = Kokkos::View<T*, scratch_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  using SI = Kokkos::View<int*, scratch_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

  AV A;
  PivView piv;
  Kokkos::View<int*, Kokkos::LayoutRight, MS> in_rows, out_rows;  // [groups * w]
  Kokkos::View<int*, Kokkos::LayoutRight, MS> in_count, out_count;
  Kokkos::View<double*, MS> lu11;
  Kokkos::View<int*, MS> move;
  int n, k0, w;
  int group_rows;  // round 1: rows per group
  int fan_in;      // later rounds: winner sets per group; 0: round 1
  int in_groups;   // later rounds: groups of the round before
  int ld;          // rows this launch's teams hold at most
  int level;       // scratch level
  bool last;       // one group: its winners are the leaf's pivots

  static std::size_t scratch_bytes(int rows, int w) {
    return SV::shmem_size(static_cast<std::size_t>(rows) * w) + 2 * SI::shmem_size(rows) + 3 * SI::shmem_size(w);
  }

  KOKKOS_INLINE_FUNCTION void operator()(member_type const& t) const {
    const int g = t.league_rank();
    SV S(t.team_scratch(level), static_cast<std::size_t>(ld) * w);  // column-major, leading dimension ld
    SI R(t.team_scratch(level), ld);     // the global row of each scratch row
    SI rank(t.team_scratch(level), ld);  // the column at which a scratch row became pivot (w: not yet)
    SI order(t.team_scratch(level), w);  // the scratch row chosen at each column
    SI pos_of(t.team_scratch(level), w);  // last round: where top row k0 + i is now
    SI cur(t.team_scratch(level), w);     // last round: the row now at k0 + j
    int rows = 0;
    if (fan_in == 0) {
      const int r0 = k0 + g * group_rows;
      rows = n - r0 < group_rows ? n - r0 : group_rows;
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, rows), [&](const int q) { R(q) = r0 + q; });
    } else {
      const int c1 = (g + 1) * fan_in < in_groups ? (g + 1) * fan_in : in_groups;
      for (int ch = g * fan_in; ch < c1; ++ch) {  // every thread walks the (few) children alike
        const int cnt = in_count(ch), off = rows;
        Kokkos::parallel_for(Kokkos::TeamThreadRange(t, cnt), [&](const int q) { R(off + q) = in_rows(ch * w + q); });
        rows += cnt;
      }
    }
    t.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, rows * w), [&](const int e) {
      const int j = e / rows, q = e - j * rows;  // rows fastest: coalesced in round 1
      S(j * ld + q) = A(R(q), k0 + j);
      if (j == 0) rank(q) = w;
    });
    t.team_barrier();
    // dgetf2 of the group without moving rows: a chosen row is marked (rank) and leaves the search.
    // Step c eliminates column c-1 with the previous pivot and searches column c in one pass; the
    // thread that owns the previous pivot row marks it there (a team range maps a row to the same
    // thread every time), so a step is one reduction and one barrier.
    const int cw = rows < w ? rows : w;
    int prev = -1;
    T d = 1;
    for (int c = 0; c < cw; ++c) {
      PivotCandidate best;
      Kokkos::parallel_reduce(
          Kokkos::TeamThreadRange(t, rows),
          [&](const int q, PivotCandidate& m) {
            if (q == prev) rank(q) = c - 1;
            if (rank(q) < c) return;  // a pivot already
            if (prev >= 0 && d != T(0)) {
              const T l = S((c - 1) * ld + q) / d;
              S((c - 1) * ld + q) = l;
              for (int j = c; j < w; ++j) S(j * ld + q) -= l * S(j * ld + prev);
            }
            double v = kx::abs(static_cast<double>(S(c * ld + q)));
            if (!(v == v)) v = 0;  // NaN: never preferred, but a row is always chosen
            if (v > m.val || (v == m.val && q < m.loc)) {
              m.val = v;
              m.loc = q;
            }
          },
          PivotMaxFirst<>(best));
      t.team_barrier();  // every row's update done (the result may arrive before the reduction's barrier)
      const int p = best.loc;
      Kokkos::single(Kokkos::PerTeam(t), [&]() { order(c) = p; });  // read after the loop's barriers
      prev = p;
      d = S(c * ld + p);
    }
    t.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, cw), [&](const int c) { out_rows(g * w + c) = R(order(c)); });
    Kokkos::single(Kokkos::PerTeam(t), [&]() { out_count(g) = cw; });
    if (!last) return;
    // The winners' factors: row c of L11\U11 is scratch row order(c) (eliminated by pivots 0..c-1,
    // its multipliers stored where it was eliminated).
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, cw * w), [&](const int e) {
      const int c = e / w, j = e - c * w;
      lu11(c * w + j) = static_cast<double>(S(j * ld + order(c)));
    });
    Kokkos::single(Kokkos::PerTeam(t), [&]() { interchanges(R, order, pos_of, cur, cw); });
  }

  // LAPACK's ipiv for "winner j to row k0 + j, in order", and the gather it amounts to. Only rows
  // of the top block [k0, k0 + cw) move more than once: an outer row is touched once, when it is
  // the winner (its own interchange), and then holds a top row, which a later winner may be.
  KOKKOS_INLINE_FUNCTION void interchanges(SI const& R, SI const& order, SI const& pos_of, SI const& cur, int cw) const {
    for (int i = 0; i < cw; ++i) pos_of(i) = cur(i) = k0 + i;
    for (int j = 0; j < cw; ++j) {
      const int r = R(order(j));
      const bool top = r < k0 + cw;
      const int loc = top ? pos_of(r - k0) : r;
      piv(k0 + j) = loc;
      const int displaced = cur(j);  // a top row (induction: rows at k0 + j.. are top rows)
      pos_of(displaced - k0) = loc;
      if (loc < k0 + cw) cur(loc - k0) = displaced;
      cur(j) = r;
      if (top) pos_of(r - k0) = k0 + j;
    }
    int cnt = 0;
    for (int j = 0; j < cw; ++j) {
      const int r = R(order(j));
      if (r != k0 + j) {
        move(cnt) = k0 + j;
        move(2 * w + cnt) = r;
        ++cnt;
      }
    }
    for (int i = 0; i < cw; ++i) {
      if (pos_of(i) >= k0 + cw) {
        move(cnt) = pos_of(i);
        move(2 * w + cnt) = k0 + i;
        ++cnt;
      }
    }
    move(4 * w) = cnt;
  }
};

// The tournament's interchanges across columns [s0, s1): per column every moved value is loaded
// before any is stored (the destinations and sources overlap), one memory round trip per column.
template <class ExecSpace, class AV>
struct TournamentGather {
  using T = typename AV::non_const_value_type;
  AV A;
  Kokkos::View<int*, typename ExecSpace::memory_space> move;
  int w;
  KOKKOS_INLINE_FUNCTION void operator()(const int col) const {
    const int cnt = move(4 * w);
    T v[2 * lu_tournament_max_width];
    for (int q = 0; q < 2 * lu_tournament_max_width; ++q)
      if (q < cnt) v[q] = A(move(2 * w + q), col);
    for (int q = 0; q < 2 * lu_tournament_max_width; ++q)
      if (q < cnt) A(move(q), col) = v[q];
  }
};

// The leaf's columns once its rows are in place: rows k0..k0+w-1 take the winners' factors,
// the rows below L21 = A21 U11^-1 (a row solve each, in registers).
template <class ExecSpace, class AV>
struct TournamentLower {
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  using T = typename AV::non_const_value_type;
  using SV = Kokkos::View<T*, typename ExecSpace::scratch_memory_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  AV A;
  Kokkos::View<double*, typename ExecSpace::memory_space> lu11;
  int n, k0, w, rows_per_team;

  static std::size_t scratch_bytes(int w) { return SV::shmem_size(static_cast<std::size_t>(w) * w); }

  KOKKOS_INLINE_FUNCTION void operator()(member_type const& t) const {
    SV U(t.team_scratch(0), static_cast<std::size_t>(w) * w);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, w * w), [&](const int e) { U(e) = static_cast<T>(lu11(e)); });
    t.team_barrier();
    const int r0 = k0 + t.league_rank() * rows_per_team;
    const int r1 = r0 + rows_per_team < n ? r0 + rows_per_team : n;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, r0, r1), [&](const int i) {
      if (i < k0 + w) {
        for (int j = 0; j < w; ++j) A(i, k0 + j) = U((i - k0) * w + j);
        return;
      }
      T x[lu_tournament_max_width];
      for (int j = 0; j < lu_tournament_max_width; ++j)
        if (j < w) x[j] = A(i, k0 + j);
      for (int j = 0; j < lu_tournament_max_width; ++j) {
        if (j >= w) break;
        T s = x[j];
        for (int k = 0; k < j; ++k) s -= x[k] * U(k * w + j);
        const T u = U(j * w + j);
        x[j] = u != T(0) ? s / u : s;  // a zero pivot: no division (singular, reported)
      }
      for (int j = 0; j < lu_tournament_max_width; ++j)
        if (j < w) A(i, k0 + j) = x[j];
    });
  }
};

// Rows a GPU team of the tournament holds for leaves of width w and values of `value_bytes`:
// scratch-bound (the 40,000 bytes a 128-thread launch accepts, see lu_persistent_max_rows), at
// most lu_tournament_gpu_max_rows, a multiple of 32 and at least 2 w (a later round merges two sets).
inline int lu_tournament_gpu_rows(int w, std::size_t value_bytes) {
  constexpr std::size_t cap = 40000;
  const std::size_t per_row = static_cast<std::size_t>(w) * value_bytes + 2 * sizeof(int);
  const std::size_t fixed = 3 * sizeof(int) * static_cast<std::size_t>(w) + 64 * 8;  // alignment slack
  int rows = static_cast<int>(std::min<std::size_t>((cap - fixed) / per_row, lu_tournament_gpu_max_rows)) / 32 * 32;
  return std::max(rows, 2 * w);
}

// The tree of a leaf of m rows and width w: G rows per group in round 1, F winner sets per group
// after. group_rows > 0 (an option, the tests): G = group_rows, F = max(2, G / w); a GPU: a team's
// scratch rows (gpu_rows), F as before; the host: one group per thread and one merge.
struct TournamentShape {
  int group_rows = 0;
  int fan_in = 0;
};

inline TournamentShape tournament_shape(bool host, int group_rows, int gpu_rows, int m, int w, int threads) {
  TournamentShape s;
  if (group_rows > 0 || !host) {
    s.group_rows = group_rows > 0 ? group_rows : gpu_rows;
    s.fan_in = std::max(2, s.group_rows / std::max(1, w));
  } else {
    s.group_rows = std::max(2 * w, (m + threads - 1) / std::max(1, threads));
    s.fan_in = std::max(2, (m + s.group_rows - 1) / s.group_rows);  // one merge
  }
  return s;
}

template <class MS>
TournamentWork<MS> tournament_work(int n, int leaf_width, int group_rows, int team_size, std::size_t value_bytes) {
  if (leaf_width > lu_tournament_max_width)
    throw std::invalid_argument("numlab::linsolve::lu_factor: panel_kernel tournament takes leaf_width <= " +
                                std::to_string(lu_tournament_max_width) + ", got " + std::to_string(leaf_width));
  TournamentWork<MS> tw;
  const int w = std::max(1, leaf_width);
  tw.rows = decltype(tw.rows)("numlab::lu::tournament_rows", 2, static_cast<std::size_t>(std::max(1, n)) * w);
  tw.count = decltype(tw.count)("numlab::lu::tournament_count", 2, std::max(1, n));
  tw.lu11 = decltype(tw.lu11)("numlab::lu::tournament_lu11", static_cast<std::size_t>(w) * w);
  tw.move = decltype(tw.move)("numlab::lu::tournament_move", 4 * w + 1);
  tw.group_rows = group_rows;
  tw.team_size = team_size;
  tw.gpu_rows = lu_tournament_gpu_rows(w, value_bytes);
  return tw;
}

// The leaf A(k0:n, k0:k0+w) by tournament pivoting, interchanges applied across [s0, s1); the
// tree by tournament_shape (a GPU in fp64 at w = 32: 128 rows and F = 4, 5 rounds at n = 16384).
template <class ExecSpace, class AV, class PivView>
void factor_leaf_tournament(ExecSpace const& space, AV const& A, PivView const& piv,
                            TournamentWork<typename ExecSpace::memory_space> const& tw, int k0, int w, int s0, int s1) {
  using Round = TournamentRound<ExecSpace, AV, PivView>;
  using policy_t = Kokkos::TeamPolicy<ExecSpace>;
  constexpr bool host = is_host_space_v<ExecSpace>;
  const int n = static_cast<int>(A.extent(0));
  const int m = n - k0;
  if (m <= 0 || w <= 0) return;
  const int threads = std::max(1, static_cast<int>(space.concurrency()));
  const TournamentShape shape = tournament_shape(host, tw.group_rows, tw.gpu_rows, m, w, threads);
  const int G = shape.group_rows, F = shape.fan_in;
  const int level = host ? 1 : 0;  // host: Kokkos' level 0 is small (32 KiB on OpenMP)
  auto team = [&](int rows) {
    if (tw.team_size > 0) return tw.team_size;
    return host ? 1 : std::min(lu_tournament_gpu_max_rows, (rows + 31) / 32 * 32);
  };
  int groups = (m + G - 1) / G;
  int src = 0;
  Round f{A, piv, Kokkos::subview(tw.rows, 1, Kokkos::ALL), Kokkos::subview(tw.rows, 0, Kokkos::ALL),
          Kokkos::subview(tw.count, 1, Kokkos::ALL), Kokkos::subview(tw.count, 0, Kokkos::ALL), tw.lu11, tw.move,
          n, k0, w, G, 0, 0, std::min(G, m), level, groups == 1};
  Kokkos::parallel_for("numlab::lu::tournament_round",
                       policy_t(space, groups, team(f.ld)).set_scratch_size(level, Kokkos::PerTeam(Round::scratch_bytes(f.ld, w))), f);
  while (groups > 1) {
    const int next = (groups + F - 1) / F;
    f.in_rows = Kokkos::subview(tw.rows, src, Kokkos::ALL);
    f.in_count = Kokkos::subview(tw.count, src, Kokkos::ALL);
    f.out_rows = Kokkos::subview(tw.rows, 1 - src, Kokkos::ALL);
    f.out_count = Kokkos::subview(tw.count, 1 - src, Kokkos::ALL);
    f.fan_in = F;
    f.in_groups = groups;
    f.ld = std::min(F, groups) * w;
    f.last = next == 1;
    Kokkos::parallel_for("numlab::lu::tournament_round",
                         policy_t(space, next, team(f.ld)).set_scratch_size(level, Kokkos::PerTeam(Round::scratch_bytes(f.ld, w))), f);
    groups = next;
    src = 1 - src;
  }
  Kokkos::parallel_for("numlab::lu::tournament_gather", Kokkos::RangePolicy<ExecSpace>(space, s0, s1),
                       TournamentGather<ExecSpace, AV>{A, tw.move, w});
  using Lower = TournamentLower<ExecSpace, AV>;
  const int rpt = host ? std::max(1, (m + threads - 1) / threads) : 128;
  const int lower_team = tw.team_size > 0 ? tw.team_size : (host ? 1 : 128);
  Kokkos::parallel_for("numlab::lu::tournament_lower",
                       policy_t(space, (m + rpt - 1) / rpt, lower_team).set_scratch_size(0, Kokkos::PerTeam(Lower::scratch_bytes(w))),
                       Lower{A, tw.lu11, n, k0, w, rpt});
}

}  // namespace numlab::linsolve::detail
