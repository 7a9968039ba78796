// SPDX-License-Identifier: MIT
// How the linear-systems experiment runs a method: run_method<Method> dispatches on the backend,
// casts the problem to LinsolveProblem<ExecSpace> and calls Method::run. Only declared here: each
// method is instantiated in its own translation unit, methods/<name>.cpp
// (NUMLAB_LINSOLVE_METHOD_UNIT, detail/method_runner_impl.hpp), so the methods' kernels for every
// backend compile in parallel and not all in linsolve_experiment.cpp.
#pragma once

#include "core/experiment.hpp"

namespace numlab::linsolve {

// Method::run on `problem`, a LinsolveProblem<ExecSpace> of the point's backend.
template <class Method>
PointResult run_method(ProblemInstance& problem, PointSpec const& pt, RunSettings const& s);

}  // namespace numlab::linsolve
