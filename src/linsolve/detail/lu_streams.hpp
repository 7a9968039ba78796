// SPDX-License-Identifier: MIT
// The two streams of the look-ahead LU (dense_lu.hpp): the trailing updates on one, the next
// panel's factorisation on another, so the panel's latency-bound steps run under the trailing
// GEMM instead of after it. On CUDA two streams of their own, the panel's at the device's
// highest priority (its blocks are scheduled first as the GEMM's retire), ordered by events; on
// every other backend both are the caller's space and the same code runs in program order.
#pragma once

#include <Kokkos_Core.hpp>

#include <memory>
#include <type_traits>

namespace numlab::linsolve::detail {

template <class ExecSpace>
struct LuStreams {
  ExecSpace main;  // trailing updates, swaps
  ExecSpace side;  // the next panel
  bool overlapped = false;
};

#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOS_VERSION) && KOKKOS_VERSION >= 40200
// Created once per process (a Kokkos::Cuda instance per call would cost its setup every time) and
// released before Kokkos::finalize.
inline LuStreams<Kokkos::Cuda> const& cuda_lu_streams() {
  static std::unique_ptr<LuStreams<Kokkos::Cuda>> streams;
  if (!streams) {
    int lowest = 0, greatest = 0;
    cudaDeviceGetStreamPriorityRange(&lowest, &greatest);
    cudaStream_t a = nullptr, b = nullptr;
    cudaStreamCreateWithPriority(&a, cudaStreamNonBlocking, lowest);
    cudaStreamCreateWithPriority(&b, cudaStreamNonBlocking, greatest);
    streams = std::make_unique<LuStreams<Kokkos::Cuda>>(LuStreams<Kokkos::Cuda>{
        Kokkos::Cuda(a, Kokkos::Impl::ManageStream::yes), Kokkos::Cuda(b, Kokkos::Impl::ManageStream::yes), true});
    Kokkos::push_finalize_hook([] { streams.reset(); });
  }
  return *streams;
}
#endif

// Whether an LU on ExecSpace overlaps its panels with the trailing updates when asked to.
template <class ExecSpace>
constexpr bool lu_can_overlap() {
#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOS_VERSION) && KOKKOS_VERSION >= 40200
  return std::is_same_v<ExecSpace, Kokkos::Cuda>;
#else
  return false;
#endif
}

// The streams for an LU on `space`; `overlap` false gives the caller's space twice.
template <class ExecSpace>
LuStreams<ExecSpace> lu_streams(ExecSpace const& space, bool overlap) {
#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOS_VERSION) && KOKKOS_VERSION >= 40200
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>)
    if (overlap) return cuda_lu_streams();
#endif
  (void)overlap;
  return {space, space, false};
}

// Work enqueued on `waiter` from now on starts after everything enqueued on `signaller` so far.
// Without overlap the two are one in-order space: nothing to do.
template <class ExecSpace>
void stream_wait(LuStreams<ExecSpace> const& s, ExecSpace const& waiter, ExecSpace const& signaller) {
  if (!s.overlapped) return;
#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOS_VERSION) && KOKKOS_VERSION >= 40200
  if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
    cudaEvent_t e;
    cudaEventCreateWithFlags(&e, cudaEventDisableTiming);
    cudaEventRecord(e, signaller.cuda_stream());
    cudaStreamWaitEvent(waiter.cuda_stream(), e, 0);
    cudaEventDestroy(e);  // released once the wait is done
    return;
  }
#endif
  signaller.fence();
  (void)waiter;
}

}  // namespace numlab::linsolve::detail
