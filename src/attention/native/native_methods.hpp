// SPDX-License-Identifier: MIT
// The native CUDA backend family of the attention methods (backend cuda_native): the methods call
// these with their typed options, as they call their Kokkos kernels on a Kokkos backend. A method
// without such a run (tiled_bwd) has no native implementation.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/methods/method_options.hpp"
#include "core/experiment.hpp"

namespace numlab::attention::native {

// A problem on the native path (defined in native_attention.cpp).
struct Problem;
Problem& as_problem(ProblemInstance& p);  // throws std::bad_cast if p is not one
AttentionShape const& shape_of(Problem const& p);

// Without a CUDA device: status skipped, reason "no CUDA device".
PointResult run_flash(Problem& p, FlashOptions const& o, RunSettings const& s);
PointResult run_flash_bwd(Problem& p, FlashBwdOptions const& o, RunSettings const& s);
// Standard attention on cuBLAS (kernel cublas) and its backward (P recomputed, dP/dS materialised),
// and the lab's tiled forward without online softmax (two passes). The O(N^2) methods' max_gib
// skip is the method's (methods/standard.hpp), before these are called.
PointResult run_standard(Problem& p, StandardOptions const& o, RunSettings const& s);
PointResult run_standard_bwd(Problem& p, MaxGibOptions const& o, RunSettings const& s);
PointResult run_tiled(Problem& p, TileOptions const& o, RunSettings const& s);

}  // namespace numlab::attention::native
