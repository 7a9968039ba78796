// SPDX-License-Identifier: MIT
#include "core/blas_info.hpp"

#include <fmt/format.h>

// OpenBLAS' own queries, weak: a build against another BLAS links without them (null here).
extern "C" {
int openblas_get_parallel(void) __attribute__((weak));
int openblas_get_num_threads(void) __attribute__((weak));
char* openblas_get_config(void) __attribute__((weak));
}

namespace numlab {

BlasInfo blas_info() {
  BlasInfo b;
  if (openblas_get_parallel == nullptr) {
    b.library = "not OpenBLAS";
    b.threading = "unknown";
    return b;
  }
  b.library = openblas_get_config ? std::string(openblas_get_config()) : "OpenBLAS";  // "OpenBLAS 0.3.21 ..."
  switch (openblas_get_parallel()) {  // OpenBLAS: 0 sequential, 1 its own pthreads, 2 OpenMP
    case 0: b.threading = "sequential"; break;
    case 1: b.threading = "pthreads"; break;
    case 2: b.threading = "openmp"; break;
    default: b.threading = "unknown";
  }
  b.threads = openblas_get_num_threads ? openblas_get_num_threads() : 0;
  return b;
}

std::string describe(BlasInfo const& b) {
  if (b.library == "not OpenBLAS") return b.library;
  return fmt::format("OpenBLAS ({}, {} thread{})", b.threading == "openmp" ? "OpenMP" : b.threading, b.threads,
                     b.threads == 1 ? "" : "s");
}

}  // namespace numlab
