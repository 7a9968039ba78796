// SPDX-License-Identifier: MIT
// An experiment's methods as a compile-time list of types, each with a static
// def() and a templated run(): one line per method in the experiment file.
#pragma once

#include "core/experiment.hpp"

#include <stdexcept>
#include <optional>
#include <string>

namespace numlab {

template <class... M>
struct MethodList {
  // A method's name, without building its whole definition for every point.
  template <class Method>
  static std::string const& name_of() {
    static std::string const name = Method::def().name;
    return name;
  }

  static std::vector<MethodDef> defs() { return {M::def()...}; }

  // Calls f(M{}) for the method named `name`; returns what f returns.
  template <class R, class F>
  static R dispatch(std::string const& name, F&& f) {
    std::optional<R> r;
    ((!r && name == name_of<M>() ? (r = f(M{}), true) : false), ...);
    if (!r) throw std::logic_error("no method named '" + name + "'");
    return std::move(*r);
  }
};

// Relative input paths in a config are looked up beside the config first,
// then in the working directory.
std::string resolve_input_path(std::string const& path, std::string const& config_dir);

}  // namespace numlab
