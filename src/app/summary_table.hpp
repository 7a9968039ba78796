// SPDX-License-Identifier: MIT
// The end-of-run summary table: one row per point (index, sweep axes, method/variant, the options
// that tell entries apart, status, the experiment's summary metrics), in human units (1.23 ms,
// 45.6 us, 12.0 MiB), at most `width` display columns wide: metric columns no point has are
// left out, then the last metrics (the least important, Experiment::summary_metrics) until the
// table fits, and the table says which.
#pragma once

#include "core/param.hpp"
#include "core/results_file.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace numlab {

// A metric's value for the table: seconds as s / ms / us, bytes as B / KiB / MiB / GiB, errors
// with 2 significant digits, other reals with 3.
std::string human_metric(std::string const& name, ParamValue const& value);

// A metric's column header: forward_seconds_median -> "fwd", peak_device_bytes -> "peak mem".
std::string short_metric_header(std::string const& name);

// Terminal columns of UTF-8 text: one per code point, two for East Asian wide ones (config names
// and paths need not be ASCII).
std::size_t display_width(std::string const& text);

// The table, its header and rule included, each line ending in '\n'.
std::string format_summary(std::vector<StoredPoint> const& points, std::vector<std::string> const& axes,
                           std::vector<std::string> const& options, std::vector<std::string> const& metrics,
                           std::size_t width = 100);

}  // namespace numlab
