// SPDX-License-Identifier: MIT
// Kokkos Kernels' Gauss-Seidel and colouring (detail/gs_kokkos_kernels.hpp) for the host backends.
#include "linsolve/detail/gs_kokkos_kernels_impl.hpp"

NUMLAB_FOR_EACH_HOST_KOKKOS_BACKEND(NUMLAB_KK_GS_SETUP_INSTANCE)
NUMLAB_FOR_EACH_HOST_KOKKOS_BACKEND(NUMLAB_KK_GS_APPLY_INSTANCE)
NUMLAB_FOR_EACH_HOST_KOKKOS_BACKEND(NUMLAB_KK_GRAPH_COLORS_INSTANCE)
