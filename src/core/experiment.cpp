// SPDX-License-Identifier: MIT
#include "core/experiment.hpp"

namespace numlab {

ParamMap PointSpec::attributes() const {
  ParamMap a = problem;
  for (auto const& [k, v] : options) a[k] = v;
  a["method"] = method;
  return a;
}

MethodDef const* Experiment::find_method(std::string const& name) const {
  for (auto const& m : methods())
    if (m.name == name) return &m;
  return nullptr;
}

Experiment* find_experiment(std::string const& kind) {
  for (auto* e : experiments())
    if (e->kind() == kind) return e;
  return nullptr;
}

}  // namespace numlab
