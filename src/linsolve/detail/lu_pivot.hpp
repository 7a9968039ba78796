// SPDX-License-Identifier: MIT
// The pivot candidate of the dense LU's panel kernels and its reducer (the largest magnitude,
// ties to the first row), shared by the partial-pivoting leaves and the tournament.
#pragma once

#include "core/kokkos_ext/compat.hpp"

#include <Kokkos_Core.hpp>

#include <climits>

namespace numlab::linsolve::detail {

// A host execution space (Serial, OpenMP, Threads): it can run on HostSpace data. Not CUDA/HIP,
// also when their default memory is host-accessible (UVM).
template <class ExecSpace>
inline constexpr bool is_host_space_v = Kokkos::SpaceAccessibility<ExecSpace, Kokkos::HostSpace>::accessible;

// Pivot candidate reducer of the fused and team kernels: the largest |a_ic|, ties to the smaller
// row (LAPACK idamax's first maximum, whatever the thread layout). Initial value -1: any finite
// |a| wins, a NaN never does (an all-NaN column keeps loc = INT_MAX, treated as "no interchange").
using PivotCandidate = Kokkos::ValLocScalar<double, int>;

template <class Space = Kokkos::HostSpace>
struct PivotMaxFirst {
  using reducer = PivotMaxFirst<Space>;
  using value_type = PivotCandidate;
  using result_view_type = Kokkos::View<value_type, Space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

  result_view_type value;

  KOKKOS_INLINE_FUNCTION explicit PivotMaxFirst(value_type& v) : value(&v) {}

  KOKKOS_INLINE_FUNCTION static bool better(double sv, int sl, double dv, int dl) {
    return sv > dv || (sv == dv && sl < dl);
  }
  KOKKOS_INLINE_FUNCTION void join(value_type& dest, const value_type& src) const {
    if (better(src.val, src.loc, dest.val, dest.loc)) {
      dest.val = src.val;
      dest.loc = src.loc;
    }
  }
#if !NUMLAB_KOKKOS4  // 3.x joins through volatile references; 4.x deprecates that overload
  KOKKOS_INLINE_FUNCTION void join(volatile value_type& dest, const volatile value_type& src) const {
    if (better(src.val, src.loc, dest.val, dest.loc)) {
      dest.val = src.val;
      dest.loc = src.loc;
    }
  }
#endif
  KOKKOS_INLINE_FUNCTION void init(value_type& v) const {
    v.val = -1.0;
    v.loc = INT_MAX;  // not std::numeric_limits: a host function to nvcc without --expt-relaxed-constexpr
  }
  KOKKOS_INLINE_FUNCTION value_type& reference() const { return *value.data(); }
  KOKKOS_INLINE_FUNCTION result_view_type view() const { return value; }
  KOKKOS_INLINE_FUNCTION bool references_scalar() const { return true; }
};

}  // namespace numlab::linsolve::detail
