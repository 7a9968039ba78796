// SPDX-License-Identifier: MIT
// Host vs device traits of the forward kernels (no concrete execution space is named).
#pragma once

#include <Kokkos_Core.hpp>

#include <type_traits>

namespace numlab::attention::detail {

// Host execution spaces (Serial, OpenMP, Threads) run on HostSpace; GPUs on their own space.
template <class ExecSpace>
inline constexpr bool is_host_exec_v = std::is_same_v<typename ExecSpace::memory_space, Kokkos::HostSpace>;

// A team member of a host space: its vector loops run on one lane (Kokkos executes
// ThreadVectorRange as a plain loop there), the compiler's auto-vectoriser does the SIMD.
template <class Member>
inline constexpr bool is_host_member_v = is_host_exec_v<typename Member::execution_space>;

}  // namespace numlab::attention::detail
