// SPDX-License-Identifier: MIT
// The library reference direct solve: LAPACK gesv through Kokkos Kernels on the host, cuSOLVER
// (getrf + getrs) through KokkosLapack on CUDA with Kokkos Kernels 4.x.
#pragma once

#include "core/kokkos_ext/compat.hpp"
#include "linsolve/csr.hpp"
#include "linsolve/dense_lu.hpp"
#include "linsolve/detail/dense_lu_impl.hpp"
#include "linsolve/solve_status.hpp"

#include <Kokkos_Core.hpp>
#if NUMLAB_KOKKOS4
#include <KokkosLapack_gesv.hpp>
#else
#include <KokkosBlas_gesv.hpp>
#endif

#include <stdexcept>
#include <type_traits>

namespace numlab::linsolve {

// The library reference_solve calls on ExecSpace (a point's kernel_run).
template <class ExecSpace>
char const* reference_solve_library() {
  if constexpr (detail::is_host_space_v<ExecSpace>) return "lapack_gesv";
#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOSKERNELS_ENABLE_TPL_CUSOLVER)
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) return "cusolver_getrf_getrs";
#endif
  return "kokkoskernels_gesv";
}

// Solves A x = b: A is overwritten by its LU factors, x holds b on entry and the solution on exit.
// Neither Kokkos Kernels 3.4 nor 4.x hands LAPACK's info back, so singularity is judged on the
// returned U with the same rule as lu_factor (detail::singular_threshold); an exact zero pivot
// (LAPACK info > 0) satisfies it too. x is undefined (b untouched on the host, inf/NaN from
// cuSOLVER) when the result is singular.
template <class ExecSpace>
LuResult reference_solve(ExecSpace const& space, DenseMatrix<ExecSpace> A, Vector<ExecSpace> x) {
  const int n = static_cast<int>(A.extent(0));
  if (A.extent(1) != A.extent(0) || x.extent(0) != A.extent(0))
    throw std::invalid_argument("numlab::linsolve::reference_solve: A must be square and x hold n entries");
  if (n == 0) return {};
  const double threshold = detail::singular_threshold(n, detail::max_abs(space, A));
  // Size n (not the empty "no pivoting" view): the LAPACK TPL requires pivoting, and cuSOLVER
  // rejects a zero-extent pivot view.
#if NUMLAB_KOKKOS4
  Kokkos::View<int*, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> ipiv(
      "numlab::reference_solve::ipiv", n);
  KokkosLapack::gesv(space, A, x, ipiv);
#else
  // 3.4's LAPACK specialisation takes the pivots on the default host space only: with OpenMP
  // enabled a Serial-backend solve must still hand them there (else no specialisation links).
  Kokkos::View<int*, Kokkos::LayoutLeft, Kokkos::Device<Kokkos::DefaultHostExecutionSpace, Kokkos::HostSpace>> ipiv(
      "numlab::reference_solve::ipiv", n);
  space.fence();  // 3.4's gesv has no execution-space argument
  KokkosBlas::gesv(A, x, ipiv);
#endif
  LuResult r;
  r.zero_pivot = detail::first_zero_pivot(space, A, threshold);
  if (r.zero_pivot >= 0) r.status = SolveStatus::singular;
  return r;
}

}  // namespace numlab::linsolve
