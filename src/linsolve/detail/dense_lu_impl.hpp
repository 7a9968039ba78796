// SPDX-License-Identifier: MIT
// Building blocks of the dense LU in dense_lu.hpp: BLAS-3 wrappers over the Kokkos Kernels 3.4 / 4.x
// API split, row interchanges, the recursive panel and the numerical-singularity test.
#pragma once

#include "core/kokkos_ext/compat.hpp"
#include "core/options.hpp"
#include "linsolve/csr.hpp"
#include "linsolve/detail/lu_pivot.hpp"
#include "linsolve/detail/lu_tournament.hpp"

#if defined(KOKKOS_ENABLE_OPENMP)
#include <omp.h>
#endif
#include <KokkosBlas3_gemm.hpp>
#include <KokkosBlas3_trsm.hpp>
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <limits>
#include <memory>
#include <type_traits>

namespace numlab::linsolve::detail {

using range_t = Kokkos::pair<int, int>;

// Subviews of a LayoutLeft matrix must stay LayoutLeft (leading dimension = stride(1)), or
// Kokkos Kernels would fall back from the BLAS TPL (OpenBLAS / cuBLAS) to its generic kernels.
template <class View>
inline constexpr bool is_layout_left_v = std::is_same_v<typename View::array_layout, Kokkos::LayoutLeft>;

// C := alpha * A * B + beta * C. Kokkos Kernels 3.4 has no execution-space overload (host TPL
// only, runs in program order), hence the fence there; 4.x enqueues on `space`.
template <class ExecSpace, class AV, class BV, class CV>
void gemm_nn(ExecSpace const& space, double alpha, AV const& A, BV const& B, double beta, CV const& C) {
  static_assert(is_layout_left_v<AV> && is_layout_left_v<BV> && is_layout_left_v<CV>);
  if (C.extent(0) == 0 || C.extent(1) == 0) return;
#if NUMLAB_KOKKOS4
  KokkosBlas::gemm(space, "N", "N", alpha, A, B, beta, C);
#else
  space.fence();
  KokkosBlas::gemm("N", "N", alpha, A, B, beta, C);
#endif
}

// B := op(T)^{-1} B from the left; uplo "L"/"U", diag "U" (unit) / "N".
template <class ExecSpace, class TV, class BV>
void trsm_left(ExecSpace const& space, const char* uplo, const char* diag, TV const& T, BV const& B) {
  static_assert(is_layout_left_v<TV> && is_layout_left_v<BV>);
  if (B.extent(0) == 0 || B.extent(1) == 0) return;
#if NUMLAB_KOKKOS4
  KokkosBlas::trsm(space, "L", uplo, "N", diag, 1.0, T, B);
#else
  space.fence();
  KokkosBlas::trsm("L", uplo, "N", diag, 1.0, T, B);
#endif
}

// B := B op(T)^{-1} from the right; uplo "L"/"U", diag "U" (unit) / "N".
template <class ExecSpace, class TV, class BV>
void trsm_right(ExecSpace const& space, const char* uplo, const char* diag, TV const& T, BV const& B) {
  static_assert(is_layout_left_v<TV> && is_layout_left_v<BV>);
  if (B.extent(0) == 0 || B.extent(1) == 0) return;
#if NUMLAB_KOKKOS4
  KokkosBlas::trsm(space, "R", uplo, "N", diag, 1.0, T, B);
#else
  space.fence();
  KokkosBlas::trsm("R", uplo, "N", diag, 1.0, T, B);
#endif
}

// Applies the interchanges piv[k0..k1) in order to columns [c0, c1) of A (LAPACK dlaswp).
// One column per work item: its swaps are sequential, the columns independent.
template <class ExecSpace, class AV, class PivView>
void laswp(ExecSpace const& space, AV const& A, PivView const& piv, int k0, int k1, int c0, int c1) {
  if (c1 <= c0 || k1 <= k0) return;
  Kokkos::parallel_for(
      "numlab::lu::laswp", Kokkos::RangePolicy<ExecSpace>(space, c0, c1), KOKKOS_LAMBDA(const int j) {
        for (int k = k0; k < k1; ++k) {
          const int p = piv(k);
          if (p != k) {
            const auto t = A(k, j);
            A(k, j) = A(p, j);
            A(p, j) = t;
          }
        }
      });
}

// Brings the interchanges of later panels to the L columns of earlier ones, deferred to the end
// (no step reads those columns again), so each column streams through memory once instead of
// once per panel: column j (in panel j/nb) gets piv[(j/nb+1)*nb .. n).
template <class ExecSpace, class AV, class PivView>
void laswp_deferred_lower(ExecSpace const& space, AV const& A, PivView const& piv, int nb) {
  const int n = static_cast<int>(A.extent(0));
  const int last_panel = (n - 1) / nb * nb;  // its columns have nothing left to apply
  if (last_panel == 0) return;
  Kokkos::parallel_for(
      "numlab::lu::laswp_lower", Kokkos::RangePolicy<ExecSpace>(space, 0, last_panel), KOKKOS_LAMBDA(const int j) {
        for (int k = (j / nb + 1) * nb; k < n; ++k) {
          const int p = piv(k);
          if (p != k) {
            const auto t = A(k, j);
            A(k, j) = A(p, j);
            A(p, j) = t;
          }
        }
      });
}

// ----------------------------------------------------------------------------- panel kernels --
//
// How the narrow leaf panels of the recursion are factored (LAPACK dgetf2's job). The recursion
// puts nearly all flops into trsm/gemm; what is left is latency: n pivot steps, each a search over
// the column, an interchange, the multipliers and a rank-1 update of the leaf.
//   per_column   three launches per column (pivot search, swap, eliminate); the leaf swaps its
//                own columns, the recursion applies the interchanges to the rest by laswp.
//   fused        ONE launch per column: many teams over the rows each apply the previous column's
//                elimination to their rows and search the current column; the last team to finish
//                (atomic ticket after a memory fence) reduces the teams' candidates, records the
//                pivot and swaps the two rows across the whole outer panel, so the recursion needs
//                no laswp. For GPUs: a step costs a launch (~4-5 us), not a host round trip, and the
//                tall leaf is spread over many SMs.
//   team         ONE launch per leaf: a single team loops over the leaf's columns with a team
//                reduction for the pivot and team barriers between steps; swaps across the outer
//                panel as `fused`. Best where launches are dear against the leaf's traffic (short
//                leaves on a GPU; the host, whose single-thread team avoids a fork-join per step).
//   persistent   ONE launch per leaf over many teams, all resident at once: each team keeps its
//                rows of the leaf in team scratch for the whole leaf, and the teams meet at a
//                grid barrier per column (an arrival counter in global memory) where every team
//                reads all teams' pivot candidates and the winning row. A step costs a barrier
//                (a few L2 round trips), not a launch, and the leaf never goes back to memory
//                between steps. Leaves up to persistent_max_rows (all teams must fit on the
//                device at once); `fused` above that.
//   tournament   not partial pivoting: the pivot rows by a reduction tree over row groups (CALU,
//                detail/lu_tournament.hpp); a few launches per leaf, no per-column step across the
//                whole column. Other pivots than LAPACK's (|L| may exceed 1), for the mixed-precision
//                solver, whose refinement answers for the factors, or by choice.
enum class LuPanelKernel { automatic, per_column, fused, team, persistent, tournament };

}  // namespace numlab::linsolve::detail

