// SPDX-License-Identifier: MIT
#include "core/schema.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace numlab {

namespace {
std::string bound(double x) { return std::isinf(x) ? (x < 0 ? "-inf" : "inf") : fmt::format("{}", x); }
}  // namespace

std::string ParamSpec::expected() const {
  switch (type) {
    case ParamType::boolean: return "true or false";
    case ParamType::string: return "a string";
    case ParamType::choice: return fmt::format("one of {}", fmt::join(choices, ", "));
    case ParamType::integer:
    case ParamType::real: {
      std::string what = type == ParamType::integer ? "an integer" : "a number";
      bool lo = !std::isinf(min), hi = !std::isinf(max);
      if (lo && hi)
        return fmt::format("{} in {}{}, {}{}", what, min_exclusive ? "(" : "[", bound(min), bound(max),
                           max_exclusive ? ")" : "]");
      if (lo) return fmt::format("{} {} {}", what, min_exclusive ? ">" : ">=", bound(min));
      if (hi) return fmt::format("{} {} {}", what, max_exclusive ? "<" : "<=", bound(max));
      return what;
    }
  }
  return "a value";
}

std::string ParamSpec::check(ParamValue const& v) const {
  auto range_ok = [&](double x) {
    if (!std::isfinite(x)) return false;
    if (min_exclusive ? !(x > min) : !(x >= min)) return false;
    if (max_exclusive ? !(x < max) : !(x <= max)) return false;
    return true;
  };
  switch (type) {
    case ParamType::integer:
      if (auto p = std::get_if<std::int64_t>(&v)) return range_ok(double(*p)) ? "" : "out of range";
      return "wrong type";
    case ParamType::real:
      if (auto p = std::get_if<double>(&v)) return range_ok(*p) ? "" : "out of range";
      if (auto p = std::get_if<std::int64_t>(&v)) return range_ok(double(*p)) ? "" : "out of range";
      return "wrong type";
    case ParamType::boolean: return std::holds_alternative<bool>(v) ? "" : "wrong type";
    case ParamType::string: return std::holds_alternative<std::string>(v) ? "" : "wrong type";
    case ParamType::choice:
      if (auto p = std::get_if<std::string>(&v))
        return std::find(choices.begin(), choices.end(), *p) != choices.end() ? "" : "not a valid choice";
      return "wrong type";
  }
  return "wrong type";
}

ParamSpec int_param(std::string key, std::string doc, std::optional<std::int64_t> def, double min, double max) {
  ParamSpec s;
  s.key = std::move(key);
  s.type = ParamType::integer;
  s.doc = std::move(doc);
  if (def) s.default_value = *def;
  s.min = min;
  s.max = max;
  return s;
}

ParamSpec real_param(std::string key, std::string doc, std::optional<double> def, double min, double max,
                     bool min_exclusive, bool max_exclusive) {
  ParamSpec s;
  s.key = std::move(key);
  s.type = ParamType::real;
  s.doc = std::move(doc);
  if (def) s.default_value = *def;
  s.min = min;
  s.max = max;
  s.min_exclusive = min_exclusive;
  s.max_exclusive = max_exclusive;
  return s;
}

ParamSpec bool_param(std::string key, std::string doc, bool def) {
  ParamSpec s;
  s.key = std::move(key);
  s.type = ParamType::boolean;
  s.doc = std::move(doc);
  s.default_value = def;
  return s;
}

ParamSpec string_param(std::string key, std::string doc, std::optional<std::string> def) {
  ParamSpec s;
  s.key = std::move(key);
  s.type = ParamType::string;
  s.doc = std::move(doc);
  if (def) s.default_value = *def;
  return s;
}

ParamSpec choice_param(std::string key, std::string doc, std::vector<std::string> choices,
                       std::optional<std::string> def) {
  ParamSpec s;
  s.key = std::move(key);
  s.type = ParamType::choice;
  s.doc = std::move(doc);
  s.choices = std::move(choices);
  if (def) s.default_value = *def;
  return s;
}

ParamSpec const* Schema::find(std::string const& key) const {
  for (auto const& p : params)
    if (p.key == key) return &p;
  return nullptr;
}

std::vector<std::string> Schema::keys() const {
  std::vector<std::string> k;
  for (auto const& p : params) k.push_back(p.key);
  return k;
}

std::string closest_key(std::string const& word, std::vector<std::string> const& candidates) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  std::string w = lower(word);
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, w.size() / 3) + 1;
  for (auto const& c : candidates) {
    std::string cl = lower(c);
    std::vector<std::size_t> prev(cl.size() + 1), cur(cl.size() + 1);
    for (std::size_t j = 0; j <= cl.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= w.size(); ++i) {
      cur[0] = i;
      for (std::size_t j = 1; j <= cl.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (w[i - 1] == cl[j - 1] ? 0 : 1)});
      std::swap(prev, cur);
    }
    if (prev[cl.size()] < best_d) {
      best_d = prev[cl.size()];
      best = c;
    }
  }
  return best;
}

}  // namespace numlab
