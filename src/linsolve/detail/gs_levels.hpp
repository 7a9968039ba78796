// SPDX-License-Identifier: MIT
// Level scheduling of the exact lexicographic Gauss-Seidel sweep: the dependency DAG of the sweep,
// its levels (wavefronts), a level-ordered copy of the matrix, and the kernels that sweep it level
// by level. Rows of one level never couple, so they update in parallel, and every row still sees
// exactly the values the one-thread sweep gives it: the same iterates (tests/unit/test_gs_levels.cpp).
#pragma once

#include "linsolve/csr.hpp"
#include "linsolve/detail/gs_kernels.hpp"

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace numlab::linsolve::detail {

// The forward sweep updates row i after every row j < i it couples to (it reads their new x_j)
// and before every row j > i it couples to (it reads their old x_j): both a_ij != 0 and a_ji != 0
// order i before j. So the DAG is the lower triangle of the pattern of A + A^T (A's own lower
// triangle when the pattern is symmetric; an unsymmetric a_ij with j > i is a write-after-read
// edge a plain lower-triangle DAG would miss), and
//   level(i) = 1 + max { level(j) : j < i, a_ij != 0 or a_ji != 0 }   (0 without such j).
// On the 5-point grid this is the anti-diagonal: level(ix, iy) = ix + iy, nx + ny - 1 levels.
// The backward sweep runs the same levels in reverse order (the reversed DAG; the same count).
// O(nnz) on the host, in row order, like the greedy colouring. Returns the level of every row.
template <class ExecSpace>
std::vector<int> sweep_levels(UndirectedGraph<ExecSpace> const& g, ordinal_t n, int& num_levels) {
  auto rm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g.row_map);
  auto ci = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g.entries);
  std::vector<int> level(static_cast<std::size_t>(n), 0);
  num_levels = n > 0 ? 1 : 0;
  for (ordinal_t i = 0; i < n; ++i) {
    int l = 0;
    for (offset_t k = rm(i); k < rm(i + 1); ++k) {
      const ordinal_t j = ci(k);
      if (j < i) l = std::max(l, level[static_cast<std::size_t>(j)] + 1);
    }
    level[static_cast<std::size_t>(i)] = l;
    num_levels = std::max(num_levels, l + 1);
  }
  return level;
}

// A renumbered level-major: new row r = perm(r) of A, so every level is a contiguous range of
// rows (coalesced on a GPU, streamed on the host) and the sweep runs on level-ordered copies of b
// and x (gathered once per solve). Each row keeps its entries in A's order (columns renumbered)
// and its diagonal position, so the row arithmetic is A's own (split_row_forward & co.).
template <class ExecSpace>
struct LevelLayout {
  using MS = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  Kokkos::View<ordinal_t*, MS> perm;  // level-ordered position -> original row
  Csr<ExecSpace> A;                   // level-ordered rows and columns, diagonal included
  Kokkos::View<offset_t*, MS> diag_pos;  // into A's arrays; no_split where the original row was not split
  Kokkos::View<scalar_t*, MS> winv;      // omega / a_ii, level order
  std::vector<ordinal_t> level_begin;    // host, num_levels + 1 entries
  Kokkos::View<ordinal_t*, MS> level_begin_dev;  // the same on the device (the one-team kernel)
  ordinal_t max_level_rows = 0;
  int num_levels() const { return level_begin.empty() ? 0 : static_cast<int>(level_begin.size()) - 1; }
};

