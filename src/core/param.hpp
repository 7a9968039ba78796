// SPDX-License-Identifier: MIT
// A point's parameters and scalar metrics: plain typed values, written to HDF5
// as attributes (never encoded into names).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>

namespace numlab {

using ParamValue = std::variant<std::int64_t, double, bool, std::string>;
using ParamMap = std::map<std::string, ParamValue>;

// Human-readable form, exact enough to round-trip doubles (%.17g trimmed).
std::string to_string(ParamValue const& v);

// Canonical "k=v;k=v" of a map (sorted by key): identifies a point for --resume.
std::string canonical_key(ParamMap const& m);

// Typed access with a clear error when the type is not the expected one.
std::int64_t get_int(ParamMap const& m, std::string const& key);
double get_real(ParamMap const& m, std::string const& key);  // accepts integers
bool get_bool(ParamMap const& m, std::string const& key);
std::string const& get_string(ParamMap const& m, std::string const& key);
bool has(ParamMap const& m, std::string const& key);

}  // namespace numlab
