// SPDX-License-Identifier: MIT
// Kokkos Kernels' Gauss-Seidel sweeps (detail/gs_kokkos_kernels.hpp) for the device backends.
#include "linsolve/detail/gs_kokkos_kernels_impl.hpp"

NUMLAB_FOR_EACH_DEVICE_KOKKOS_BACKEND(NUMLAB_KK_GS_APPLY_INSTANCE)
