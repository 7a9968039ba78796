// SPDX-License-Identifier: MIT
// Row interchanges of one LU panel as a gather plan, for GPUs. LAPACK's dlaswp applies a panel's
// nb interchanges one after the other, each column on its own work item: nb dependent memory round
// trips per column (the next swap may read a row the last one wrote), about 0.5 ms per panel of
// 512 at n = 16384 on an H200, 31 ms of the factorisation with the deferred swaps of L. The net
// effect of the nb swaps is a permutation of at most 2 nb rows; one team works it out once, in
// team scratch, and then every column moves those rows at once: all loads, a barrier, all stores.
#pragma once

#include <Kokkos_Core.hpp>

#include <algorithm>

namespace numlab::linsolve::detail {

// The plan of a panel: after the interchanges piv[k0..k1) (in order), row pos[e] holds what row
// src[e] held before, for e < count; all other rows are unchanged. pos ascending within [k0, k1),
// then the rows below the panel in no particular order.
template <class MS>
struct SwapPlans {
  Kokkos::View<int**, Kokkos::LayoutRight, MS> pos, src;  // [panel][2 nb]
  Kokkos::View<int*, MS> count;                            // [panel]
  int nb = 0;
  SwapPlans() = default;
  SwapPlans(int panels, int nb_)
      : pos("numlab::lu::plan_pos", panels, 2 * nb_), src("numlab::lu::plan_src", panels, 2 * nb_),
        count("numlab::lu::plan_count", panels), nb(nb_) {}
};

// The widest panel that has a plan: its scratch holds nb positions and a hash of 4 nb rows.
inline constexpr int swap_plan_max_nb = 1024;

// Works out plan `panel` of the interchanges piv[k0..k1) (k1 - k0 <= plans.nb). One team, one
// thread walks the swaps: positions inside the panel in an array, rows below it in a hash (open
// addressing, 4 nb slots), all in team scratch: nb short steps without a memory round trip.
template <class ExecSpace, class PivView>
void swap_plan_build(ExecSpace const& space, SwapPlans<typename ExecSpace::memory_space> const& plans, int panel,
                     PivView const& piv, int k0, int k1) {
  using scratch_int = Kokkos::View<int*, typename ExecSpace::scratch_memory_space, Kokkos::MemoryUnmanaged>;
  const int w = k1 - k0;
  int hsize = 1;
  while (hsize < 4 * std::max(1, w)) hsize *= 2;
  const std::size_t bytes = 3 * scratch_int::shmem_size(w) + 2 * scratch_int::shmem_size(hsize);
  auto pos = Kokkos::subview(plans.pos, panel, Kokkos::ALL());
  auto src = Kokkos::subview(plans.src, panel, Kokkos::ALL());
  auto count = Kokkos::subview(plans.count, panel);
  using policy_t = Kokkos::TeamPolicy<ExecSpace>;
  using member_t = typename policy_t::member_type;
  Kokkos::parallel_for(
      "numlab::lu::swap_plan", policy_t(space, 1, Kokkos::AUTO).set_scratch_size(0, Kokkos::PerTeam(bytes)),
      KOKKOS_LAMBDA(member_t const& t) {
        scratch_int p(t.team_scratch(0), w);      // the pivots
        scratch_int cur(t.team_scratch(0), w);    // what row k0 + i holds now
        scratch_int hkey(t.team_scratch(0), hsize);  // rows below the panel touched so far (-1: free)
        scratch_int hval(t.team_scratch(0), hsize);  // what they hold now
        scratch_int used(t.team_scratch(0), w);      // the slots taken, in order
        Kokkos::parallel_for(Kokkos::TeamThreadRange(t, w), [&](const int i) {
          p(i) = piv(k0 + i);
          cur(i) = k0 + i;
        });
        Kokkos::parallel_for(Kokkos::TeamThreadRange(t, hsize), [&](const int i) { hkey(i) = -1; });
        t.team_barrier();
        Kokkos::single(Kokkos::PerTeam(t), [&]() {
          int nused = 0;
          for (int i = 0; i < w; ++i) {
            const int r = p(i);
            if (r == k0 + i) continue;
            const int a = cur(i);
            if (r < k1) {  // a row of the panel (r > k0 + i: partial pivoting looks down only)
              cur(i) = cur(r - k0);
              cur(r - k0) = a;
              continue;
            }
            int h = static_cast<int>((static_cast<unsigned>(r) * 2654435761u) & static_cast<unsigned>(hsize - 1));
            while (hkey(h) != -1 && hkey(h) != r) h = (h + 1) & (hsize - 1);
            if (hkey(h) == -1) {
              hkey(h) = r;
              hval(h) = r;
              used(nused++) = h;
            }
            cur(i) = hval(h);
            hval(h) = a;
          }
          int e = 0;
          for (int i = 0; i < w; ++i)
            if (cur(i) != k0 + i) {
              pos(e) = k0 + i;
              src(e) = cur(i);
              ++e;
            }
          for (int u = 0; u < nused; ++u) {
            const int h = used(u);
            if (hval(h) != hkey(h)) {
              pos(e) = hkey(h);
              src(e) = hval(h);
              ++e;
            }
          }
          count() = e;
        });
      });
}

// Applies plan `panel` to columns [c0, c1) of A: each team takes a few columns; per column its
// threads load all the plan's rows into team scratch, then, after a barrier, store them moved.
template <class ExecSpace, class AV>
void swap_plan_apply(ExecSpace const& space, SwapPlans<typename ExecSpace::memory_space> const& plans, int panel,
                     AV const& A, int c0, int c1) {
  if (c1 <= c0) return;
  using T = typename AV::non_const_value_type;
  using scratch_int = Kokkos::View<int*, typename ExecSpace::scratch_memory_space, Kokkos::MemoryUnmanaged>;
  using scratch_t = Kokkos::View<T*, typename ExecSpace::scratch_memory_space, Kokkos::MemoryUnmanaged>;
  using policy_t = Kokkos::TeamPolicy<ExecSpace>;
  using member_t = typename policy_t::member_type;
  constexpr bool host = Kokkos::SpaceAccessibility<ExecSpace, Kokkos::HostSpace>::accessible;
  const int cols_per_team = host ? 64 : 8;
  const int team = host ? 1 : 256;
  const int cap = 2 * plans.nb;
  const std::size_t bytes = 2 * scratch_int::shmem_size(cap) + scratch_t::shmem_size(cap);
  auto pos = Kokkos::subview(plans.pos, panel, Kokkos::ALL());
  auto src = Kokkos::subview(plans.src, panel, Kokkos::ALL());
  auto count = Kokkos::subview(plans.count, panel);
  const int teams = (c1 - c0 + cols_per_team - 1) / cols_per_team;
  Kokkos::parallel_for(
      "numlab::lu::swap_plan_apply", policy_t(space, teams, team).set_scratch_size(0, Kokkos::PerTeam(bytes)),
      KOKKOS_LAMBDA(member_t const& t) {
        const int m = count();
        scratch_int ps(t.team_scratch(0), cap), ss(t.team_scratch(0), cap);
        scratch_t v(t.team_scratch(0), cap);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(t, m), [&](const int e) {
          ps(e) = pos(e);
          ss(e) = src(e);
        });
        t.team_barrier();
        const int j0 = c0 + t.league_rank() * cols_per_team;
        const int j1 = c1 - j0 > cols_per_team ? j0 + cols_per_team : c1;
        for (int j = j0; j < j1; ++j) {
          Kokkos::parallel_for(Kokkos::TeamThreadRange(t, m), [&](const int e) { v(e) = A(ss(e), j); });
          t.team_barrier();
          Kokkos::parallel_for(Kokkos::TeamThreadRange(t, m), [&](const int e) { A(ps(e), j) = v(e); });
          t.team_barrier();
        }
      });
}

}  // namespace numlab::linsolve::detail
