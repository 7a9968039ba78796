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

// The bits of a float and back, in device code too (Kokkos::bit_cast is 4.x only; 3.4 is host-only
// here, where __builtin_memcpy is the defined way).
KOKKOS_INLINE_FUNCTION unsigned int float_bits(float x) {
  static_assert(sizeof(unsigned int) == sizeof(float), "32-bit unsigned int");
#if NUMLAB_KOKKOS4
  return Kokkos::bit_cast<unsigned int>(x);
#else
  unsigned int u;
  __builtin_memcpy(&u, &x, sizeof u);
  return u;
#endif
}
KOKKOS_INLINE_FUNCTION float float_from_bits(unsigned int u) {
#if NUMLAB_KOKKOS4
  return Kokkos::bit_cast<float>(u);
#else
  float x;
  __builtin_memcpy(&x, &u, sizeof x);
  return x;
#endif
}

}  // namespace numlab::kx