namespace numlab {
template <>
struct EnumNames<linsolve::detail::LuPanelKernel> {
  static constexpr EnumName<linsolve::detail::LuPanelKernel> values[] = {
      {linsolve::detail::LuPanelKernel::automatic, "auto",
       "host: team; GPU: persistent, team below 1024 rows, fused above the persistent kernel's rows"},
      {linsolve::detail::LuPanelKernel::per_column, "per_column", "3 launches per column"},
      {linsolve::detail::LuPanelKernel::fused, "fused", "1 launch per column, last-team pivot"},
      {linsolve::detail::LuPanelKernel::team, "team", "1 team launch per leaf"},
      {linsolve::detail::LuPanelKernel::persistent, "persistent",
       "1 launch per leaf, rows in team scratch, a grid barrier per column"},
      {linsolve::detail::LuPanelKernel::tournament, "tournament",
       "tournament pivoting (CALU): pivot rows by a reduction tree over row groups, not partial pivoting's"}};
};
}  // namespace numlab

namespace numlab::linsolve::detail {

inline const char* to_string(LuPanelKernel k) { return enum_name(k); }

// Whether a team launch on `space` may run its teams one after another: Kokkos 4's OpenMP
// backend does so when called inside an OpenMP parallel region (3.4 refuses the launch), where
// the persistent kernel's first team would wait forever for the others' stamps.
template <class ExecSpace>
bool teams_may_run_serially(ExecSpace const&) {
#if defined(KOKKOS_ENABLE_OPENMP)
  if constexpr (std::is_same_v<ExecSpace, Kokkos::OpenMP>) return omp_get_level() > 0;
#endif
  return false;
}

// The reduction result of the per_column pivot search stays in device memory, so a column costs
// three kernel launches and no host round trip.
template <class ExecSpace>
using PivotReducer = Kokkos::MaxLoc<double, int, typename ExecSpace::memory_space>;
template <class ExecSpace>
using PivotSlot = typename PivotReducer<ExecSpace>::result_view_type;

// The best of `count` candidates that other teams of the same launch published (volatile loads:
// their stores are in L2, possibly not in this SM's L1), by PivotMaxFirst's rule.
template <class Member>
KOKKOS_INLINE_FUNCTION PivotCandidate team_best_of(Member const& t, const PivotCandidate* slots, int count) {
  PivotCandidate g;
  Kokkos::parallel_reduce(
      Kokkos::TeamThreadRange(t, count),
      [&](const int q, PivotCandidate& m) {
        const volatile PivotCandidate* pc = slots + q;
        const double v = pc->val;
        const int l = pc->loc;
        if (PivotMaxFirst<>::better(v, l, m.val, m.loc)) {
          m.val = v;
          m.loc = l;
        }
      },
      PivotMaxFirst<>(g));
  return g;
}

// One row's share of a dgetf2 step, shared by the fused and team kernels: row i (>= c) takes its
// multiplier for column c-1 (pivot row c-1 already in place), updates its entries in columns
// c..k2-1 and offers |a_ic| as a pivot candidate (c < k2). The update goes in chunks whose loads
// all issue before any store: written as a plain loop, every load would wait for the previous
// column's store (the compiler cannot rule out aliasing), one L2 round trip per column on a GPU.
inline constexpr int lu_row_chunk = 16;

template <bool Gpu, class AV>
KOKKOS_INLINE_FUNCTION void leaf_row_step(AV const& A, int i, int c, int k0, int k2, typename AV::non_const_value_type d, PivotCandidate& m) {
  using T = typename AV::non_const_value_type;
  T aic = 0;  // the updated a_ic
  const bool eliminate = c > k0 && d != T(0);  // a zero pivot is skipped: no NaN, the singularity test reports it
  if (!Gpu) {  // host: the plain loop (caches and out-of-order cores hide the latency)
    if (eliminate) {
      const T l = A(i, c - 1) / d;
      A(i, c - 1) = l;
      for (int j = c; j < k2; ++j) A(i, j) -= l * A(c - 1, j);
    }
    if (c < k2) aic = A(i, c);
  } else if (eliminate) {
    const T l = A(i, c - 1) / d;
    A(i, c - 1) = l;
    for (int j0 = c; j0 < k2; j0 += lu_row_chunk) {
      T u[lu_row_chunk], a[lu_row_chunk];
      for (int q = 0; q < lu_row_chunk; ++q) {
        const int j = j0 + q;
        u[q] = j < k2 ? A(c - 1, j) : T(0);
        a[q] = j < k2 ? A(i, j) : T(0);
      }
      for (int q = 0; q < lu_row_chunk; ++q) {
        const int j = j0 + q;
        a[q] -= l * u[q];
        if (j < k2) A(i, j) = a[q];
      }
      if (j0 == c) aic = a[0];
    }
  } else if (c < k2) {
    aic = A(i, c);
  }
  if (c < k2) {
    const double v = kx::abs(aic);
    if (v > m.val || (v == m.val && i < m.loc)) {
      m.val = v;
      m.loc = i;
    }
  }
}

// Swaps rows c and p of A across columns [s0, s1), spread over the team's threads, in groups whose
// loads all issue before the stores (one memory round trip per group, not per column). Volatile
// accesses: in the fused kernel the rows were written by other teams of the same launch, whose
// stores are visible in L2 but possibly not in this SM's (incoherent) L1. Host: a plain loop
// (coherent caches).
template <bool Gpu, class Member, class AV>
KOKKOS_INLINE_FUNCTION void team_swap_rows(Member const& t, AV const& A, int c, int p, int s0, int s1) {
  if (!Gpu) {
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, s0, s1), [&](const int j) {
      const auto x = A(c, j);
      A(c, j) = A(p, j);
      A(p, j) = x;
    });
    return;
  }
  constexpr int group = 4;
  const int tr = t.team_rank();
  const int ts = t.team_size();
  for (int j0 = s0 + tr; j0 < s1; j0 += group * ts) {
    using T = typename AV::non_const_value_type;
    T x[group] = {}, y[group] = {};
    for (int q = 0; q < group; ++q) {
      const int j = j0 + q * ts;
      if (j < s1) {
        x[q] = *static_cast<volatile T*>(&A(c, j));
        y[q] = *static_cast<volatile T*>(&A(p, j));
      }
    }
    for (int q = 0; q < group; ++q) {
      const int j = j0 + q * ts;
      if (j < s1) {
        *static_cast<volatile T*>(&A(c, j)) = y[q];
        *static_cast<volatile T*>(&A(p, j)) = x[q];
      }
    }
  }
}

