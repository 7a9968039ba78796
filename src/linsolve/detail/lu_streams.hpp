// SPDX-License-Identifier: MIT
// The two streams of the look-ahead LU (dense_lu.hpp): the trailing updates on one, the next
// panel's factorisation on another, so the panel's latency-bound steps run under the trailing
// GEMM instead of after it. On CUDA two streams of their own, the panel's at the device's
// highest priority (its blocks are scheduled first as the GEMM's retire), ordered by events; on
// every other backend both are the caller's space and the same code runs in program order.
#pragma once

#include <Kokkos_Core.hpp>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace numlab::linsolve::detail {

template <class ExecSpace>
struct LuStreams {
  ExecSpace main;  // trailing updates, swaps
  ExecSpace side;  // the next panel
  bool overlapped = false;
};

#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOS_VERSION) && KOKKOS_VERSION >= 40200
inline void cuda_check(cudaError_t e, char const* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("numlab::linsolve::lu look-ahead: ") + what + ": " + cudaGetErrorString(e));
}

// Created once per process (a Kokkos::Cuda instance per call would cost its setup every time),
// under a lock (two host threads may factor at once: they then share the two streams, which
// orders their work but keeps it correct), and released before Kokkos::finalize.
inline LuStreams<Kokkos::Cuda> const& cuda_lu_streams() {
  static std::mutex m;
  static std::unique_ptr<LuStreams<Kokkos::Cuda>> streams;
  std::lock_guard<std::mutex> lock(m);
  if (!streams) {
    int lowest = 0, greatest = 0;
    cuda_check(cudaDeviceGetStreamPriorityRange(&lowest, &greatest), "cudaDeviceGetStreamPriorityRange");
    cudaStream_t a = nullptr, b = nullptr;
    cuda_check(cudaStreamCreateWithPriority(&a, cudaStreamNonBlocking, lowest), "cudaStreamCreateWithPriority");
    if (auto e = cudaStreamCreateWithPriority(&b, cudaStreamNonBlocking, greatest); e != cudaSuccess) {
      cudaStreamDestroy(a);
      cuda_check(e, "cudaStreamCreateWithPriority");
    }
    streams = std::make_unique<LuStreams<Kokkos::Cuda>>(LuStreams<Kokkos::Cuda>{
        Kokkos::Cuda(a, Kokkos::Impl::ManageStream::yes), Kokkos::Cuda(b, Kokkos::Impl::ManageStream::yes), true});
    Kokkos::push_finalize_hook([] {
      std::lock_guard<std::mutex> l(m);
      streams.reset();
    });
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
    cuda_check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    const cudaError_t rec = cudaEventRecord(e, signaller.cuda_stream());
    const cudaError_t wait = rec == cudaSuccess ? cudaStreamWaitEvent(waiter.cuda_stream(), e, 0) : rec;
    cudaEventDestroy(e);  // released once the wait is done
    cuda_check(wait, rec == cudaSuccess ? "cudaStreamWaitEvent" : "cudaEventRecord");
    return;
  }
#endif
  signaller.fence();
  (void)waiter;
}

}  // namespace numlab::linsolve::detail
