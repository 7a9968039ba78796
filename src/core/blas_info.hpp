// SPDX-License-Identifier: MIT
// Which BLAS the process runs and how it threads (provenance, numlab --list): the host's dense
// kernels (GE's gemm/trsm, the standard attention's GEMMs) run in it.
#pragma once

#include <string>

namespace numlab {

struct BlasInfo {
  std::string library;    // "OpenBLAS 0.3.21 ... USE_OPENMP ..." (its config string), or "not OpenBLAS"
  std::string threading;  // "openmp" | "pthreads" | "sequential" | "unknown"
  int threads = 0;        // the BLAS's thread count, 0 when unknown
};

BlasInfo blas_info();

// One line: "OpenBLAS (OpenMP, 2 threads)".
std::string describe(BlasInfo const& b);

}  // namespace numlab
