// SPDX-License-Identifier: MIT
// Typed method options declared once. A method's Options struct holds its fields with in-class
// defaults and lists them in `static auto fields()` (key, member, doc, range); from that one
// table come the YAML schema (validation, `numlab --list`, its JSON), the conversion of a
// validated point's parameters into the struct, and back into HDF5 attributes.
//
//   struct GaussSeidelMethodOptions {
//     GsVariant variant = GsVariant::sequential;   // an enum: its names come from EnumNames<GsVariant>
//     double omega = 1.0;
//     static auto fields() {
//       using O = GaussSeidelMethodOptions;
//       return std::make_tuple(option("variant", &O::variant, "sweep ordering"),
//                              option("omega", &O::omega, "SOR weight", Range::open(0, 2)));
//     }
//   };
#pragma once

#include "core/schema.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace numlab {

// The YAML spellings of an enum's values, with a one-line doc each. Specialise as
//   template <> struct EnumNames<GsVariant> {
//     static constexpr EnumName<GsVariant> values[] = {{GsVariant::sequential, "sequential", "..."}, ...};
//   };
template <class E>
struct EnumName {
  E value;
  char const* name;
  char const* doc = "";
};
template <class E>
struct EnumNames;  // no default: an enum option without names does not compile

template <class E>
char const* enum_name(E v) {
  for (auto const& n : EnumNames<E>::values)
    if (n.value == v) return n.name;
  throw std::logic_error("enum value without a name");
}

// The value named `name`; a name outside the table is a logic error (validation rejects it first).
template <class E>
E enum_from_name(std::string_view name) {
  for (auto const& n : EnumNames<E>::values)
    if (name == n.name) return n.value;
  throw std::logic_error("'" + std::string(name) + "' is not a value of this option");
}

template <class E>
std::vector<std::string> enum_names() {
  std::vector<std::string> v;
  for (auto const& n : EnumNames<E>::values) v.emplace_back(n.name);
  return v;
}

// Accepted range of a numeric option.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false, max_exclusive = false;

  static constexpr Range at_least(double lo) { return {lo, std::numeric_limits<double>::infinity(), false, false}; }
  static constexpr Range above(double lo) { return {lo, std::numeric_limits<double>::infinity(), true, false}; }
  static constexpr Range closed(double lo, double hi) { return {lo, hi, false, false}; }
  static constexpr Range open(double lo, double hi) { return {lo, hi, true, true}; }
  static constexpr Range left_open(double lo, double hi) { return {lo, hi, true, false}; }
};

// One field of an Options struct: key, member pointer, doc, range.
template <class O, class M>
struct OptionField {
  char const* key;
  M O::*member;
  char const* doc;
  Range range;
};

template <class O, class M>
constexpr OptionField<O, M> option(char const* key, M O::*member, char const* doc, Range range = {}) {
  return {key, member, doc, range};
}

namespace detail {

template <class M>
ParamValue to_param_value(M const& v) {
  if constexpr (std::is_same_v<M, bool>)
    return v;
  else if constexpr (std::is_enum_v<M>)
    return std::string(enum_name(v));
  else if constexpr (std::is_integral_v<M>)
    return std::int64_t(v);
  else if constexpr (std::is_floating_point_v<M>)
    return double(v);
  else {
    static_assert(std::is_same_v<M, std::string>, "option types: bool, integers, floating point, enums, std::string");
    return v;
  }
}

template <class M>
M from_param_value(ParamMap const& m, std::string const& key) {
  if constexpr (std::is_same_v<M, bool>)
    return get_bool(m, key);
  else if constexpr (std::is_enum_v<M>)
    return enum_from_name<M>(get_string(m, key));
  else if constexpr (std::is_integral_v<M>)
    return static_cast<M>(get_int(m, key));
  else if constexpr (std::is_floating_point_v<M>)
    return static_cast<M>(get_real(m, key));
  else
    return get_string(m, key);
}

template <class O, class M>
ParamSpec spec_of(OptionField<O, M> const& f, M const& def) {
  ParamSpec p;
  p.key = f.key;
  p.doc = f.doc;
  p.default_value = to_param_value(def);
  p.min = f.range.min;
  p.max = f.range.max;
  p.min_exclusive = f.range.min_exclusive;
  p.max_exclusive = f.range.max_exclusive;
  if constexpr (std::is_same_v<M, bool>) {
    p.type = ParamType::boolean;
  } else if constexpr (std::is_enum_v<M>) {
    p.type = ParamType::choice;
    for (auto const& n : EnumNames<M>::values) {
      p.choices.emplace_back(n.name);
      p.choice_docs.emplace_back(n.doc);
    }
  } else if constexpr (std::is_integral_v<M>) {
    p.type = ParamType::integer;
    // An integer field cannot hold more than its type: the schema says so.
    p.min = std::max(p.min, double(std::numeric_limits<M>::lowest()));
    p.max = std::min(p.max, double(std::numeric_limits<M>::max()));
  } else if constexpr (std::is_floating_point_v<M>) {
    p.type = ParamType::real;
  } else {
    p.type = ParamType::string;
  }
  return p;
}

}  // namespace detail

// The schema of Options: one ParamSpec per field, defaults from a default-constructed Options.
template <class Options>
Schema schema_of() {
  Schema s;
  Options const def{};
  std::apply([&](auto const&... f) { (s.params.push_back(detail::spec_of(f, def.*(f.member))), ...); },
             Options::fields());
  return s;
}

// The typed options of a validated point (every key present, every choice known).
template <class Options>
Options options_from(ParamMap const& m) {
  Options o{};
  std::apply(
      [&](auto const&... f) {
        ((o.*(f.member) = detail::from_param_value<std::decay_t<decltype(o.*(f.member))>>(m, f.key)), ...);
      },
      Options::fields());
  return o;
}

// Options as parameters, the inverse of options_from (to_params(options_from<O>(m)) == m).
template <class Options>
ParamMap to_params(Options const& o) {
  ParamMap m;
  std::apply([&](auto const&... f) { ((m[f.key] = detail::to_param_value(o.*(f.member))), ...); }, Options::fields());
  return m;
}

// A method without options.
struct NoOptions {
  static std::tuple<> fields() { return {}; }
};

}  // namespace numlab
