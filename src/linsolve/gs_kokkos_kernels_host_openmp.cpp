// SPDX-License-Identifier: MIT
// Kokkos Kernels' Gauss-Seidel and colouring (detail/gs_kokkos_kernels.hpp) for Kokkos::OpenMP, when
// enabled: one translation unit per host backend (minutes of compile each), so they build in parallel.
#include "linsolve/detail/gs_kokkos_kernels_impl.hpp"

#if defined(KOKKOS_ENABLE_OPENMP)
NUMLAB_KK_GS_SETUP_INSTANCE(Kokkos::OpenMP)
NUMLAB_KK_GS_APPLY_INSTANCE(Kokkos::OpenMP)
NUMLAB_KK_GRAPH_COLORS_INSTANCE(Kokkos::OpenMP)
#endif
