// SPDX-License-Identifier: MIT
// cuBLAS opened on first use (dlopen), not linked: libcublasLt's static initialisers touch about
// 220 MB and take about 0.3 s in every process that links it (perf on the 2-core host), so every
// process of a build with the native CUDA kernels paid that at start, GPU or not: the 600 test
// processes of the suite among them. Only the functions standard_attention_cuda.cu calls.
#pragma once

#include <cublas_v2.h>

#include <dlfcn.h>

#include <mutex>
#include <stdexcept>
#include <string>

namespace numlab::cuda::lazy_cublas {

struct Api {
  decltype(&cublasCreate) create = nullptr;  // cublas_v2.h maps these names to the _v2 symbols
  decltype(&cublasSetStream) set_stream = nullptr;
  // The library's symbol (the header adds a C++ overload taking cudaDataType as compute type).
  cublasStatus_t (*gemm_strided_batched_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                            const void*, const void*, cudaDataType, int, long long, const void*,
                                            cudaDataType, int, long long, const void*, void*, cudaDataType, int,
                                            long long, int, cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
  decltype(&cublasGetProperty) get_property = nullptr;
};

// The library of this cuBLAS major version from the loader's search path, else the toolkit's
// file CMake found (NUMLAB_CUBLAS_LIBRARY). Throws, with dlerror's words, where neither opens.
inline Api const& api() {
  static std::once_flag once;
  static Api a;
  static std::string error;
  std::call_once(once, [] {
    std::string const soname = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
    void* h = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
#ifdef NUMLAB_CUBLAS_LIBRARY
    if (!h) h = dlopen(NUMLAB_CUBLAS_LIBRARY, RTLD_NOW | RTLD_LOCAL);
#endif
    if (!h) {
      char const* e = dlerror();
      error = "cannot open " + soname + ": " + (e ? e : "unknown dlopen error");
      return;
    }
    auto sym = [&](char const* name) {
      void* p = dlsym(h, name);
      if (!p) error += std::string(error.empty() ? "" : "; ") + "no symbol " + name + " in " + soname;
      return p;
    };
    a.create = reinterpret_cast<decltype(a.create)>(sym("cublasCreate_v2"));
    a.set_stream = reinterpret_cast<decltype(a.set_stream)>(sym("cublasSetStream_v2"));
    a.gemm_strided_batched_ex = reinterpret_cast<decltype(a.gemm_strided_batched_ex)>(sym("cublasGemmStridedBatchedEx"));
    a.get_property = reinterpret_cast<decltype(a.get_property)>(sym("cublasGetProperty"));
  });
  if (!error.empty()) throw std::runtime_error("numlab::cuda: cuBLAS: " + error);
  return a;
}

}  // namespace numlab::cuda::lazy_cublas
