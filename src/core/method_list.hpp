// SPDX-License-Identifier: MIT
// An experiment's methods as a compile-time list of types. A method is a struct with
//   using Options = ...;                 // typed options, see core/options.hpp (NoOptions: none)
//   static constexpr char const* name, *doc;
//   template <...> static PointResult run(Problem&, Options const&, RunSettings const&);
// and one line in the experiment's MethodList.
#pragma once

#include "core/experiment.hpp"
#include "core/options.hpp"

#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace numlab {

namespace detail {
template <class O, class = void>
struct has_kernel_option : std::false_type {};
template <class O>
struct has_kernel_option<O, std::void_t<decltype(std::declval<O&>().kernel)>> : std::is_enum<decltype(O::kernel)> {};
}  // namespace detail

// The named kernels of a method: the values of its `kernel` option but `auto`; where each
// runs comes from EnumNames<Kernel>::values[i].doc, written "<where>: <what>".
template <class Options>
std::vector<KernelDef> kernel_defs() {
  std::vector<KernelDef> k;
  if constexpr (detail::has_kernel_option<Options>::value) {
    using E = decltype(Options::kernel);
    for (auto const& n : EnumNames<E>::values) {
      std::string name = n.name, doc = n.doc;
      if (name == "auto") continue;
      auto colon = doc.find(": ");
      KernelDef d{name, colon == std::string::npos ? "" : doc.substr(0, colon),
                  colon == std::string::npos ? doc : doc.substr(colon + 2)};
      k.push_back(std::move(d));
    }
  }
  return k;
}

template <class Method>
MethodDef method_def() {
  using Options = typename Method::Options;
  return {Method::name, Method::doc, schema_of<Options>(), kernel_defs<Options>()};
}

template <class... M>
struct MethodList {
  static std::vector<MethodDef> defs() { return {method_def<M>()...}; }

  // Calls f(M{}) for the method named `name`; returns what f returns.
  template <class R, class F>
  static R dispatch(std::string const& name, F&& f) {
    std::optional<R> r;
    ((!r && name == M::name ? (r = f(M{}), true) : false), ...);
    if (!r) throw std::logic_error("no method named '" + name + "'");
    return std::move(*r);
  }
};

// The one method runner: Method::run on the experiment's problem type with the point's typed
// options (every experiment's run_method and the native backend family call it).
template <class Method, class Problem>
PointResult run_typed(Problem& problem, PointSpec const& pt, RunSettings const& s) {
  return Method::run(problem, options_from<typename Method::Options>(pt.options), s);
}

// Relative input paths in a config are looked up beside the config first,
// then in the working directory.
std::string resolve_input_path(std::string const& path, std::string const& config_dir);

}  // namespace numlab