// The fused kernel, launched once per column c of the leaf [k0, k2) and once more with c == k2
// (the last column's multipliers only). Team q owns rows [c + q*rows_per_team, ...) of [c, n).
template <class ExecSpace, class AV, class PivView, bool Gpu = !is_host_space_v<ExecSpace>>
struct LeafFusedStep {
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  static constexpr bool gpu = Gpu;
  using MS = typename ExecSpace::memory_space;
  AV A;
  PivView piv;
  Kokkos::View<PivotCandidate*, MS> partial;  // one candidate per team
  Kokkos::View<int, MS> ticket;               // teams done; reset to 0 by the last one
  int n, k0, k2, c, s0, s1, rows_per_team;

  KOKKOS_INLINE_FUNCTION void operator()(member_type const& t) const {
    const int lo = c + t.league_rank() * rows_per_team;
    const int hi = n - lo > rows_per_team ? lo + rows_per_team : n;
    const typename AV::non_const_value_type d = c > k0 ? A(c - 1, c - 1) : 1;
    PivotCandidate best;
    Kokkos::parallel_reduce(
        Kokkos::TeamThreadRange(t, lo, hi),
        [&](const int i, PivotCandidate& m) { leaf_row_step<gpu>(A, i, c, k0, k2, d, m); },
        PivotMaxFirst<>(best));
    if (c >= k2) return;  // the closing launch: multipliers of the last column only

    // Publish this team's candidate; the last team to arrive finishes the step.
    Kokkos::memory_fence();  // every thread's row updates, before the ticket
    t.team_barrier();
    int last = 0;
    Kokkos::single(
        Kokkos::PerTeam(t),
        [&](int& is_last) {
          partial(t.league_rank()) = best;
          Kokkos::memory_fence();
          is_last = Kokkos::atomic_fetch_add(&ticket(), 1) == t.league_size() - 1 ? 1 : 0;
        },
        last);
    if (!last) return;
    Kokkos::memory_fence();
    const PivotCandidate g = team_best_of(t, partial.data(), t.league_size());
    const int p = (g.loc >= c && g.loc < n) ? g.loc : c;  // an all-NaN column: no interchange
    if (p != c) team_swap_rows<gpu>(t, A, c, p, s0, s1);
    Kokkos::single(Kokkos::PerTeam(t), [&]() {
      piv(c) = p;
      ticket() = 0;  // ready for the next launch (same stream: ordered)
    });
  }
};

// The team kernel: one team factors the whole leaf [k0, k2) over rows [k0, n).
template <class ExecSpace, class AV, class PivView, bool Gpu = !is_host_space_v<ExecSpace>>
struct LeafTeam {
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  static constexpr bool gpu = Gpu;
  AV A;
  PivView piv;
  int n, k0, k2, s0, s1;

  KOKKOS_INLINE_FUNCTION void operator()(member_type const& t) const {
    for (int c = k0; c <= k2; ++c) {
      const typename AV::non_const_value_type d = c > k0 ? A(c - 1, c - 1) : 1;
      PivotCandidate best;
      Kokkos::parallel_reduce(
          Kokkos::TeamThreadRange(t, c, n),
          [&](const int i, PivotCandidate& m) { leaf_row_step<gpu>(A, i, c, k0, k2, d, m); },
          PivotMaxFirst<>(best));
      if (c >= k2) break;
      t.team_barrier();  // all rows updated (the reduction's result may arrive before its barrier)
      const int p = (best.loc >= c && best.loc < n) ? best.loc : c;
      if (p != c) team_swap_rows<gpu>(t, A, c, p, s0, s1);
      Kokkos::single(Kokkos::PerTeam(t), [&]() { piv(c) = p; });
      t.team_barrier();  // the pivot row in place before the next step reads it
    }
  }
};

