// SPDX-License-Identifier: MIT
// Transparent huge pages for large host Views that are written once per call (the N^2 buffers of
// the standard methods). Where the kernel's THP mode is `madvise` (Debian's default), a fresh
// allocation faults in 4 KiB pages: 33k faults for a 128 MiB buffer, which on a virtualised host
// cost as much as the GEMM that fills it. madvise(MADV_HUGEPAGE) before the first touch makes them
// 2 MiB faults, what NumPy does for its own arrays of 4 MiB and more. A no-op for device memory,
// for small Views and where madvise is unavailable.
#pragma once

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace numlab::kx {

template <class View>
void advise_huge_pages(View const& v) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename View::memory_space>::accessible &&
                std::is_same_v<typename View::memory_space, Kokkos::HostSpace>) {
    constexpr std::uintptr_t huge = std::uintptr_t(2) << 20;
    auto const begin = reinterpret_cast<std::uintptr_t>(v.data());
    auto const end = begin + v.span() * sizeof(typename View::value_type);
    std::uintptr_t const first = (begin + huge - 1) & ~(huge - 1), last = end & ~(huge - 1);
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);  // advice only
  }
#else
  (void)v;
#endif
}

}  // namespace numlab::kx
