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

namespace detail {

// The library call library_gesv makes on ExecSpace: getrf + getrs (with_solve) or getrf alone.
template <class ExecSpace>
char const* library_lu_call(bool with_solve) {
  if constexpr (is_host_space_v<ExecSpace>) return with_solve ? "lapack_gesv" : "lapack_getrf";
#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOSKERNELS_ENABLE_TPL_CUSOLVER)
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) return with_solve ? "cusolver_getrf_getrs" : "cusolver_getrf";
#endif
  return "kokkoskernels_gesv";
}

// The library's gesv: A overwritten by its LU factors, rhs by the solution; returns the library's
// (1-based) pivots. Size n, not the empty "no pivoting" view: the LAPACK TPL requires pivoting and
// cuSOLVER rejects a zero-extent pivot view. 3.4's LAPACK specialisation takes the pivots on the
// default host space only: with OpenMP enabled a Serial-backend solve must still hand them there
// (else no specialisation links), and its gesv has no execution-space argument (hence the fence).
template <class ExecSpace, class AV, class BV>
auto library_gesv(ExecSpace const& space, AV const& A, BV const& rhs) {
  const int n = static_cast<int>(A.extent(0));
#if NUMLAB_KOKKOS4
  Kokkos::View<int*, Kokkos::LayoutLeft, Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>> ipiv(
      "numlab::library_gesv::ipiv", n);
  KokkosLapack::gesv(space, A, rhs, ipiv);
#else
  Kokkos::View<int*, Kokkos::LayoutLeft, Kokkos::Device<Kokkos::DefaultHostExecutionSpace, Kokkos::HostSpace>> ipiv(
      "numlab::library_gesv::ipiv", n);
  space.fence();
  KokkosBlas::gesv(A, rhs, ipiv);
#endif
  return ipiv;
}

}  // namespace detail

// The library reference_solve calls on ExecSpace (a point's kernel_run).
template <class ExecSpace>
char const* reference_solve_library() {
  return detail::library_lu_call<ExecSpace>(true);
}

// The library getrf that library_lu_factor calls on ExecSpace (a point's kernel_run).
template <class ExecSpace>
char const* library_getrf_name() {
  return detail::library_lu_call<ExecSpace>(false);
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
  detail::library_gesv(space, A, x);
  LuResult r;
  r.zero_pivot = detail::first_zero_pivot(space, A, threshold);
  if (r.zero_pivot >= 0) r.status = SolveStatus::singular;
  return r;
}

// PA = LU in place by the library's getrf (LAPACK on the host, cuSOLVER on CUDA: gesv of a zero
// right-hand side, Kokkos Kernels having no getrf), T = float or double. piv is 0-based, as
// lu_factor's (the library's is 1-based); only exact zero (or NaN) pivots count as singular, as in
// lu_factor with zero_pivot_eps = 0, the low-precision factors' rule.
template <class ExecSpace, class AV>
LuResult library_lu_factor(ExecSpace const& space, AV const& A,
                           Kokkos::View<int*, typename ExecSpace::memory_space> const& piv) {
  using T = typename AV::non_const_value_type;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "getrf: float or double");
  using Dev = Kokkos::Device<ExecSpace, typename ExecSpace::memory_space>;
  const int n = static_cast<int>(A.extent(0));
  if (A.extent(1) != A.extent(0) || piv.extent(0) < A.extent(0))
    throw std::invalid_argument("numlab::linsolve::library_lu_factor: A must be square and piv hold n entries");
  if (n == 0) return {};
  Kokkos::View<T*, Kokkos::LayoutLeft, Dev> rhs("numlab::library_lu::rhs", n);
  const auto ipiv = detail::library_gesv(space, A, rhs);
  Kokkos::parallel_for(
      "numlab::library_lu::pivots", Kokkos::RangePolicy<ExecSpace>(space, 0, n),
      KOKKOS_LAMBDA(const int i) { piv(i) = ipiv(i) - 1; });
  LuResult r;
  r.zero_pivot = detail::first_zero_pivot(space, A, 0.0);
  if (r.zero_pivot >= 0) r.status = SolveStatus::singular;
  return r;
}

}  // namespace numlab::linsolve