// A team's published pivot candidate of one step, stamped with the step: a reader that sees the
// stamp sees the value and row with it, so the stamps are the grid barrier and the candidates
// arrive with it (no counter, no release word, no second read).
struct alignas(16) PivotStamp {
  double val;
  int loc;
  unsigned step;
};

// Publishes (val, loc) for `step`, after the caller's fence (which orders the candidate's row
// before it). On CUDA one 16-byte store, read by one 16-byte load: we rely on a reader seeing all
// of the slot or none of it. PTX's memory model does not promise that for vector accesses (it
// treats them as two 8-byte ones); aligned 16-byte accesses are single transactions on sm_70 and
// later, and CUB's single-pass scan tile descriptors rely on the same. A torn read would let the
// teams disagree on the pivot: the factorisation's check (test_dense_lu on the GPU, lu_bench
// mode=check) would show it.
KOKKOS_INLINE_FUNCTION void publish_stamp(PivotStamp* s, double val, int loc, unsigned step) {
#if defined(__CUDA_ARCH__)
  const unsigned long long lo = static_cast<unsigned long long>(__double_as_longlong(val));
  const unsigned long long hi = static_cast<unsigned long long>(static_cast<unsigned>(loc)) |
                                (static_cast<unsigned long long>(step) << 32);
  asm volatile("st.relaxed.gpu.global.v2.b64 [%0], {%1, %2};" ::"l"(s), "l"(lo), "l"(hi) : "memory");
#else
  *static_cast<volatile double*>(&s->val) = val;
  *static_cast<volatile int*>(&s->loc) = loc;
  Kokkos::memory_fence();
  *static_cast<volatile unsigned*>(&s->step) = step;
#endif
}

// Reads the slot: true (and its candidate) once it holds `step`; an acquire (the publisher's rows
// are visible to this thread's later loads, and through a team barrier to its team's).
KOKKOS_INLINE_FUNCTION bool read_stamp(const PivotStamp* s, unsigned step, double& val, int& loc) {
#if defined(__CUDA_ARCH__)
  unsigned long long lo, hi;
  asm volatile("ld.acquire.gpu.global.v2.b64 {%0, %1}, [%2];" : "=l"(lo), "=l"(hi) : "l"(s) : "memory");
  if (static_cast<unsigned>(hi >> 32) != step) return false;
  val = __longlong_as_double(static_cast<long long>(lo));
  loc = static_cast<int>(static_cast<unsigned>(hi & 0xffffffffull));
  return true;
#else
  if (*static_cast<const volatile unsigned*>(&s->step) != step) return false;
  Kokkos::memory_fence();
  val = *static_cast<const volatile double*>(&s->val);
  loc = *static_cast<const volatile int*>(&s->loc);
  return true;
#endif
}

// The persistent kernel: ONE launch for the leaf [k0, k0 + w) over rows [k0, n). Team q owns rows
// [k0 + q*rows, k0 + (q+1)*rows) and holds them, the leaf's columns only, in team scratch
// (column-major: S[j*rows + r], so consecutive threads touch consecutive words). Per column c:
//   1. every team finds its candidate (largest |a_ic|, first row on ties), writes a copy of that
//      row (the owner of row c also writes row c), fences and publishes the candidate in its
//      slot, stamped with the step;
//   2. every team polls all the slots until each holds the step (the grid barrier: a team
//      passes only when every team has published) and reduces the candidates it read, by the
//      same rule, so all agree on p; one round trip carries both the barrier and the candidates;
//   3. every team reads the pivot row and the old row c, swaps them into its rows and eliminates
//      its rows below c.
// The slots and rows are double-buffered by the parity of c: a team writes those of step c+2
// only after passing barrier c+1, which every team reaches only once it has finished reading
// those of step c. Team 0 records piv(c). After the last step each team applies the leaf's w
// interchanges to its share of the columns outside the leaf at once, as one gather of the at most
// 2w rows they permute (applied per step, each swap's loads were a round trip to memory in every
// step's critical path). All teams must be
// able to run at once: the launcher keeps the league within one team per SM (GPU) or per thread
// of the caller's space (host), else it runs the fused kernel. On a GPU, teams that wait for a
// co-running kernel's blocks to retire spin until they are all placed.
template <class ExecSpace, class AV, class PivView, bool Gpu = !is_host_space_v<ExecSpace>>
struct LeafPersistent {
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  using T = typename AV::non_const_value_type;
  using MS = typename ExecSpace::memory_space;
  using scratch_view = Kokkos::View<T*, typename ExecSpace::scratch_memory_space, Kokkos::MemoryUnmanaged>;
  using index_scratch = Kokkos::View<int*, typename ExecSpace::scratch_memory_space, Kokkos::MemoryUnmanaged>;
  static constexpr bool gpu = Gpu;
  AV A;
  PivView piv;
  Kokkos::View<PivotStamp**, Kokkos::LayoutRight, MS> slot;  // [2][teams]
  Kokkos::View<double***, Kokkos::LayoutRight, MS> cand_row;  // [2][teams][w]
  Kokkos::View<double**, Kokkos::LayoutRight, MS> row_c;      // [2][w]
  unsigned step_base;  // steps before this launch (monotonic within one lu_factor: the stamps)
  int n, k0, w, s0, s1, rows;

