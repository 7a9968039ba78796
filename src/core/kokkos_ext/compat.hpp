// SPDX-License-Identifier: MIT
// One place for the API moves between Kokkos / Kokkos Kernels 3.4 (Debian) and 4.x.
#pragma once

#include <Kokkos_Core.hpp>

#if KOKKOS_VERSION >= 40000
#define NUMLAB_KOKKOS4 1
#else
#define NUMLAB_KOKKOS4 0
#endif

namespace numlab::kx {

// Math functions: Kokkos::Experimental:: in 3.x, Kokkos:: in 4.x.
#if NUMLAB_KOKKOS4
using Kokkos::abs;
using Kokkos::exp;
using Kokkos::exp2;
using Kokkos::fabs;
using Kokkos::isfinite;
using Kokkos::log;
using Kokkos::sqrt;
#else
using Kokkos::Experimental::exp;
using Kokkos::Experimental::exp2;
using Kokkos::Experimental::fabs;
using Kokkos::Experimental::isfinite;
using Kokkos::Experimental::log;
using Kokkos::Experimental::sqrt;
KOKKOS_INLINE_FUNCTION double abs(double x) { return Kokkos::Experimental::fabs(x); }
KOKKOS_INLINE_FUNCTION float abs(float x) { return Kokkos::Experimental::fabs(x); }
#endif

}  // namespace numlab::kx
