// SPDX-License-Identifier: MIT
// The sparse matrix type of the linear-systems experiment: Kokkos Kernels' CrsMatrix
// (double values, int column indices, size_t row offsets so nnz may pass 2^31).
#pragma once

#include <Kokkos_Core.hpp>
#include <KokkosSparse_CrsMatrix.hpp>

#include <cstddef>

namespace numlab::linsolve {

using scalar_t = double;
using ordinal_t = int;
using offset_t = std::size_t;

template <class ExecSpace, class MemSpace = typename ExecSpace::memory_space>
using Csr = KokkosSparse::CrsMatrix<scalar_t, ordinal_t, Kokkos::Device<ExecSpace, MemSpace>, void, offset_t>;

using HostCsr = Csr<Kokkos::DefaultHostExecutionSpace, Kokkos::HostSpace>;

template <class ExecSpace, class MemSpace = typename ExecSpace::memory_space>
using Vector = Kokkos::View<scalar_t*, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, MemSpace>>;

template <class ExecSpace, class MemSpace = typename ExecSpace::memory_space>
using DenseMatrix = Kokkos::View<scalar_t**, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, MemSpace>>;

using HostVector = Vector<Kokkos::DefaultHostExecutionSpace, Kokkos::HostSpace>;

// A linear system with a known true solution (x_true may be empty for Matrix
// Market input without a solution file).
struct HostLinearSystem {
  HostCsr A;
  HostVector b;
  HostVector x_true;
};

// Deep copy of a host CSR matrix into the memory space of ExecSpace.
template <class ExecSpace>
Csr<ExecSpace> to_device(HostCsr const& h) {
  using M = Csr<ExecSpace>;
  typename M::row_map_type::non_const_type row_map("numlab::csr::row_map", h.graph.row_map.extent(0));
  typename M::index_type::non_const_type entries("numlab::csr::entries", h.graph.entries.extent(0));
  typename M::values_type::non_const_type values("numlab::csr::values", h.values.extent(0));
  Kokkos::deep_copy(row_map, h.graph.row_map);
  Kokkos::deep_copy(entries, h.graph.entries);
  Kokkos::deep_copy(values, h.values);
  return M("numlab::csr", h.numRows(), h.numCols(), h.nnz(), values, row_map, entries);
}

}  // namespace numlab::linsolve
