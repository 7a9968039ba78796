// SPDX-License-Identifier: MIT
// Kernels and setup of numlab's own Gauss-Seidel sweeps (sequential and multicolour).
// Setup lives in free functions because nvcc rejects extended lambdas in private members.
#pragma once

#include "core/kokkos_ext/compat.hpp"
#include "linsolve/csr.hpp"
#include "linsolve/detail/gs_kokkos_kernels.hpp"

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace numlab::linsolve::detail {

// Marks rows whose diagonal position cannot drive the split lower/upper loops.
inline constexpr offset_t no_split = ~offset_t(0);

template <class ExecSpace>
struct DiagonalInfo {
  using MS = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  // Position of the diagonal entry where the row has strictly increasing columns and
  // exactly one diagonal entry; no_split otherwise.
  Kokkos::View<offset_t*, MS> diag_pos;
  // omega / a_ii (a_ii = sum of the row's diagonal entries, as spmv sees it).
  Kokkos::View<scalar_t*, MS> winv;
  ordinal_t unsplit_rows = 0;
};

// Inverse diagonal and diagonal positions; throws std::invalid_argument naming the first
// row with a zero or missing diagonal.
template <class ExecSpace>
DiagonalInfo<ExecSpace> analyse_diagonal(ExecSpace const& space, Csr<ExecSpace> const& A, double omega) {
  using MS = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  const ordinal_t n = A.numRows();
  DiagonalInfo<ExecSpace> d;
  d.diag_pos = Kokkos::View<offset_t*, MS>(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::diag_pos"), n);
  d.winv = Kokkos::View<scalar_t*, MS>(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::winv"), n);
  auto rm = A.graph.row_map;
  auto ci = A.graph.entries;
  auto v = A.values;
  auto dpos = d.diag_pos;
  auto winv = d.winv;

  ordinal_t first_bad = n;
  Kokkos::parallel_reduce(
      "numlab::gs::analyse_diagonal", Kokkos::RangePolicy<ExecSpace>(space, 0, n),
      KOKKOS_LAMBDA(const ordinal_t i, ordinal_t& bad) {
        scalar_t diag = 0;
        int ndiag = 0;
        bool sorted = true;
        offset_t pos = no_split;
        for (offset_t k = rm(i); k < rm(i + 1); ++k) {
          const ordinal_t j = ci(k);
          if (k > rm(i) && ci(k - 1) >= j) sorted = false;
          if (j == i) {
            diag += v(k);
            ++ndiag;
            pos = k;
          }
        }
        dpos(i) = (sorted && ndiag == 1) ? pos : no_split;
        if (diag == scalar_t(0)) {  // also a missing diagonal
          winv(i) = 0;
          if (i < bad) bad = i;
        } else {
          winv(i) = omega / diag;
        }
      },
      Kokkos::Min<ordinal_t>(first_bad));
  if (first_bad < n)
    throw std::invalid_argument("GaussSeidel: zero or missing diagonal in row " + std::to_string(first_bad) +
                                " (0-based)");

  ordinal_t unsplit = 0;
  Kokkos::parallel_reduce(
      "numlab::gs::count_unsplit", Kokkos::RangePolicy<ExecSpace>(space, 0, n),
      KOKKOS_LAMBDA(const ordinal_t i, ordinal_t& c) { c += dpos(i) == no_split ? 1 : 0; }, unsplit);
  d.unsplit_rows = unsplit;
  return d;
}

// The arithmetic of one row of the exact lexicographic sweep, shared by the one-thread sweep
// and the level-scheduled one (detail/gs_levels.hpp) so that both compute every x_i by the same
// operations in the same order: the same iterates, not merely close ones.
//
// Sorted rows with one diagonal entry at dp[i] ("split" rows), forward: the upper (old) part
// first, then the lower (new) part but its last entry, then the nearest lower neighbour, kept out
// of the partial sum so that the one-thread sweep's loop-carried chain per row is one multiply and
// one subtract. `near_row`/`x_near`: that neighbour's row and value when the caller holds it in a
// register (the value written one row ago); near_row = -1 reads it from x.
KOKKOS_FORCEINLINE_FUNCTION scalar_t split_row_forward(const offset_t* KOKKOS_RESTRICT rm,
                                                       const ordinal_t* KOKKOS_RESTRICT ci,
                                                       const scalar_t* KOKKOS_RESTRICT v,
                                                       const offset_t* KOKKOS_RESTRICT dp,
                                                       const scalar_t* KOKKOS_RESTRICT w,
                                                       const scalar_t* KOKKOS_RESTRICT bb, const scalar_t* xx,
                                                       ordinal_t i, scalar_t one_minus_omega, ordinal_t near_row,
                                                       scalar_t x_near) {
  const offset_t beg = rm[i], d = dp[i], end = rm[i + 1];
  scalar_t s = bb[i];
  for (offset_t k = d + 1; k < end; ++k) s -= v[k] * xx[ci[k]];
  if (d > beg) {
    for (offset_t k = beg; k < d - 1; ++k) s -= v[k] * xx[ci[k]];
    const ordinal_t jl = ci[d - 1];
    const scalar_t wl = w[i] * v[d - 1];
    const scalar_t partial = one_minus_omega * xx[i] + w[i] * s;
    const scalar_t xl = jl == near_row ? x_near : xx[jl];
    return partial - wl * xl;
  }
  return one_minus_omega * xx[i] + w[i] * s;
}

// Mirror image: the lower (old) part first, the upper part in reverse, the nearest upper
// neighbour (the fresh one) last.
KOKKOS_FORCEINLINE_FUNCTION scalar_t split_row_backward(const offset_t* KOKKOS_RESTRICT rm,
                                                        const ordinal_t* KOKKOS_RESTRICT ci,
                                                        const scalar_t* KOKKOS_RESTRICT v,
                                                        const offset_t* KOKKOS_RESTRICT dp,
                                                        const scalar_t* KOKKOS_RESTRICT w,
                                                        const scalar_t* KOKKOS_RESTRICT bb, const scalar_t* xx,
                                                        ordinal_t i, scalar_t one_minus_omega, ordinal_t near_row,
                                                        scalar_t x_near) {
  const offset_t beg = rm[i], d = dp[i], end = rm[i + 1];
  scalar_t s = bb[i];
  for (offset_t k = beg; k < d; ++k) s -= v[k] * xx[ci[k]];
  if (d + 1 < end) {
    for (offset_t k = end - 1; k > d + 1; --k) s -= v[k] * xx[ci[k]];
    const ordinal_t ju = ci[d + 1];
    const scalar_t wu = w[i] * v[d + 1];
    const scalar_t partial = one_minus_omega * xx[i] + w[i] * s;
    const scalar_t xu = ju == near_row ? x_near : xx[ju];
    return partial - wu * xu;
  }
  return one_minus_omega * xx[i] + w[i] * s;
}

// Any CSR (unsorted rows, duplicate entries): skip the diagonal by column test.
KOKKOS_FORCEINLINE_FUNCTION scalar_t generic_row(const offset_t* rm, const ordinal_t* ci, const scalar_t* v,
                                                 const scalar_t* w, const scalar_t* bb, const scalar_t* xx,
                                                 ordinal_t i, scalar_t one_minus_omega) {
  scalar_t s = bb[i];
  for (offset_t k = rm[i]; k < rm[i + 1]; ++k) {
    const ordinal_t j = ci[k];
    if (j != i) s -= v[k] * xx[j];
  }
  return one_minus_omega * xx[i] + w[i] * s;
}

// Rows ahead of the one-thread sweep whose entries and far neighbour it prefetches (host only).
inline constexpr ordinal_t gs_prefetch_rows = 128;

// Host software prefetch for the one-thread sweep at row i (forward: row i + d, backward: i - d):
// its column indices, its values and x at its farthest neighbour on the not-yet-updated side,
// `reach` rows away (the matrix's upper / lower bandwidth). The sweep streams about eight arrays
// plus x at i + reach (2D Poisson: i + nx); with that many streams from one core the hardware
// prefetchers fall behind (bench/linsolve, 2-core EPYC, 10^6-row Poisson, one thread: 5.83 -> 3.24 ms).
// `reach` is signed (forward +upper bandwidth, backward -lower bandwidth); 0: entries only. A no-op
// on GPUs.
KOKKOS_FORCEINLINE_FUNCTION void gs_prefetch_row(const offset_t* rm, const ordinal_t* ci, const scalar_t* v,
                                                 const scalar_t* xx, ordinal_t j, std::int64_t reach, ordinal_t n) {
#if !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__) && (defined(__GNUC__) || defined(__clang__))
  if (j >= 0 && j < n) {
    __builtin_prefetch(ci + rm[j]);
    __builtin_prefetch(v + rm[j]);
    const std::int64_t far = j + reach;  // 64-bit: j + reach may pass INT_MAX
    if (reach != 0 && far >= 0 && far < n) __builtin_prefetch(xx + far);
  }
#else
  (void)rm, (void)ci, (void)v, (void)xx, (void)j, (void)reach, (void)n;
#endif
}

// The exact lexicographic sweep, x_i <- (1-w) x_i + w/a_ii (b_i - sum_{j != i} a_ij x_j) with
// rows < i already new (forward) or rows > i already new (backward). One work item runs the
// whole loop, so the order is exact on every backend (slow on a GPU by nature: the kernel
// `one_thread`; the level-scheduled kernels of detail/gs_levels.hpp compute the same iterates).
template <class ExecSpace>
struct SequentialSweep {
  using MS = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  typename Csr<ExecSpace>::row_map_type row_map;
  typename Csr<ExecSpace>::index_type entries;
  typename Csr<ExecSpace>::values_type values;
  Kokkos::View<const offset_t*, MS> diag_pos;
  Kokkos::View<const scalar_t*, MS> winv;
  Kokkos::View<const scalar_t*, Kokkos::LayoutLeft, MS> b;
  Kokkos::View<scalar_t*, Kokkos::LayoutLeft, MS> x;
  scalar_t one_minus_omega;
  ordinal_t n;
  bool backward;
  bool split;  // every row sorted with one diagonal entry
  ordinal_t upper_reach = 0;  // max_i (last column of row i) - i; 0: no prefetch (forward)
  ordinal_t lower_reach = 0;  // max_i i - (first column of row i); 0: no prefetch (backward)

  KOKKOS_INLINE_FUNCTION void operator()(const int) const {
    const offset_t* KOKKOS_RESTRICT rm = row_map.data();
    const ordinal_t* KOKKOS_RESTRICT ci = entries.data();
    const scalar_t* KOKKOS_RESTRICT v = values.data();
    const offset_t* KOKKOS_RESTRICT dp = diag_pos.data();
    const scalar_t* KOKKOS_RESTRICT w = winv.data();
    const scalar_t* KOKKOS_RESTRICT bb = b.data();
    scalar_t* KOKKOS_RESTRICT xx = x.data();
    const scalar_t om1 = one_minus_omega;
    if (split && !backward) {
      scalar_t xprev = 0;  // the value written for row i - 1, from a register
      const ordinal_t d = gs_prefetch_rows;
      const std::int64_t reach = upper_reach > 0 ? upper_reach : 0;
      for (ordinal_t i = 0; i < n; ++i) {
        gs_prefetch_row(rm, ci, v, xx, i + d, reach, n);
        const scalar_t xi = split_row_forward(rm, ci, v, dp, w, bb, xx, i, om1, i - 1, xprev);
        xx[i] = xi;
        xprev = xi;
      }
    } else if (split) {
      scalar_t xprev = 0;  // the value written for row i + 1
      const ordinal_t d = gs_prefetch_rows;
      const std::int64_t reach = lower_reach > 0 ? -std::int64_t(lower_reach) : 0;
      for (ordinal_t i = n - 1; i >= 0; --i) {
        gs_prefetch_row(rm, ci, v, xx, i - d, reach, n);
        const scalar_t xi = split_row_backward(rm, ci, v, dp, w, bb, xx, i, om1, i + 1, xprev);
        xx[i] = xi;
        xprev = xi;
      }
    } else {
      for (ordinal_t t = 0; t < n; ++t) {
        const ordinal_t i = backward ? n - 1 - t : t;
        xx[i] = generic_row(rm, ci, v, w, bb, xx, i, om1);
      }
    }
  }
};

// Rows grouped by colour and renumbered colour-major: new row r = perm(r) of A, so every colour is
// a contiguous range of rows, and the sweep runs on colour-ordered copies of x and b (the
// solve loop gathers them once per solve, not per sweep). A colour's pass then streams its rows'
// values, columns, 1/a_ii, b and x contiguously (coalesced on a GPU), and the neighbours it reads
// lie in the other colours' ranges, near by for grid-like matrices (red-black Poisson: r and
// r +- nx/2). The off-diagonal part is stored with columns in the new numbering, the diagonal
// apart (for the fused residual).
template <class ExecSpace>
struct MulticolorLayout {
  using MS = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  Kokkos::View<ordinal_t*, MS> perm;   // colour-ordered position -> original row
  Kokkos::View<offset_t*, MS> row_map;
  Kokkos::View<ordinal_t*, MS> entries;  // colour-ordered column indices
  Kokkos::View<scalar_t*, MS> values;
  Kokkos::View<scalar_t*, MS> winv;  // omega / a_ii, colour order
  Kokkos::View<scalar_t*, MS> diag;  // a_ii, colour order
  std::vector<ordinal_t> color_begin;  // host, num_colors + 1 entries
  int num_colors() const { return static_cast<int>(color_begin.size()) - 1; }
};

// sum_k v(k) x(ci(k)) over [beg, end) with four partial sums: long rows (the lab's random
// matrices: ~200 entries at N = 2000, density 0.1) are not one chain of dependent adds.
template <class Entries, class Values, class X>
KOKKOS_INLINE_FUNCTION scalar_t row_dot(Entries const& ci, Values const& v, X const& x, offset_t beg, offset_t end) {
  scalar_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  offset_t k = beg;
  for (; k + 4 <= end; k += 4) {
    s0 += v(k) * x(ci(k));
    s1 += v(k + 1) * x(ci(k + 1));
    s2 += v(k + 2) * x(ci(k + 2));
    s3 += v(k + 3) * x(ci(k + 3));
  }
  for (; k < end; ++k) s0 += v(k) * x(ci(k));
  return (s0 + s1) + (s2 + s3);
}

// One colour's rows of a sweep, on colour-ordered vectors. Rows of one colour never reference
// each other, so they update in parallel, without atomics. With omega = 1 the old x_r is not
// read (it has weight 0): one stream less.
template <class ExecSpace>
struct MulticolorRows {
  using MS = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  Kokkos::View<const offset_t*, MS> row_map;
  Kokkos::View<const ordinal_t*, MS> entries;
  Kokkos::View<const scalar_t*, MS> values;
  Kokkos::View<const scalar_t*, MS> winv;
  Kokkos::View<const scalar_t*, Kokkos::LayoutLeft, MS> b;  // colour order
  Kokkos::View<scalar_t*, Kokkos::LayoutLeft, MS> x;        // colour order
  scalar_t one_minus_omega;

  KOKKOS_INLINE_FUNCTION void operator()(const ordinal_t r) const {
    const scalar_t s = b(r) - row_dot(entries, values, x, row_map(r), row_map(r + 1));
    const scalar_t xn = winv(r) * s;
    x(r) = one_minus_omega == scalar_t(0) ? xn : one_minus_omega * x(r) + xn;
  }
};

// ||b - A x||_2^2 on the colour-ordered layout, one fused pass (no residual vector).
template <class ExecSpace>
struct MulticolorResidual {
  using MS = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  Kokkos::View<const offset_t*, MS> row_map;
  Kokkos::View<const ordinal_t*, MS> entries;
  Kokkos::View<const scalar_t*, MS> values;
  Kokkos::View<const scalar_t*, MS> diag;
  Kokkos::View<const scalar_t*, Kokkos::LayoutLeft, MS> b;
  Kokkos::View<const scalar_t*, Kokkos::LayoutLeft, MS> x;

  KOKKOS_INLINE_FUNCTION void operator()(const ordinal_t r, scalar_t& sum) const {
    const scalar_t s = b(r) - diag(r) * x(r) - row_dot(entries, values, x, row_map(r), row_map(r + 1));
    sum += s * s;
  }
};

// ||b - A x||_2^2 on CSR, one fused pass (replaces copy + spmv + nrm2: 2.5x less traffic, one
// launch instead of three).
template <class ExecSpace>
double residual_norm2(ExecSpace const& space, Csr<ExecSpace> const& A, Vector<ExecSpace> const& b,
                      Vector<ExecSpace> const& x) {
  auto rm = A.graph.row_map;
  auto ci = A.graph.entries;
  auto v = A.values;
  double sum = 0;
  Kokkos::parallel_reduce(
      "numlab::gs::residual", Kokkos::RangePolicy<ExecSpace>(space, 0, A.numRows()),
      KOKKOS_LAMBDA(const ordinal_t i, double& acc) {
        const scalar_t s = b(i) - row_dot(ci, v, x, rm(i), rm(i + 1));
        acc += s * s;
      },
      sum);
  return sum;
}

// dst(r) = src(perm(r)) (to colour order) or dst(perm(r)) = src(r) (back).
template <class ExecSpace, class PermView>
void permute_vector(ExecSpace const& space, PermView const& perm, Vector<ExecSpace> const& src,
                    Vector<ExecSpace> const& dst, bool to_colour_order) {
  Kokkos::parallel_for(
      "numlab::gs::permute", Kokkos::RangePolicy<ExecSpace>(space, 0, static_cast<ordinal_t>(perm.extent(0))),
      KOKKOS_LAMBDA(const ordinal_t r) {
        if (to_colour_order) dst(r) = src(perm(r));
        else dst(perm(r)) = src(r);
      });
}

// Undirected graph for colouring: A's own pattern when it is structurally symmetric, else
// the pattern of A + A^T. Own code because KK's symmetrize_graph_symbolic_hashmap takes
// about 2 s for the 10^6-row Poisson graph on one host thread (this: ~20 ms).
template <class ExecSpace>
struct UndirectedGraph {
  using MS = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  Kokkos::View<const offset_t*, MS> row_map;
  Kokkos::View<const ordinal_t*, MS> entries;
  bool is_A = true;  // A's pattern was already symmetric
};

// Whether row r of (rm, ci) holds column c; binary search when rows are sorted.
template <class RowMap, class Entries>
KOKKOS_INLINE_FUNCTION bool row_has(RowMap const& rm, Entries const& ci, ordinal_t r, ordinal_t c, bool sorted) {
  offset_t lo = rm(r), hi = rm(r + 1);
  if (!sorted) {
    for (offset_t k = lo; k < hi; ++k)
      if (ci(k) == c) return true;
    return false;
  }
  while (lo < hi) {
    const offset_t mid = lo + (hi - lo) / 2;
    if (ci(mid) < c) lo = mid + 1;
    else hi = mid;
  }
  return lo < rm(r + 1) && ci(lo) == c;
}

// Exact union, no duplicate edges (assuming A has none): row i lists its own columns, then
// the rows j with a_ji != 0 whose transposed entry a_ij is missing.
template <class ExecSpace>
UndirectedGraph<ExecSpace> undirected_graph(ExecSpace const& space, Csr<ExecSpace> const& A, bool sorted_rows) {
  using MS = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  using Policy = Kokkos::RangePolicy<ExecSpace>;
  const ordinal_t n = A.numRows();
  auto rm = A.graph.row_map;
  auto ci = A.graph.entries;
  UndirectedGraph<ExecSpace> g;
  Kokkos::View<ordinal_t*, MS> extra("numlab::gs::sym_extra", n);
  offset_t missing = 0;
  Kokkos::parallel_reduce(
      "numlab::gs::sym_count", Policy(space, 0, n),
      KOKKOS_LAMBDA(const ordinal_t i, offset_t& miss) {
        for (offset_t k = rm(i); k < rm(i + 1); ++k) {
          const ordinal_t j = ci(k);
          if (j != i && !row_has(rm, ci, j, i, sorted_rows)) {
            Kokkos::atomic_add(&extra(j), 1);
            ++miss;
          }
        }
      },
      missing);
  if (missing == 0) {
    g.row_map = rm;
    g.entries = ci;
    return g;
  }
  g.is_A = false;
  Kokkos::View<offset_t*, MS> srm("numlab::gs::sym_row_map", n + 1);
  offset_t total = 0;
  Kokkos::parallel_scan(
      "numlab::gs::sym_scan", Policy(space, 0, n),
      KOKKOS_LAMBDA(const ordinal_t i, offset_t& upd, const bool final) {
        upd += (rm(i + 1) - rm(i)) + static_cast<offset_t>(extra(i));
        if (final) srm(i + 1) = upd;
      },
      total);
  Kokkos::View<ordinal_t*, MS> sci(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::sym_entries"), total);
  Kokkos::View<ordinal_t*, MS> fill("numlab::gs::sym_fill", n);
  Kokkos::parallel_for(
      "numlab::gs::sym_fill", Policy(space, 0, n), KOKKOS_LAMBDA(const ordinal_t i) {
        offset_t pos = srm(i);
        for (offset_t k = rm(i); k < rm(i + 1); ++k) sci(pos++) = ci(k);
        for (offset_t k = rm(i); k < rm(i + 1); ++k) {
          const ordinal_t j = ci(k);
          if (j != i && !row_has(rm, ci, j, i, sorted_rows)) {
            const ordinal_t slot = Kokkos::atomic_fetch_add(&fill(j), ordinal_t(1));
            sci(srm(j) + (rm(j + 1) - rm(j)) + static_cast<offset_t>(slot)) = i;
          }
        }
      });
  g.row_map = srm;
  g.entries = sci;
  return g;
}

// Whether A's sparsity pattern is structurally symmetric (KK's GS symbolic wants to know).
template <class ExecSpace>
bool pattern_symmetric(ExecSpace const& space, Csr<ExecSpace> const& A, bool sorted_rows) {
  const ordinal_t n = A.numRows();
  auto rm = A.graph.row_map;
  auto ci = A.graph.entries;
  offset_t missing = 0;
  Kokkos::parallel_reduce(
      "numlab::gs::sym_check", Kokkos::RangePolicy<ExecSpace>(space, 0, n),
      KOKKOS_LAMBDA(const ordinal_t i, offset_t& miss) {
        for (offset_t k = rm(i); k < rm(i + 1); ++k) {
          const ordinal_t j = ci(k);
          if (j != i && !row_has(rm, ci, j, i, sorted_rows)) ++miss;
        }
      },
      missing);
  return missing == 0;
}

// Greedy distance-1 colouring in natural row order (smallest colour no neighbour has), on the
// host: deterministic and backend-independent (the same colours, hence the same iteration counts,
// on Serial, OpenMP and CUDA), and exactly red-black on the 5-point Poisson grid. O(nnz); at 10^7
// rows about 0.1-0.3 s of setup plus the graph's copy to the host. Returns 1-based colours.
template <class ExecSpace>
Kokkos::View<int*, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> greedy_colors(
    UndirectedGraph<ExecSpace> const& g, ordinal_t n, int& num_colors) {
  using MS = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  auto rm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g.row_map);
  auto ci = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g.entries);
  Kokkos::View<int*, MS> colors(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::colors"), n);
  auto hc = Kokkos::create_mirror_view(colors);
  std::vector<ordinal_t> mark;  // mark[c] == i: colour c is taken by a neighbour of row i
  num_colors = 0;
  for (ordinal_t i = 0; i < n; ++i) hc(i) = 0;
  for (ordinal_t i = 0; i < n; ++i) {
    for (offset_t k = rm(i); k < rm(i + 1); ++k) {
      const ordinal_t j = ci(k);
      if (j == i) continue;
      const int cj = hc(j);
      if (cj > 0) {
        if (static_cast<std::size_t>(cj) >= mark.size()) mark.resize(static_cast<std::size_t>(cj) + 1, -1);
        mark[static_cast<std::size_t>(cj)] = i;
      }
    }
    int c = 1;
    while (static_cast<std::size_t>(c) < mark.size() && mark[static_cast<std::size_t>(c)] == i) ++c;
    hc(i) = c;
    if (c > num_colors) num_colors = c;
  }
  Kokkos::deep_copy(colors, hc);
  return colors;
}

// Distance-1 colouring of the undirected graph of A (rows i, j conflict if a_ij or a_ji is
// nonzero), greedy on the host or by Kokkos Kernels, then the colour-ordered copy of A. The
// colouring is verified: a conflict would make the parallel sweep race, so it throws
// std::logic_error.
template <class ExecSpace>
MulticolorLayout<ExecSpace> build_multicolor(ExecSpace const& space, Csr<ExecSpace> const& A,
                                             Kokkos::View<scalar_t*, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> winv,
                                             bool sorted_rows, bool greedy = true) {
  using MS = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  using Policy = Kokkos::RangePolicy<ExecSpace>;
  const ordinal_t n = A.numRows();
  auto rm = A.graph.row_map;
  auto ci = A.graph.entries;
  auto v = A.values;

  // Colourings assume an undirected graph; the lab's random matrices are unsymmetric.
  const auto ug = undirected_graph(space, A, sorted_rows);
  Kokkos::View<int*, MS> colors;
  int nc = 0;
  if (greedy) {
    space.fence();
    colors = greedy_colors(ug, n, nc);
  } else {
    colors = kk::graph_colors<ExecSpace>(space, n, ug.row_map, ug.entries, nc);
  }

  ordinal_t conflicts = 0;
  Kokkos::parallel_reduce(
      "numlab::gs::check_colouring", Policy(space, 0, n),
      KOKKOS_LAMBDA(const ordinal_t i, ordinal_t& c) {
        const auto ci_col = colors(i);
        if (ci_col < 1 || ci_col > nc) ++c;
        for (offset_t k = rm(i); k < rm(i + 1); ++k) {
          const ordinal_t j = ci(k);
          if (j != i && colors(j) == ci_col) ++c;
        }
      },
      conflicts);
  if (conflicts != 0)
    throw std::logic_error("GaussSeidel: graph colouring has " + std::to_string(conflicts) + " conflicts");

  MulticolorLayout<ExecSpace> m;
  m.perm = Kokkos::View<ordinal_t*, MS>(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::mc_perm"), n);
  auto perm = m.perm;
  // One stable compaction per colour keeps rows ascending inside a colour (locality, and a
  // deterministic order); O(n * colours) setup work, small next to colouring.
  m.color_begin.assign(1, 0);
  ordinal_t offset = 0;
  for (int c = 1; c <= nc; ++c) {
    ordinal_t count = 0;
    Kokkos::parallel_scan(
        "numlab::gs::mc_group", Policy(space, 0, n),
        KOKKOS_LAMBDA(const ordinal_t i, ordinal_t& upd, const bool final) {
          if (colors(i) == c) {
            if (final) perm(offset + upd) = i;
            ++upd;
          }
        },
        count);
    offset += count;
    m.color_begin.push_back(offset);
  }
  Kokkos::View<ordinal_t*, MS> iperm(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::mc_iperm"), n);
  Kokkos::parallel_for(
      "numlab::gs::mc_iperm", Policy(space, 0, n), KOKKOS_LAMBDA(const ordinal_t r) { iperm(perm(r)) = r; });

  m.row_map = Kokkos::View<offset_t*, MS>("numlab::gs::mc_row_map", n + 1);
  auto prm = m.row_map;
  offset_t nnz_off = 0;
  Kokkos::parallel_scan(
      "numlab::gs::mc_count", Policy(space, 0, n),
      KOKKOS_LAMBDA(const ordinal_t r, offset_t& upd, const bool final) {
        const ordinal_t i = perm(r);
        offset_t cnt = 0;
        for (offset_t k = rm(i); k < rm(i + 1); ++k) cnt += ci(k) != i ? 1 : 0;
        upd += cnt;
        if (final) prm(r + 1) = upd;
      },
      nnz_off);
  m.entries = Kokkos::View<ordinal_t*, MS>(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::mc_entries"), nnz_off);
  m.values = Kokkos::View<scalar_t*, MS>(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::mc_values"), nnz_off);
  m.winv = Kokkos::View<scalar_t*, MS>(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::mc_winv"), n);
  m.diag = Kokkos::View<scalar_t*, MS>(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::mc_diag"), n);
  auto pci = m.entries;
  auto pv = m.values;
  auto pw = m.winv;
  auto pd = m.diag;
  Kokkos::parallel_for(
      "numlab::gs::mc_fill", Policy(space, 0, n), KOKKOS_LAMBDA(const ordinal_t r) {
        const ordinal_t i = perm(r);
        offset_t pos = prm(r);
        scalar_t d = 0;
        for (offset_t k = rm(i); k < rm(i + 1); ++k) {
          if (ci(k) != i) {
            pci(pos) = iperm(ci(k));
            pv(pos) = v(k);
            ++pos;
          } else {
            d += v(k);
          }
        }
        pw(r) = winv(i);
        pd(r) = d;
      });
  space.fence();
  return m;
}

}  // namespace numlab::linsolve::detail
