// SPDX-License-Identifier: MIT
// Parameters as JSON, for the machine output (--list, --dry-run) and the normalised config.
#pragma once

#include "core/param.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <type_traits>
#include <variant>

namespace numlab {

// A value as JSON; a non-finite number (JSON has none) is null.
inline nlohmann::json to_json(ParamValue const& v) {
  return std::visit(
      [](auto const& x) -> nlohmann::json {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, double>)
          return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr);
        else
          return nlohmann::json(x);
      },
      v);
}

// A map as a JSON object (keys sorted, as in the map).
inline nlohmann::json to_json(ParamMap const& m) {
  nlohmann::json j = nlohmann::json::object();
  for (auto const& [k, v] : m) j[k] = to_json(v);
  return j;
}

}  // namespace numlab