// Levels of A's sweep DAG and the level-ordered copy (see sweep_levels / LevelLayout).
template <class ExecSpace>
LevelLayout<ExecSpace> build_levels(ExecSpace const& space, Csr<ExecSpace> const& A, DiagonalInfo<ExecSpace> const& d,
                                    bool sorted_rows) {
  using MS = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  using Policy = Kokkos::RangePolicy<ExecSpace>;
  const ordinal_t n = A.numRows();
  LevelLayout<ExecSpace> m;
  const auto ug = undirected_graph(space, A, sorted_rows);
  space.fence();
  int nl = 0;
  const std::vector<int> level = sweep_levels(ug, n, nl);

  // Counting sort by level, rows ascending inside a level (deterministic, and local in memory).
  m.level_begin.assign(static_cast<std::size_t>(nl) + 1, 0);
  for (ordinal_t i = 0; i < n; ++i) ++m.level_begin[static_cast<std::size_t>(level[i]) + 1];
  for (int l = 0; l < nl; ++l) {
    m.max_level_rows = std::max(m.max_level_rows, m.level_begin[l + 1]);
    m.level_begin[l + 1] += m.level_begin[l];
  }
  m.perm = Kokkos::View<ordinal_t*, MS>(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::lv_perm"), n);
  auto hperm = Kokkos::create_mirror_view(m.perm);
  {
    std::vector<ordinal_t> fill(m.level_begin.begin(), m.level_begin.end() - 1);
    for (ordinal_t i = 0; i < n; ++i) hperm(fill[static_cast<std::size_t>(level[i])]++) = i;
  }
  Kokkos::deep_copy(m.perm, hperm);
  m.level_begin_dev =
      Kokkos::View<ordinal_t*, MS>(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::lv_begin"), nl + 1);
  auto hbeg = Kokkos::create_mirror_view(m.level_begin_dev);
  for (int l = 0; l <= nl; ++l) hbeg(l) = m.level_begin[static_cast<std::size_t>(l)];
  Kokkos::deep_copy(m.level_begin_dev, hbeg);

  auto perm = m.perm;
  Kokkos::View<ordinal_t*, MS> iperm(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::lv_iperm"), n);
  Kokkos::parallel_for(
      "numlab::gs::lv_iperm", Policy(space, 0, n), KOKKOS_LAMBDA(const ordinal_t r) { iperm(perm(r)) = r; });

  auto rm = A.graph.row_map;
  auto ci = A.graph.entries;
  auto v = A.values;
  auto dpos = d.diag_pos;
  auto winv = d.winv;
  typename Csr<ExecSpace>::row_map_type::non_const_type prm("numlab::gs::lv_row_map", n + 1);
  offset_t nnz = 0;
  Kokkos::parallel_scan(
      "numlab::gs::lv_count", Policy(space, 0, n),
      KOKKOS_LAMBDA(const ordinal_t r, offset_t& upd, const bool final) {
        const ordinal_t i = perm(r);
        upd += rm(i + 1) - rm(i);
        if (final) prm(r + 1) = upd;
      },
      nnz);
  typename Csr<ExecSpace>::index_type::non_const_type pci(
      Kokkos::ViewAllocateWithoutInitializing("numlab::gs::lv_entries"), nnz);
  typename Csr<ExecSpace>::values_type::non_const_type pv(
      Kokkos::ViewAllocateWithoutInitializing("numlab::gs::lv_values"), nnz);
  m.diag_pos = Kokkos::View<offset_t*, MS>(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::lv_diag_pos"), n);
  m.winv = Kokkos::View<scalar_t*, MS>(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::lv_winv"), n);
  auto pdp = m.diag_pos;
  auto pw = m.winv;
  Kokkos::parallel_for(
      "numlab::gs::lv_fill", Policy(space, 0, n), KOKKOS_LAMBDA(const ordinal_t r) {
        const ordinal_t i = perm(r);
        const offset_t beg = rm(i), dst = prm(r);
        for (offset_t k = beg; k < rm(i + 1); ++k) {
          pci(dst + (k - beg)) = iperm(ci(k));
          pv(dst + (k - beg)) = v(k);
        }
        pdp(r) = dpos(i) == no_split ? no_split : dst + (dpos(i) - beg);
        pw(r) = winv(i);
      });
  m.A = Csr<ExecSpace>("numlab::gs::lv_matrix", n, n, nnz, pv, prm, pci);
  space.fence();
  return m;
}

// The rows of one level, on level-ordered b and x: each row's new value by the one-thread
// sweep's own arithmetic (near_row = -1: every neighbour read from x).
template <class ExecSpace>
struct LevelRows {
  using MS = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  Kokkos::View<const offset_t*, MS> row_map;
  Kokkos::View<const ordinal_t*, MS> entries;
  Kokkos::View<const scalar_t*, MS> values;
  Kokkos::View<const offset_t*, MS> diag_pos;
  Kokkos::View<const scalar_t*, MS> winv;
  Kokkos::View<const scalar_t*, Kokkos::LayoutLeft, MS> b;
  Kokkos::View<scalar_t*, Kokkos::LayoutLeft, MS> x;
  scalar_t one_minus_omega;
  bool backward;
  bool split;

  KOKKOS_INLINE_FUNCTION void operator()(const ordinal_t r) const {
    const scalar_t* xx = x.data();
    scalar_t xr;
    if (split && !backward)
      xr = split_row_forward(row_map.data(), entries.data(), values.data(), diag_pos.data(), winv.data(), b.data(),
                             xx, r, one_minus_omega, -1, 0);
    else if (split)
      xr = split_row_backward(row_map.data(), entries.data(), values.data(), diag_pos.data(), winv.data(), b.data(),
                              xx, r, one_minus_omega, -1, 0);
    else
      xr = generic_row(row_map.data(), entries.data(), values.data(), winv.data(), b.data(), xx, r, one_minus_omega);
    x(r) = xr;
  }
};

// All levels in one launch of ONE team: the team's threads share a level's rows, a team barrier
// between levels. No launch or fork-join per level: the host's kernel (OpenMP: one parallel
// region per sweep instead of one per level). On a GPU one team is one SM: level_launch there.
template <class ExecSpace>
struct LevelTeamSweep {
  using MS = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  LevelRows<ExecSpace> rows;
  Kokkos::View<const ordinal_t*, MS> level_begin;
  int num_levels;

  KOKKOS_INLINE_FUNCTION void operator()(member_type const& t) const {
    for (int q = 0; q < num_levels; ++q) {
      const int l = rows.backward ? num_levels - 1 - q : q;
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, level_begin(l), level_begin(l + 1)),
                           [&](const ordinal_t r) { rows(r); });
      t.team_barrier();  // the level's x before the next level reads it
    }
  }
};

// One sweep, one launch per level on `space` (the GPU's kernel; launches on one stream run in
// order, so no fence between levels).
template <class ExecSpace>
void sweep_level_launch(ExecSpace const& space, LevelLayout<ExecSpace> const& m, LevelRows<ExecSpace> const& f) {
  const int nl = m.num_levels();
  for (int q = 0; q < nl; ++q) {
    const int l = f.backward ? nl - 1 - q : q;
    Kokkos::parallel_for("numlab::gs::level", Kokkos::RangePolicy<ExecSpace>(space, m.level_begin[l], m.level_begin[l + 1]),
                         f);
  }
}

// One sweep in one launch of one team of `team_size` threads (see LevelTeamSweep).
template <class ExecSpace>
void sweep_level_team(ExecSpace const& space, LevelLayout<ExecSpace> const& m, LevelRows<ExecSpace> const& f,
                      int team_size) {
  LevelTeamSweep<ExecSpace> t{f, m.level_begin_dev, m.num_levels()};
  Kokkos::parallel_for("numlab::gs::level_team", Kokkos::TeamPolicy<ExecSpace>(space, 1, team_size), t);
}

// Threads of the one team: every host thread, up to the largest team the backend allows (OpenMP
// caps teams at 64 and aborts above); on a GPU the largest block the kernel allows.
template <class ExecSpace>
int level_team_size(ExecSpace const& space, LevelLayout<ExecSpace> const& m, LevelRows<ExecSpace> const& f) {
  LevelTeamSweep<ExecSpace> t{f, m.level_begin_dev, m.num_levels()};
  int const most = Kokkos::TeamPolicy<ExecSpace>(space, 1, 1).team_size_max(t, Kokkos::ParallelForTag());
  if constexpr (Kokkos::SpaceAccessibility<ExecSpace, Kokkos::HostSpace>::accessible) {
    return std::max(1, std::min(static_cast<int>(space.concurrency()), most));
  } else {
    return most;
  }
}

}  // namespace numlab::linsolve::detail
