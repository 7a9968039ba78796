// SPDX-License-Identifier: MIT
// Declarative description of the keys a config section accepts: type, range,
// choices, default and a one-line doc. The config parser validates YAML
// against it and `numlab --list` prints it.
#pragma once

#include "core/param.hpp"

#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace numlab {

enum class ParamType { integer, real, boolean, string, choice };

struct ParamSpec {
  std::string key;
  ParamType type = ParamType::real;
  std::string doc;
  std::optional<ParamValue> default_value;  // none: required (or optional if `optional`)
  bool optional = false;                     // may stay unset (no default)
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;
  bool max_exclusive = false;
  std::vector<std::string> choices;      // for ParamType::choice
  std::vector<std::string> choice_docs;  // one line per choice (may be empty)
  std::string section;               // config section holding it ("" = top level)
  bool input_file = false;           // a string naming a file the run reads (must exist; never the output)

  // "an integer >= 1", "a number in (0, 1]", "one of strict, weak, none", ...
  std::string expected() const;
  // Empty when v is acceptable, else the reason.
  std::string check(ParamValue const& v) const;
};

// Builders that read like a table in the experiment files.
ParamSpec int_param(std::string key, std::string doc, std::optional<std::int64_t> def, double min = 0,
                    double max = std::numeric_limits<double>::infinity());
ParamSpec real_param(std::string key, std::string doc, std::optional<double> def,
                     double min = -std::numeric_limits<double>::infinity(),
                     double max = std::numeric_limits<double>::infinity(), bool min_exclusive = false,
                     bool max_exclusive = false);
ParamSpec bool_param(std::string key, std::string doc, bool def);
ParamSpec string_param(std::string key, std::string doc, std::optional<std::string> def);
ParamSpec choice_param(std::string key, std::string doc, std::vector<std::string> choices,
                       std::optional<std::string> def);

struct Schema {
  std::vector<ParamSpec> params;
  ParamSpec const* find(std::string const& key) const;
  std::vector<std::string> keys() const;
};

// Closest key by edit distance, for "did you mean" hints ("" if none is close).
std::string closest_key(std::string const& word, std::vector<std::string> const& candidates);

}  // namespace numlab
