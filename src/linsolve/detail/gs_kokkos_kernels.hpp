// SPDX-License-Identifier: MIT
// The one place that names Kokkos Kernels' Gauss-Seidel and colouring entry points: they
// live in KokkosSparse::Experimental up to 4.5 and were promoted to KokkosSparse in 4.6.
#pragma once

#include "core/kokkos_ext/compat.hpp"
#include "linsolve/csr.hpp"

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

}  // namespace numlab::linsolve::detail::kk
