// SPDX-License-Identifier: MIT
#include "app/summary_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace numlab {

namespace {

bool contains(std::string const& s, char const* part) { return s.find(part) != std::string::npos; }

void replace_all(std::string& s, std::string const& from, std::string const& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

std::string pad(std::string const& s, std::size_t w, bool right) {
  std::size_t const n = display_width(s);
  std::string const fill(n < w ? w - n : 0, ' ');
  return right ? fill + s : s + fill;
}

struct Column {
  std::string header;
  std::vector<std::string> cells;
  bool right = false;  // numbers right-aligned
  bool metric = false;
};

}  // namespace

// East Asian wide and fullwidth characters take two terminal columns (the main blocks of
// Unicode's EastAsianWidth W/F: CJK, Hangul, fullwidth forms, emoji).
bool is_wide(char32_t c) {
  return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) || (c >= 0x3041 && c <= 0xA4CF) ||
         (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) ||
         (c >= 0xFF00 && c <= 0xFF60) || (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
         (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD);
}

std::size_t display_width(std::string const& text) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < text.size();) {
    auto const c = static_cast<unsigned char>(text[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + len > text.size()) len = 1;  // a truncated sequence: one column per byte
    char32_t cp = len == 1 ? c : char32_t(c & (0x7F >> len));
    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    n += is_wide(cp) ? 2 : 1;
    i += len;
  }
  return n;
}

std::string human_metric(std::string const& name, ParamValue const& value) {
  double const* d = std::get_if<double>(&value);
  double x = 0;
  if (d) {
    x = *d;
  } else if (auto const* i = std::get_if<std::int64_t>(&value)) {
    if (!contains(name, "bytes") && !contains(name, "seconds")) return to_string(value);
    x = double(*i);
  } else {
    return to_string(value);
  }
  if (!std::isfinite(x)) return to_string(value);
  double const a = std::fabs(x);
  if (contains(name, "seconds")) {
    if (a == 0) return "0 s";
    if (a < 1e-3) return fmt::format("{:.3g} us", x * 1e6);
    if (a < 1) return fmt::format("{:.3g} ms", x * 1e3);
    return fmt::format("{:.3g} s", x);
  }
  if (contains(name, "bytes")) {
    if (a < 1024) return fmt::format("{:.0f} B", x);
    if (a < 1024.0 * 1024) return fmt::format("{:.3g} KiB", x / 1024);
    if (a < 1024.0 * 1024 * 1024) return fmt::format("{:.3g} MiB", x / (1024.0 * 1024));
    return fmt::format("{:.3g} GiB", x / (1024.0 * 1024 * 1024));
  }
  if (contains(name, "error") || contains(name, "residual")) return fmt::format("{:.2g}", x);
  return fmt::format("{:.3g}", x);
}

std::string short_metric_header(std::string const& name) {
  std::string s = name;
  replace_all(s, "_median", "");
  replace_all(s, "peak_device_bytes", "peak mem");
  replace_all(s, "_seconds", "");
  replace_all(s, "forward", "fwd");
  replace_all(s, "backward", "bwd");
  replace_all(s, "_tflops", " TF/s");
  replace_all(s, "_rel_fro_error", " err");
  replace_all(s, "rel_error", "rel err");
  replace_all(s, "rel_residual", "rel res");
  replace_all(s, "iterations", "iters");
  replace_all(s, "_", " ");
  return s;
}

std::string format_summary(std::vector<StoredPoint> const& points, std::vector<std::string> const& axes,
                           std::vector<std::string> const& options, std::vector<std::string> const& metrics,
                           std::size_t width) {
  auto get = [](StoredPoint const& p, std::string const& k) -> ParamValue const* {
    auto it = p.attributes.find(k);
    return it == p.attributes.end() ? nullptr : &it->second;
  };
  auto text = [&](StoredPoint const& p, std::string const& k) {
    ParamValue const* v = get(p, k);
    return v ? to_string(*v) : std::string("-");
  };
  std::vector<Column> cols;
  cols.push_back({"#", {}, true});
  for (auto const& a : axes) cols.push_back({a, {}, true});
  cols.push_back({"method", {}});
  for (auto const& o : options) cols.push_back({o, {}});
  cols.push_back({"status", {}});
  for (auto const& m : metrics) cols.push_back({short_metric_header(m), {}, true, true});
  for (auto const& p : points) {
    std::size_t c = 0;
    cols[c++].cells.push_back(text(p, "point_index"));
    for (auto const& a : axes) {
      ParamValue const* v = get(p, a);
      cols[c++].cells.push_back(v ? human_metric(a, *v) : "-");
    }
    std::string method = text(p, "method");
    if (get(p, "variant")) method += "/" + text(p, "variant");
    cols[c++].cells.push_back(method);
    for (auto const& o : options) cols[c++].cells.push_back(text(p, o));
    cols[c++].cells.push_back(text(p, "status"));
    for (auto const& m : metrics) {
      ParamValue const* v = get(p, m);
      cols[c++].cells.push_back(v ? human_metric(m, *v) : "-");
    }
  }
  // Metrics no point has say nothing; then the last metrics go until the table fits.
  std::vector<std::string> dropped;
  cols.erase(std::remove_if(cols.begin(), cols.end(),
                            [&](Column const& c) {
                              return c.metric && !points.empty() &&
                                     std::all_of(c.cells.begin(), c.cells.end(),
                                                 [](std::string const& x) { return x == "-"; });
                            }),
             cols.end());
  auto col_width = [](Column const& c) {
    std::size_t w = display_width(c.header);
    for (auto const& x : c.cells) w = std::max(w, display_width(x));
    return w;
  };
  auto total = [&] {
    std::size_t t = 0;
    for (auto const& c : cols) t += col_width(c) + 2;
    return t > 2 ? t - 2 : 0;
  };
  while (total() > width && !cols.empty() && cols.back().metric) {
    dropped.insert(dropped.begin(), cols.back().header);
    cols.pop_back();
  }
  std::vector<std::size_t> w;
  for (auto const& c : cols) w.push_back(col_width(c));
  std::string out;
  auto line = [&](auto cell) {
    std::string s;
    for (std::size_t c = 0; c < cols.size(); ++c) s += pad(cell(c), w[c], cols[c].right) + "  ";
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out += s + "\n";
  };
  line([&](std::size_t c) { return cols[c].header; });
  out += std::string(std::min(total(), width), '-') + "\n";
  for (std::size_t r = 0; r < points.size(); ++r) line([&](std::size_t c) { return cols[c].cells[r]; });
  if (!dropped.empty())
    out += fmt::format("(left out to fit {} columns: {}; scripts/report.py shows every metric)\n", width,
                       fmt::join(dropped, ", "));
  return out;
}

}  // namespace numlab