  // The rows (at least 2: S is the gather's staging area afterwards, 2w entries), the pivot row,
  // the old row c; the steps' pivots and the gather's sources.
  static std::size_t scratch_bytes(int rows, int w) {
    return scratch_view::shmem_size(static_cast<std::size_t>(rows > 2 ? rows : 2) * w) +
           2 * scratch_view::shmem_size(w) + index_scratch::shmem_size(w) + index_scratch::shmem_size(2 * w);
  }

  // Destination k of the leaf's gather: the rows its interchanges touch, k0 + k (k < w) and the
  // pivots P(k - w); a row listed twice moves twice, the same value.
  KOKKOS_INLINE_FUNCTION int gather_dst(index_scratch const& P, int k) const { return k < w ? k0 + k : P(k - w); }

  // The leaf's interchanges (pivots P) on this team's share of the columns outside the leaf
  // ([s0, k0) and [k0 + w, s1)): each column belongs to one team. The w swaps permute at most 2w
  // rows: destination row d takes the old row found by undoing the swaps from the last (one thread
  // per destination, in parallel); the entries are gathered through the staging area S and
  // scattered, a batch of columns at a time.
  KOKKOS_INLINE_FUNCTION void outer_gather(member_type const& t, scratch_view const& S, std::size_t cap,
                                           index_scratch const& P, index_scratch const& src) const {
    const int cnt = 2 * w;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, cnt), [&](const int k) {
      int x = gather_dst(P, k);
      for (int c = w - 1; c >= 0; --c) x = x == k0 + c ? P(c) : x == P(c) ? k0 + c : x;
      src(k) = x;
    });
    t.team_barrier();
    const int left = k0 - s0;
    const int nout = left + (s1 - k0 - w);
    const int teams = t.league_size();
    const int per = (nout + teams - 1) / teams;
    const int o0 = t.league_rank() * per < nout ? t.league_rank() * per : nout;
    const int o1 = nout - o0 > per ? o0 + per : nout;
    const int batch = static_cast<int>(cap / static_cast<std::size_t>(cnt));  // columns per pass (>= 1)
    for (int b0 = o0; b0 < o1; b0 += batch) {
      const int items = ((o1 - b0 < batch) ? o1 - b0 : batch) * cnt;
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, items), [&](const int e) {
        const int o = b0 + e / cnt;
        S(e) = A(src(e % cnt), o < left ? s0 + o : k0 + w + (o - left));
      });
      t.team_barrier();
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, items), [&](const int e) {
        const int o = b0 + e / cnt, k = e % cnt;
        if (src(k) != gather_dst(P, k)) A(gather_dst(P, k), o < left ? s0 + o : k0 + w + (o - left)) = S(e);
      });
      t.team_barrier();
    }
  }

  KOKKOS_INLINE_FUNCTION void operator()(member_type const& t) const {
    const int q = t.league_rank();
    const int teams = t.league_size();
    const int me = t.team_rank(), nt = t.team_size();
    const int r0 = k0 + q * rows;
    const int r1 = n - r0 > rows ? r0 + rows : n;
    const int m = r1 > r0 ? r1 - r0 : 0;
    const std::size_t s_size = static_cast<std::size_t>(rows > 2 ? rows : 2) * w;
    scratch_view S(t.team_scratch(0), s_size);
    scratch_view U(t.team_scratch(0), w);  // the pivot row of the step
    scratch_view V(t.team_scratch(0), w);  // the old row c (goes to row p)
    index_scratch P(t.team_scratch(0), w);  // the steps' pivots
    index_scratch src(t.team_scratch(0), 2 * w);  // the gather's sources
    // The team's rows into scratch, lu_row_chunk loads in flight per thread (one at a time, each
    // waited for memory before its store: a sixth of the launch on an H200).
    const int mw = m * w;
    for (int e0 = me; e0 < mw; e0 += lu_row_chunk * nt) {
      T a[lu_row_chunk];
      for (int k = 0; k < lu_row_chunk; ++k) {
        const int e = e0 + k * nt, j = e / (m > 0 ? m : 1);
        a[k] = e < mw ? A(r0 + (e - j * m), k0 + j) : T(0);
      }
      for (int k = 0; k < lu_row_chunk; ++k) {
        const int e = e0 + k * nt, j = e / (m > 0 ? m : 1);
        if (e < mw) S(j * rows + (e - j * m)) = a[k];
      }
    }
    t.team_barrier();
    // Row r of the team is always thread r mod team size's (pivot search and elimination alike),
    // so a step's elimination and the next step's search need no barrier between them.
    for (int c = 0; c < w; ++c) {
      const int gc = k0 + c;
      const int par = c & 1;
      const unsigned step = step_base + static_cast<unsigned>(c + 1);
      // 1. This team's candidate: each thread folds its rows, one team reduction.
      PivotCandidate mine, best;
      mine.val = -1.0;
      mine.loc = INT_MAX;
      const int rc0 = gc > r0 ? gc - r0 : 0;  // this team's rows at or below row gc
      for (int r = me; r < m; r += nt) {
        if (r < rc0) continue;
        const double v = kx::abs(S(c * rows + r));
        if (PivotMaxFirst<>::better(v, r0 + r, mine.val, mine.loc)) {
          mine.val = v;
          mine.loc = r0 + r;
        }
      }
      t.team_reduce(PivotMaxFirst<>(best), mine);
      const bool own_best = best.loc >= r0 && best.loc < r1;
      const bool own_c = gc >= r0 && gc < r1;
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, w), [&](const int j) {
        if (own_best) cand_row(par, q, j) = S(j * rows + (best.loc - r0));
        if (own_c) row_c(par, j) = S(j * rows + (gc - r0));
      });
      t.team_barrier();
      Kokkos::single(Kokkos::PerTeam(t), [&]() {
        Kokkos::memory_fence();  // the rows above, written by the whole team, before the stamp
        publish_stamp(&slot(par, q), best.val, best.loc, step);
      });
      // 2. The barrier and the candidates in one: poll this thread's slots until they hold the step.
      PivotCandidate seen, g;
      seen.val = -1.0;
      seen.loc = INT_MAX;
      for (int o = me; o < teams; o += nt) {
        double v;
        int l;
        while (!read_stamp(&slot(par, o), step, v, l)) {
        }
        if (PivotMaxFirst<>::better(v, l, seen.val, seen.loc)) {
          seen.val = v;
          seen.loc = l;
        }
      }
      t.team_reduce(PivotMaxFirst<>(g), seen);  // (read_stamp acquires: the rows come after their stamps)
      const int p = (g.loc >= gc && g.loc < n) ? g.loc : gc;  // an all-NaN column: no interchange
      const int owner = (p - k0) / rows;
      // 3. The pivot row and the old row c (volatile: written by other SMs since this one cached them).
      Kokkos::parallel_for(Kokkos::TeamThreadRange(t, w), [&](const int j) {
        const T old_c = static_cast<T>(*static_cast<volatile const double*>(&row_c(par, j)));
        V(j) = old_c;
        U(j) = p == gc ? old_c : static_cast<T>(*static_cast<volatile const double*>(&cand_row(par, owner, j)));
      });
      t.team_barrier();
      if (p != gc) {
        Kokkos::parallel_for(Kokkos::TeamThreadRange(t, w), [&](const int j) {
          if (p >= r0 && p < r1) S(j * rows + (p - r0)) = V(j);
          if (own_c) S(j * rows + (gc - r0)) = U(j);
        });
        t.team_barrier();
      }
      const T d = U(c);
      if (d != T(0)) {  // a zero pivot is skipped: no NaN, the singularity test reports it
        const int re0 = gc + 1 > r0 ? gc + 1 - r0 : 0;
        for (int r = me; r < m; r += nt) {
          if (r < re0) continue;
          const T l = S(c * rows + r) / d;
          S(c * rows + r) = l;
          // In chunks whose loads all issue before the stores (S and U share the scratch: the
          // compiler would order every load after the previous column's store).
          for (int j0 = c + 1; j0 < w; j0 += lu_row_chunk) {
            T a[lu_row_chunk], u[lu_row_chunk];
            for (int k = 0; k < lu_row_chunk; ++k) {
              a[k] = j0 + k < w ? S((j0 + k) * rows + r) : T(0);
              u[k] = j0 + k < w ? U(j0 + k) : T(0);
            }
            for (int k = 0; k < lu_row_chunk; ++k)
              if (j0 + k < w) S((j0 + k) * rows + r) = a[k] - l * u[k];
          }
        }
      }
      Kokkos::single(Kokkos::PerTeam(t), [&]() {
        P(c) = p;
        if (q == 0) piv(gc) = p;
      });
      // No barrier: the next step's search reads only this thread's rows, and U and V are
      // rewritten only after the next step's team reductions, which every thread reaches after
      // this elimination.
    }
    t.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(t, m * w), [&](const int e) {
      const int j = e / m, r = e - j * m;
      A(r0 + r, k0 + j) = S(j * rows + r);
    });
    t.team_barrier();  // S is the gather's staging area now
    outer_gather(t, S, s_size, P, src);
  }
};

