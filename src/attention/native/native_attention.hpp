// SPDX-License-Identifier: MIT
// `backend: cuda_native` of the attention experiment (`cuda` in attention configs before it):
// the native CUDA tensor-core kernels (src/cuda, bf16 / fp16), run through
// numlab::cuda::NativeAttention, with the same metrics as the Kokkos methods. The methods with a
// native run (native_methods.hpp): `flash` (forward) and `flash_bwd` (backward; `dq: separate` =
// the deterministic backward, `atomic` = fp32 atomics); `standard` (kernel cublas: cuBLAS
// tensor-core GEMMs, fp32 softmax, S/P as one fp32 N^2 buffer) and `standard_bwd` (its backward,
// P recomputed); `tiled` (the lab's tiling without online softmax: two passes, S recomputed).
// With vs_standard (auto: when the config runs standard or standard_bwd) every point also records
// <X>_max_abs_vs_standard and <X>_rel_fro_vs_standard against the native standard / standard_bwd on
// the same inputs in the same dtype (vs_standard_skipped where its buffers exceed half the device).
//
// Per point, besides the errors against the fp64 reference (computed on the bf16/fp16
// inputs, as every method's), the error of standard attention computed in the same
// precision on the host (same_precision.hpp), as `<X>_max_abs_error_standard_same_precision`
// and `<X>_rel_fro_error_standard_same_precision` for X = O, L or dQ, dK, dV: the
// accuracy rule is `<X>_max_abs_error <= 2 <X>_max_abs_error_standard_same_precision`.
// That baseline is computed while B H N N_kv D <= kSamePrecisionMaxWork.
//
// In a build without the native path (no nvcc) only validate_point() does anything: it
// says that bfloat16 / float16 need `backend: cuda_native`.
#pragma once

#include "attention/attention_types.hpp"
#include "core/experiment.hpp"

#include <memory>
#include <string>
#include <vector>

namespace numlab::attention::native {

// Work limit (B H N N_kv D) of the host same-precision baseline: about 10 s on one core.
inline constexpr double kSamePrecisionMaxWork = 8589934592.0;  // 2^33

// Whether this build has the native path (numlab_cuda).
bool built();
// The dtypes of the native path, and of the Kokkos kernels.
bool is_native_dtype(std::string const& dtype);
// The backend name of the native path, and the one attention configs used before it (kept as an
// alias with a deprecation note).
inline constexpr char const* kBackend = "cuda_native";
inline constexpr char const* kDeprecatedBackend = "cuda";

// Checks of one point that depend on the backend (throws KeyError naming the key):
// bfloat16 / float16 only with backend cuda_native, float64 only without, float32 with cuda_native
// for flash and flash_bwd only; with cuda_native only the methods with a native run
// (`native_methods`) and the native head dims.
// (The kernel and tile options are checked by the experiment, from the methods' Options.)
void validate_point(PointSpec const& pt, RunSettings const& s, std::vector<std::string> const& native_methods);

// The problem of a point: host inputs (fp64, from the seed or a file) rounded to the
// dtype, uploaded when a device is present, and the fp64 reference when `reference`.
std::unique_ptr<ProblemInstance> make_problem(AttentionShape const& shape, std::vector<double> Q,
                                              std::vector<double> K, std::vector<double> V, std::vector<double> dO,
                                              ParamMap const& prm);

}  // namespace numlab::attention::native
