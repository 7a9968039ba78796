// SPDX-License-Identifier: MIT
// Kokkos Kernels' Gauss-Seidel setup and colouring (detail/gs_kokkos_kernels.hpp) for the device
// backends; the sweeps are in gs_kokkos_kernels_apply.cpp (each is minutes of nvcc: apart, they
// compile in parallel).
#include "linsolve/detail/gs_kokkos_kernels_impl.hpp"

NUMLAB_FOR_EACH_DEVICE_KOKKOS_BACKEND(NUMLAB_KK_GS_SETUP_INSTANCE)
NUMLAB_FOR_EACH_DEVICE_KOKKOS_BACKEND(NUMLAB_KK_GRAPH_COLORS_INSTANCE)
