// SPDX-License-Identifier: MIT
#include "core/experiment.hpp"

#include "core/method_list.hpp"

#include <filesystem>

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

std::string resolve_input_path(std::string const& path, std::string const& config_dir) {
  namespace fs = std::filesystem;
  if (fs::path(path).is_absolute() || config_dir.empty()) return path;
  fs::path beside = fs::path(config_dir) / path;
  return fs::exists(beside) ? beside.string() : path;
}

Experiment* find_experiment(ExperimentList const& kinds, std::string const& kind) {
  for (auto* e : kinds)
    if (e->kind() == kind) return e;
  return nullptr;
}

}  // namespace numlab
