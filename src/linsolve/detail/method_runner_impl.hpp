// SPDX-License-Identifier: MIT
// Definition of run_method (linsolve/method_runner.hpp), for the methods' translation units:
// methods/<name>.cpp is the method's header and NUMLAB_LINSOLVE_METHOD_UNIT(<Name>Method).
#pragma once

#include "core/kokkos_ext/backend.hpp"
#include "core/method_list.hpp"
#include "linsolve/method_runner.hpp"
#include "linsolve/problem.hpp"

namespace numlab::linsolve {

template <class Method>
PointResult run_method(ProblemInstance& problem, PointSpec const& pt, RunSettings const& s) {
  return with_backend(s.backend, [&](auto space) {
    auto& p = dynamic_cast<LinsolveProblem<decltype(space)>&>(problem);
    return run_typed<Method>(p, pt, s);
  });
}

}  // namespace numlab::linsolve

// The method's run for every backend, in this translation unit.
#define NUMLAB_LINSOLVE_METHOD_UNIT(Method)                                                                \
  namespace numlab::linsolve {                                                                             \
  template PointResult run_method<Method>(ProblemInstance&, PointSpec const&, RunSettings const&);        \
  }
