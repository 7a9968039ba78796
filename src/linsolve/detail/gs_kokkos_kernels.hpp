// SPDX-License-Identifier: MIT
// Kokkos Kernels' point Gauss-Seidel and graph colouring as numlab uses them: declarations only.
// The definitions (gs_kokkos_kernels_impl.hpp) are compiled once per execution space in
// linsolve/gs_kokkos_kernels_*.cpp: Kokkos Kernels is built without ETI, so every translation
// unit that called its Gauss-Seidel would instantiate all of its algorithms (point, cluster,
// two-stage with SpTRSV, the colourings: ~500 CUDA kernels), minutes of nvcc per unit.
#pragma once

#include "linsolve/csr.hpp"

#include <Kokkos_Core.hpp>

#include <memory>

namespace numlab::linsolve::detail::kk {

// Kokkos Kernels' handle with its Gauss-Seidel state (colouring, permuted matrix) for one matrix.
template <class ExecSpace>
struct GaussSeidelHandle;

enum class KkSweep { forward, backward, symmetric };

// GS_DEFAULT handle, symbolic and numeric phase (fenced). symmetric_pattern: A's sparsity pattern
// is structurally symmetric (KK then skips symmetrising it for its colouring).
template <class ExecSpace>
std::shared_ptr<GaussSeidelHandle<ExecSpace>> gauss_seidel_setup(ExecSpace const& space, Csr<ExecSpace> const& A,
                                                                 bool symmetric_pattern);

// Colours of KK's colouring (0 if it does not say).
template <class ExecSpace>
int gauss_seidel_num_colors(GaussSeidelHandle<ExecSpace>& h);

// One SOR-weighted sweep in place on x (KK's default instance); b may change between calls.
template <class ExecSpace>
void gauss_seidel_apply(GaussSeidelHandle<ExecSpace>& h, Csr<ExecSpace> const& A, Vector<ExecSpace> const& b,
                        Vector<ExecSpace> const& x, KkSweep direction, double omega);

// KK's default distance-1 colouring of the undirected graph (row_map, entries) with n vertices:
// 1-based colours in a View of `space`, their number in num_colors.
template <class ExecSpace>
Kokkos::View<int*, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> graph_colors(
    ExecSpace const& space, ordinal_t n,
    Kokkos::View<const offset_t*, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> row_map,
    Kokkos::View<const ordinal_t*, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> entries,
    int& num_colors);

}  // namespace numlab::linsolve::detail::kk
