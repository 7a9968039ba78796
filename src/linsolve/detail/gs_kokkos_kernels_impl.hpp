// SPDX-License-Identifier: MIT
// Definitions of gs_kokkos_kernels.hpp, included only by linsolve/gs_kokkos_kernels_*.cpp, which
// instantiate them for every enabled execution space. The one place that names Kokkos Kernels'
// Gauss-Seidel and colouring entry points: they live in KokkosSparse::Experimental up to 4.5 and
// were promoted to KokkosSparse in 4.6.
#pragma once

#include "core/kokkos_ext/backend.hpp"
#include "core/kokkos_ext/compat.hpp"
#include "linsolve/detail/gs_kokkos_kernels.hpp"

#include <KokkosGraph_Distance1Color.hpp>  // KokkosGraph_graph_color.hpp is an empty forwarder
#include <KokkosKernels_Handle.hpp>
#include <KokkosSparse_gauss_seidel.hpp>

namespace numlab::linsolve::detail::kk {

#if defined(KOKKOSKERNELS_VERSION) && KOKKOSKERNELS_VERSION >= 40600
using KokkosSparse::backward_sweep_gauss_seidel_apply;
using KokkosSparse::forward_sweep_gauss_seidel_apply;
using KokkosSparse::gauss_seidel_numeric;
using KokkosSparse::gauss_seidel_symbolic;
using KokkosSparse::symmetric_gauss_seidel_apply;
#else
using KokkosSparse::Experimental::backward_sweep_gauss_seidel_apply;
using KokkosSparse::Experimental::forward_sweep_gauss_seidel_apply;
using KokkosSparse::Experimental::gauss_seidel_numeric;
using KokkosSparse::Experimental::gauss_seidel_symbolic;
using KokkosSparse::Experimental::symmetric_gauss_seidel_apply;
#endif
// Same name and namespace in 3.4 and 4.6.
using KokkosGraph::Experimental::graph_color;

// Handle types must match the matrix's (size_t offsets, int ordinals, double values).
template <class ExecSpace>
using Handle = KokkosKernels::Experimental::KokkosKernelsHandle<offset_t, ordinal_t, scalar_t, ExecSpace,
                                                                typename ExecSpace::memory_space,
                                                                typename ExecSpace::memory_space>;

template <class ExecSpace>
struct GaussSeidelHandle {
  Handle<ExecSpace> handle;  // owns KK's buffers
};

template <class ExecSpace>
std::shared_ptr<GaussSeidelHandle<ExecSpace>> gauss_seidel_setup(ExecSpace const&, Csr<ExecSpace> const& A,
                                                                 bool symmetric_pattern) {
  auto h = std::make_shared<GaussSeidelHandle<ExecSpace>>();
  h->handle.create_gs_handle(KokkosSparse::GS_DEFAULT);
  const ordinal_t n = A.numRows();
  gauss_seidel_symbolic(&h->handle, n, n, A.graph.row_map, A.graph.entries, symmetric_pattern);
  gauss_seidel_numeric(&h->handle, n, n, A.graph.row_map, A.graph.entries, A.values, symmetric_pattern);
  Kokkos::fence();
  return h;
}

template <class ExecSpace>
int gauss_seidel_num_colors(GaussSeidelHandle<ExecSpace>& h) {
  return static_cast<int>(h.handle.get_gs_handle()->get_num_colors());
}

template <class ExecSpace>
void gauss_seidel_apply(GaussSeidelHandle<ExecSpace>& h, Csr<ExecSpace> const& A, Vector<ExecSpace> const& b,
                        Vector<ExecSpace> const& x, KkSweep direction, double omega) {
  const ordinal_t n = A.numRows();
  auto rm = A.graph.row_map;
  auto ci = A.graph.entries;
  auto v = A.values;
  // update_y = true: b may differ between calls (solve vs. power iteration with b = 0).
  switch (direction) {
    case KkSweep::forward:
      forward_sweep_gauss_seidel_apply(&h.handle, n, n, rm, ci, v, x, b, false, true, omega, 1);
      break;
    case KkSweep::backward:
      backward_sweep_gauss_seidel_apply(&h.handle, n, n, rm, ci, v, x, b, false, true, omega, 1);
      break;
    case KkSweep::symmetric:
      symmetric_gauss_seidel_apply(&h.handle, n, n, rm, ci, v, x, b, false, true, omega, 1);
      break;
  }
}

template <class ExecSpace>
Kokkos::View<int*, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> graph_colors(
    ExecSpace const& space, ordinal_t n,
    Kokkos::View<const offset_t*, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> row_map,
    Kokkos::View<const ordinal_t*, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> entries,
    int& num_colors) {
  using MS = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  Handle<ExecSpace> handle;
  handle.create_graph_coloring_handle(KokkosGraph::COLORING_DEFAULT);
  graph_color(&handle, n, n, row_map, entries);
  auto* gch = handle.get_graph_coloring_handle();
  auto kc = gch->get_vertex_colors();  // 1-based
  num_colors = n > 0 ? static_cast<int>(gch->get_num_colors()) : 0;
  Kokkos::View<int*, MS> colors(Kokkos::ViewAllocateWithoutInitializing("numlab::gs::colors"), n);
  Kokkos::parallel_for(
      "numlab::gs::copy_colors", Kokkos::RangePolicy<ExecSpace>(space, 0, n),
      KOKKOS_LAMBDA(const ordinal_t i) { colors(i) = static_cast<int>(kc(i)); });
  return colors;
}

}  // namespace numlab::linsolve::detail::kk

// Explicit instantiations for one execution space E, for NUMLAB_FOR_EACH_KOKKOS_BACKEND.
#define NUMLAB_KK_GS_SETUP_INSTANCE(E)                                                                        \
  template std::shared_ptr<numlab::linsolve::detail::kk::GaussSeidelHandle<E>>                               \
  numlab::linsolve::detail::kk::gauss_seidel_setup<E>(E const&, numlab::linsolve::Csr<E> const&, bool);      \
  template int numlab::linsolve::detail::kk::gauss_seidel_num_colors<E>(                                     \
      numlab::linsolve::detail::kk::GaussSeidelHandle<E>&);
#define NUMLAB_KK_GS_APPLY_INSTANCE(E)                                                                        \
  template void numlab::linsolve::detail::kk::gauss_seidel_apply<E>(                                         \
      numlab::linsolve::detail::kk::GaussSeidelHandle<E>&, numlab::linsolve::Csr<E> const&,                  \
      numlab::linsolve::Vector<E> const&, numlab::linsolve::Vector<E> const&,                                \
      numlab::linsolve::detail::kk::KkSweep, double);
#define NUMLAB_KK_GRAPH_COLORS_INSTANCE(E)                                                                    \
  template Kokkos::View<int*, Kokkos::Device<E, typename E::memory_space>>                                   \
  numlab::linsolve::detail::kk::graph_colors<E>(                                                             \
      E const&, numlab::linsolve::ordinal_t,                                                                 \
      Kokkos::View<const numlab::linsolve::offset_t*, Kokkos::Device<E, typename E::memory_space>>,          \
      Kokkos::View<const numlab::linsolve::ordinal_t*, Kokkos::Device<E, typename E::memory_space>>, int&);
