// SPDX-License-Identifier: MIT
#include "core/param.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace numlab {

std::string to_string(ParamValue const& v) {
  struct Visitor {
    std::string operator()(std::int64_t x) const { return std::to_string(x); }
    std::string operator()(double x) const { return fmt::format("{}", x); }  // shortest round-trip
    std::string operator()(bool x) const { return x ? "true" : "false"; }
    std::string operator()(std::string const& x) const { return x; }
  };
  return std::visit(Visitor{}, v);
}

std::string canonical_key(ParamMap const& m) {
  std::string out;
  for (auto const& [k, v] : m) {
    if (!out.empty()) out += ';';
    out += k;
    out += '=';
    out += to_string(v);
  }
  return out;
}

namespace {
ParamValue const& find(ParamMap const& m, std::string const& key) {
  auto it = m.find(key);
  if (it == m.end()) throw std::out_of_range("numlab: parameter '" + key + "' is not set");
  return it->second;
}
}  // namespace

std::int64_t get_int(ParamMap const& m, std::string const& key) {
  auto const& v = find(m, key);
  if (auto p = std::get_if<std::int64_t>(&v)) return *p;
  throw std::invalid_argument("numlab: parameter '" + key + "' is not an integer");
}

double get_real(ParamMap const& m, std::string const& key) {
  auto const& v = find(m, key);
  if (auto p = std::get_if<double>(&v)) return *p;
  if (auto p = std::get_if<std::int64_t>(&v)) return static_cast<double>(*p);
  throw std::invalid_argument("numlab: parameter '" + key + "' is not a number");
}

bool get_bool(ParamMap const& m, std::string const& key) {
  auto const& v = find(m, key);
  if (auto p = std::get_if<bool>(&v)) return *p;
  throw std::invalid_argument("numlab: parameter '" + key + "' is not a boolean");
}

std::string const& get_string(ParamMap const& m, std::string const& key) {
  auto const& v = find(m, key);
  if (auto p = std::get_if<std::string>(&v)) return *p;
  throw std::invalid_argument("numlab: parameter '" + key + "' is not a string");
}

bool has(ParamMap const& m, std::string const& key) { return m.count(key) != 0; }

}  // namespace numlab
