// SPDX-License-Identifier: MIT
// Definition of run_method (attention/method_runner.hpp), for the methods' translation units:
// methods/<name>.cpp is the method's header and NUMLAB_ATTENTION_METHOD_UNIT(<Name>Method).
#pragma once

#include "attention/method_runner.hpp"
#include "attention/problem.hpp"
#include "core/kokkos_ext/backend.hpp"
#include "core/method_list.hpp"

namespace numlab::attention {

template <class Method>
PointResult run_method(ProblemInstance& problem, PointSpec const& pt, RunSettings const& s) {
  return with_backend(s.backend, [&](auto space) {
    return with_dtype(get_string(pt.problem, "dtype"), [&](auto t) {
      auto& p = dynamic_cast<AttentionProblem<decltype(space), decltype(t)>&>(problem);
      return run_typed<Method>(p, pt, s);
    });
  });
}

}  // namespace numlab::attention

// The method's run for every backend and precision, in this translation unit.
#define NUMLAB_ATTENTION_METHOD_UNIT(Method)                                                               \
  namespace numlab::attention {                                                                            \
  template PointResult run_method<Method>(ProblemInstance&, PointSpec const&, RunSettings const&);        \
  }
