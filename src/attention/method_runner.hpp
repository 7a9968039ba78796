// SPDX-License-Identifier: MIT
// How the attention experiment runs a method on a Kokkos backend: run_method<Method> dispatches on
// the backend and dtype, casts the problem to AttentionProblem<ExecSpace, T> and calls
// Method::run. Only declared here: each method is instantiated in its own translation unit,
// methods/<name>.cpp (NUMLAB_ATTENTION_METHOD_UNIT, detail/method_runner_impl.hpp), so the
// methods' kernels, for every backend and precision, compile in parallel and not all in
// attention_experiment.cpp.
#pragma once

#include "core/experiment.hpp"

#include <stdexcept>
#include <string>

namespace numlab::attention {

// Calls f(T{}) with the Kokkos backends' precision named by dtype: double for float64, float for
// float32 (bfloat16 / float16 run on cuda_native only; validation keeps them away from here).
template <class F>
decltype(auto) with_dtype(std::string const& dtype, F&& f) {
  if (dtype == "float64") return f(double{});
  if (dtype == "float32") return f(float{});
  throw std::logic_error("dtype '" + dtype + "' has no Kokkos kernels");
}

// Method::run on `problem`, an AttentionProblem<ExecSpace, T> of the point's backend and dtype.
template <class Method>
PointResult run_method(ProblemInstance& problem, PointSpec const& pt, RunSettings const& s);

}  // namespace numlab::attention