// Panels this narrow end the recursion: below it trsm/gemm calls are too small to pay for
// themselves (a BLAS or cuBLAS call per 1-2 columns), and the unblocked kernels' flops,
// about n^2/2 * leaf width in all, are a negligible share of the 2/3 n^3.
inline constexpr int lu_leaf_width = 8;

// Workspace and launch shape of the panel kernels, fixed per lu_factor call.
template <class ExecSpace>
struct PanelWork {
  using MS = typename ExecSpace::memory_space;
  LuPanelKernel kernel = LuPanelKernel::per_column;
  int leaf_width = lu_leaf_width;
  int team_max_rows = 0;      // automatic on a GPU: the team kernel for leaves of at most this many rows
  int fused_team_size = 1;    // threads per team of the fused kernel
  int fused_rows_per_team = 1;  // at least
  int fused_max_teams = 1;      // at most (sizes `partial`)
  int team_team_size = 1;     // threads of the team kernel
  int persistent_team_size = 1;   // threads per team of the persistent kernel
  int persistent_min_rows = 1;    // rows per team at least (then fewer teams)
  int persistent_max_teams = 1;   // teams resident at once
  int persistent_max_rows = 0;    // the persistent kernel's tallest leaf at leaf_width (rows x teams)
  Kokkos::View<PivotStamp**, Kokkos::LayoutRight, MS> pslot;  // persistent: [2][max teams]
  Kokkos::View<double***, Kokkos::LayoutRight, MS> pcand_row;  // [2][max teams][leaf width]
  Kokkos::View<double**, Kokkos::LayoutRight, MS> prow_c;      // [2][leaf width]
  std::shared_ptr<unsigned> pstep_base = std::make_shared<unsigned>(0u);  // steps run so far (the stamps)
  double* leaf_seconds = nullptr;  // LuPhaseTimes::leaves: leaf kernels fenced and timed
  bool gpu_code = !is_host_space_v<ExecSpace>;  // the GPU code path of leaf_row_step / team_swap_rows
  TournamentWork<MS> tournament;  // tournament
  PivotSlot<ExecSpace> best;  // per_column
  Kokkos::View<PivotCandidate*, MS> partial;  // fused
  Kokkos::View<int, MS> ticket;               // fused
};

