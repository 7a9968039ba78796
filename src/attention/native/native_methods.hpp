// SPDX-License-Identifier: MIT
// The native CUDA backend family of the attention methods (backend cuda_native): FlashMethod and
// FlashBwdMethod call these with their typed options, as they call their Kokkos kernels on a
// Kokkos backend. A method without such a run has no native implementation.
#pragma once

#include "attention/methods/method_options.hpp"
#include "core/experiment.hpp"

namespace numlab::attention::native {

// A problem on the native path (defined in native_attention.cpp).
struct Problem;
Problem& as_problem(ProblemInstance& p);  // throws std::bad_cast if p is not one

// Without a CUDA device: status skipped, reason "no CUDA device".
PointResult run_flash(Problem& p, FlashOptions const& o, RunSettings const& s);
PointResult run_flash_bwd(Problem& p, FlashBwdOptions const& o, RunSettings const& s);

}  // namespace numlab::attention::native
