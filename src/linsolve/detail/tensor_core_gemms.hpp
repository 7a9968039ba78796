// SPDX-License-Identifier: MIT
// TF32 tensor cores for the float32 GEMMs that Kokkos Kernels sends to cuBLAS: the math mode of
// Kokkos Kernels' cuBLAS handle, set for a scope and restored after it (the mode is read when a
// call is enqueued, so restoring once the calls are issued is enough). CUDA builds with the
// cuBLAS TPL only; elsewhere tf32_gemms_available() is false and the scope does nothing.
#pragma once

#include <Kokkos_Core.hpp>
#include <KokkosKernels_config.h>

#include <stdexcept>
#include <string>
#include <type_traits>

#if defined(KOKKOS_ENABLE_CUDA) && defined(KOKKOSKERNELS_ENABLE_TPL_CUBLAS)
#include <KokkosBlas_tpl_spec.hpp>
#include <cublas_v2.h>
#define NUMLAB_TF32_GEMMS 1
#else
#define NUMLAB_TF32_GEMMS 0
#endif

namespace numlab::linsolve::detail {

template <class ExecSpace>
constexpr bool tf32_gemms_available() {
#if NUMLAB_TF32_GEMMS
  return std::is_same_v<ExecSpace, Kokkos::Cuda>;
#else
  return false;
#endif
}

template <class ExecSpace>
class Tf32GemmScope {
 public:
  explicit Tf32GemmScope(bool on) {
#if NUMLAB_TF32_GEMMS
    if constexpr (std::is_same_v<ExecSpace, Kokkos::Cuda>) {
      if (!on) return;
      handle_ = KokkosBlas::Impl::CudaBlasSingleton::singleton().handle;
      check(cublasGetMathMode(handle_, &previous_), "cublasGetMathMode");
      check(cublasSetMathMode(handle_, CUBLAS_TF32_TENSOR_OP_MATH), "cublasSetMathMode");
      set_ = true;
    }
#else
    if (on) throw std::invalid_argument("numlab: TF32 GEMMs need a CUDA build with cuBLAS");
#endif
  }
  ~Tf32GemmScope() {
#if NUMLAB_TF32_GEMMS
    if (set_) cublasSetMathMode(handle_, previous_);
#endif
  }
  Tf32GemmScope(Tf32GemmScope const&) = delete;
  Tf32GemmScope& operator=(Tf32GemmScope const&) = delete;

 private:
#if NUMLAB_TF32_GEMMS
  static void check(cublasStatus_t s, char const* what) {
    if (s != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string("numlab: ") + what + " failed (" + std::to_string(int(s)) + ")");
  }
  cublasHandle_t handle_ = nullptr;
  cublasMath_t previous_ = CUBLAS_DEFAULT_MATH;
  bool set_ = false;
#endif
};

}  // namespace numlab::linsolve::detail