// Unblocked LU (LAPACK dgetf2) of the leaf A(k0:n, k0:k0+w): per column c, pivot search, row
// interchange within the leaf's columns only (the callers swap the other columns), multipliers
// and the rank-1 update of the leaf's remaining columns. A zero pivot (whole column zero) skips
// the division: no NaN, and the singularity test reports it.
template <class ExecSpace, class AV, class PivView>
void factor_leaf(ExecSpace const& space, AV const& A, PivView const& piv, PivotSlot<ExecSpace> const& best,
                 int k0, int w) {
  const int n = static_cast<int>(A.extent(0));
  const int k2 = k0 + w;
  using value_type = typename PivotReducer<ExecSpace>::value_type;
  for (int c = k0; c < k2; ++c) {
    Kokkos::parallel_reduce(
        "numlab::lu::pivot_search", Kokkos::RangePolicy<ExecSpace>(space, c, n),
        KOKKOS_LAMBDA(const int i, value_type& m) {
          const double v = kx::abs(A(i, c));
          if (v > m.val) {
            m.val = v;
            m.loc = i;
          }
        },
        PivotReducer<ExecSpace>(best));
    Kokkos::parallel_for(
        "numlab::lu::pivot_swap", Kokkos::RangePolicy<ExecSpace>(space, 0, 1), KOKKOS_LAMBDA(const int) {
          int p = best().loc;
          if (p < c || p >= n) p = c;  // an all-NaN column leaves the identity location
          piv(c) = p;
          if (p == c) return;
          for (int j = k0; j < k2; ++j) {
            const auto t = A(c, j);
            A(c, j) = A(p, j);
            A(p, j) = t;
          }
        });
    Kokkos::parallel_for(
        "numlab::lu::eliminate", Kokkos::RangePolicy<ExecSpace>(space, c + 1, n), KOKKOS_LAMBDA(const int i) {
          const auto d = A(c, c);
          if (d == 0) return;
          const auto l = A(i, c) / d;
          A(i, c) = l;
          for (int j = c + 1; j < k2; ++j) A(i, j) -= l * A(c, j);
        });
  }
}

// The leaf A(k0:n, k0:k0+w) by the fused, team or persistent kernel, interchanges applied across
// [s0, s1).
template <bool Gpu, class ExecSpace, class AV, class PivView>
void factor_leaf_swapping_impl(ExecSpace const& space, AV const& A, PivView const& piv,
                               PanelWork<ExecSpace> const& work, LuPanelKernel kernel, int k0, int w, int s0, int s1) {
  const int n = static_cast<int>(A.extent(0));
  const int k2 = k0 + w;
  using policy_t = Kokkos::TeamPolicy<ExecSpace>;
  if (kernel == LuPanelKernel::team) {
    LeafTeam<ExecSpace, AV, PivView, Gpu> f{A, piv, n, k0, k2, s0, s1};
    Kokkos::parallel_for("numlab::lu::leaf_team", policy_t(space, 1, work.team_team_size), f);
    return;
  }
  if (kernel == LuPanelKernel::persistent) {
    using F = LeafPersistent<ExecSpace, AV, PivView, Gpu>;
    const int m = n - k0;
    const int rows_cap = std::max(1, work.persistent_max_rows / work.persistent_max_teams);  // scratch
    // On a host backend the teams are threads of *this* space (a partition of the pool has fewer).
    int max_teams = work.persistent_max_teams;
    if constexpr (is_host_space_v<ExecSpace>)
      max_teams = std::min(max_teams, std::max(1, static_cast<int>(space.concurrency()) / work.persistent_team_size));
    int rows = std::max(work.persistent_min_rows, (m + max_teams - 1) / max_teams);
    rows = std::min(rows, rows_cap);
    const int teams = std::max(1, (m + rows - 1) / rows);
    // More rows than this space's resident teams hold, or teams that would not run side by side.
    if (teams > max_teams || (teams > 1 && teams_may_run_serially(space))) {
      factor_leaf_swapping_impl<Gpu>(space, A, piv, work, LuPanelKernel::fused, k0, w, s0, s1);
      return;
    }
    rows = (m + teams - 1) / teams;  // even shares
    F f{A, piv, work.pslot, work.pcand_row, work.prow_c, *work.pstep_base, n, k0, w, s0, s1, rows};
    // Dynamic with chunks of one: on a host backend every team gets a thread of its own (teams <=
    // threads), so the spinning teams never wait for a team queued behind them.
    using dyn_policy_t = Kokkos::TeamPolicy<ExecSpace, Kokkos::Schedule<Kokkos::Dynamic>>;
    dyn_policy_t policy(space, teams, work.persistent_team_size);
    policy.set_chunk_size(1);
    Kokkos::parallel_for("numlab::lu::leaf_persistent",
                         policy.set_scratch_size(0, Kokkos::PerTeam(F::scratch_bytes(rows, w))), f);
    *work.pstep_base += static_cast<unsigned>(w);
    return;
  }
  const int rpt = work.fused_rows_per_team;
  LeafFusedStep<ExecSpace, AV, PivView, Gpu> f{A, piv, work.partial, work.ticket, n, k0, k2, k0, s0, s1, rpt};
  for (int c = k0; c <= k2; ++c) {
    f.c = c;
    // Host: one team per thread (rows split evenly); GPU: a fixed number of rows per team.
    f.rows_per_team = std::max(rpt, (n - c + work.fused_max_teams - 1) / work.fused_max_teams);
    const int teams = (n - c + f.rows_per_team - 1) / f.rows_per_team;
    if (teams <= 0) break;  // c == k2 == n: no rows below the last pivot
    Kokkos::parallel_for("numlab::lu::leaf_fused", policy_t(space, teams, work.fused_team_size), f);
  }
}

