// SPDX-License-Identifier: MIT
// Kokkos Kernels' Gauss-Seidel and colouring (detail/gs_kokkos_kernels.hpp) for Kokkos::Threads, when
// enabled: one translation unit per host backend (minutes of compile each), so they build in parallel.
#include "linsolve/detail/gs_kokkos_kernels_impl.hpp"

#if defined(KOKKOS_ENABLE_THREADS)
NUMLAB_KK_GS_SETUP_INSTANCE(Kokkos::Threads)
NUMLAB_KK_GS_APPLY_INSTANCE(Kokkos::Threads)
NUMLAB_KK_GRAPH_COLORS_INSTANCE(Kokkos::Threads)
#endif
