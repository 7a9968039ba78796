// SPDX-License-Identifier: MIT
// A run's file is tied to its config: the normalised config (kind, backend, save_outputs, the
// sweep axes and their values, the fixed problem keys, every method entry with its complete
// options; not output, warmup, repetitions or comments) and a hash of it are root attributes,
// and --resume / merge refuse a config whose normalised form differs, naming the first
// difference.
#pragma once

#include "core/config.hpp"

#include <string>

namespace numlab {

// The normalised config as canonical JSON text (keys sorted).
std::string normalized_config(RunConfig const& cfg);
// 16 hex digits of a 64-bit FNV-1a hash of the normalised config.
std::string config_fingerprint(std::string const& normalized);

// The first difference between two normalised configs, as "sweep.N: [60, 200] in the file, [60,
// 300] in the config" (`a_name`, `b_name` name the two sides); empty when they are equal.
std::string first_difference(std::string const& a, std::string const& b, std::string const& a_name,
                             std::string const& b_name);

}  // namespace numlab