template <class ExecSpace, class AV, class PivView>
void factor_leaf_swapping(ExecSpace const& space, AV const& A, PivView const& piv, PanelWork<ExecSpace> const& work,
                          LuPanelKernel kernel, int k0, int w, int s0, int s1) {
  if (work.gpu_code) factor_leaf_swapping_impl<true>(space, A, piv, work, kernel, k0, w, s0, s1);
  else factor_leaf_swapping_impl<false>(space, A, piv, work, kernel, k0, w, s0, s1);
}

// Recursive LU of the panel A(k0:n, k0:k0+w) as LAPACK dgetrf2: factor the left half, bring its
// interchanges to the right half, U12 by trsm, A22 -= L21*U12 by gemm, factor the right half,
// bring its interchanges back to L21. Nearly all flops of the panel land in trsm/gemm; pivots
// are absolute row indices. [s0, s1) is the outer panel: the fused, team and persistent leaves swap rows
// across all of it, which makes the two laswp calls of every recursion level unnecessary.
template <class ExecSpace, class AV, class PivView>
void factor_panel(ExecSpace const& space, AV const& A, PivView const& piv, PanelWork<ExecSpace> const& work,
                  int k0, int w, int s0, int s1) {
  const int n = static_cast<int>(A.extent(0));
  if (w <= work.leaf_width) {
    LuPanelKernel k = work.kernel;
    if (k == LuPanelKernel::automatic)
      k = (n - k0 <= work.team_max_rows)          ? LuPanelKernel::team
          : (n - k0 <= work.persistent_max_rows) ? LuPanelKernel::persistent
                                                  : LuPanelKernel::fused;
    if (k == LuPanelKernel::persistent && n - k0 > work.persistent_max_rows)
      k = LuPanelKernel::fused;  // more rows than resident teams hold
    if (work.leaf_seconds) space.fence();
    const auto t0 = std::chrono::steady_clock::now();
    if (k == LuPanelKernel::per_column) factor_leaf(space, A, piv, work.best, k0, w);
    else if (k == LuPanelKernel::tournament) factor_leaf_tournament(space, A, piv, work.tournament, k0, w, s0, s1);
    else factor_leaf_swapping(space, A, piv, work, k, k0, w, s0, s1);
    if (work.leaf_seconds) {
      space.fence();
      *work.leaf_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    return;
  }
  const bool leaf_swaps_panel = work.kernel != LuPanelKernel::per_column;
  const int k1 = k0 + w / 2;
  const int k2 = k0 + w;
  factor_panel(space, A, piv, work, k0, k1 - k0, s0, s1);
  if (!leaf_swaps_panel) laswp(space, A, piv, k0, k1, k1, k2);
  auto L11 = Kokkos::subview(A, range_t(k0, k1), range_t(k0, k1));  // (w/2) x (w/2), unit lower
  auto A12 = Kokkos::subview(A, range_t(k0, k1), range_t(k1, k2));  // (w/2) x (w - w/2) -> U12
  auto L21 = Kokkos::subview(A, range_t(k1, n), range_t(k0, k1));   // (n-k1) x (w/2)
  auto A22 = Kokkos::subview(A, range_t(k1, n), range_t(k1, k2));   // (n-k1) x (w - w/2)
  trsm_left(space, "L", "U", L11, A12);
  gemm_nn(space, -1.0, L21, A12, 1.0, A22);
  factor_panel(space, A, piv, work, k1, k2 - k1, s0, s1);
  if (!leaf_swaps_panel) laswp(space, A, piv, k1, k2, k0, k1);
}

// max_ij |A_ij|; the 2-D range iterates rows fastest (LayoutLeft: contiguous, coalesced on GPUs).
template <class ExecSpace, class AV>
double max_abs(ExecSpace const& space, AV const& A) {
  double amax = 0.0;
  if (A.extent(0) == 0 || A.extent(1) == 0) return amax;
  using policy_t = Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2, Kokkos::Iterate::Left, Kokkos::Iterate::Left>>;
  Kokkos::parallel_reduce(
      "numlab::lu::max_abs",
      policy_t(space, {0, 0}, {static_cast<std::int64_t>(A.extent(0)), static_cast<std::int64_t>(A.extent(1))}),
      KOKKOS_LAMBDA(const std::int64_t i, const std::int64_t j, double& v) {
        const double a = kx::abs(A(i, j));
        if (a > v) v = a;
      },
      Kokkos::Max<double>(amax));
  return amax;
}

// Numerical-singularity rule, applied to our U and to the reference's U alike:
//   pivot k is zero  <=>  |u_kk| <= n * eps * max_ij |A_ij|   (A before factorization).
// Backward-stable LU computes the exact factors of A + E with |E| of order n*eps*|A| (times the
// growth factor), so a pivot below that level is indistinguishable from zero: exactly singular
// matrices usually leave such a rounding-level pivot rather than an exact 0. A NaN pivot counts.
// eps: the unit roundoff of the factorisation's arithmetic (double's by default; float32 and the
// emulated 16-bit formats of the mixed-precision solver pass theirs).
inline double singular_threshold(int n, double amax, double eps = std::numeric_limits<double>::epsilon()) {
  return static_cast<double>(n) * eps * amax;
}

// First k with a (numerically) zero pivot, or -1.
template <class ExecSpace, class AV>
int first_zero_pivot(ExecSpace const& space, AV const& LU, double threshold) {
  const int n = static_cast<int>(std::min(LU.extent(0), LU.extent(1)));
  if (n == 0) return -1;
  int first = n;
  Kokkos::parallel_reduce(
      "numlab::lu::zero_pivot", Kokkos::RangePolicy<ExecSpace>(space, 0, n),
      KOKKOS_LAMBDA(const int k, int& v) {
        if (!(kx::abs(LU(k, k)) > threshold) && k < v) v = k;
      },
      Kokkos::Min<int>(first));
  return first < n ? first : -1;
}

}  // namespace numlab::linsolve::detail
