// SPDX-License-Identifier: MIT
#include "core/fingerprint.hpp"

#include "core/param_json.hpp"

#include <Kokkos_Core.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <tuple>
#include <stdexcept>
#include <vector>

namespace numlab {

namespace {

using nlohmann::json;

json map_json(ParamMap const& m, std::vector<std::string> const& skip) {
  json j = json::object();
  for (auto const& [k, v] : m)
    if (std::find(skip.begin(), skip.end(), k) == skip.end()) j[k] = to_json(v);
  return j;
}

std::string show(json const& j) { return j.is_null() ? "absent" : j.dump(); }

// First path where a and b differ ("" when equal).
std::string diff(json const& a, json const& b, std::string const& path, std::string& what_a, std::string& what_b) {
  if (a.is_object() && b.is_object()) {
    std::vector<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.push_back(it.key());
    for (auto it = b.begin(); it != b.end(); ++it)
      if (!a.contains(it.key())) keys.push_back(it.key());
    std::sort(keys.begin(), keys.end());
    for (auto const& k : keys) {
      json const na = a.contains(k) ? a[k] : json(nullptr), nb = b.contains(k) ? b[k] : json(nullptr);
      auto d = diff(na, nb, path.empty() ? k : path + "." + k, what_a, what_b);
      if (!d.empty()) return d;
    }
    return {};
  }
  // Arrays of method entries are compared entry by entry; arrays of values as a whole.
  if (a.is_array() && b.is_array() && !a.empty() && !b.empty() && a[0].is_object() && b[0].is_object()) {
    for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
      json const na = i < a.size() ? a[i] : json(nullptr), nb = i < b.size() ? b[i] : json(nullptr);
      auto d = diff(na, nb, fmt::format("{}[{}]", path, i), what_a, what_b);
      if (!d.empty()) return d;
    }
    return {};
  }
  if (a == b) return {};
  what_a = show(a);
  what_b = show(b);
  return path;
}

// The bytes of an input file, 8 at a time (FNV-1a's step on 64-bit words: ~8x its byte-wise
// speed, a few GB/s; this detects a changed file, it is no cryptographic hash).
std::string file_digest_uncached(std::string const& path, std::uintmax_t& bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot read input file '{}'", path));
  std::uint64_t h = 1469598103934665603ull;
  std::vector<char> buf(1 << 20);
  bytes = 0;
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    std::size_t const n = std::size_t(in.gcount());
    bytes += n;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, buf.data() + i, 8);
      if constexpr (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) w = __builtin_bswap64(w);  // the same digest everywhere
      h = (h ^ w) * 1099511628211ull;
      h ^= h >> 29;
    }
    for (; i < n; ++i) h = (h ^ static_cast<unsigned char>(buf[i])) * 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

// Cached per (path, size, mtime): the driver, the provenance and merge's per-input check ask for
// the same files; a file changed meanwhile is read again.
std::string file_digest(std::string const& path, std::uintmax_t& bytes) {
  namespace fs = std::filesystem;
  static std::map<std::string, std::tuple<std::uintmax_t, fs::file_time_type, std::string>> cache;
  std::error_code ec;
  auto const size = fs::file_size(path, ec);
  auto const mtime = fs::last_write_time(path, ec);
  if (!ec) {
    auto it = cache.find(path);
    if (it != cache.end() && std::get<0>(it->second) == size && std::get<1>(it->second) == mtime) {
      bytes = size;
      return std::get<2>(it->second);
    }
  }
  std::string d = file_digest_uncached(path, bytes);
  if (!ec) cache[path] = {size, mtime, d};
  return d;
}

}  // namespace

std::string normalized_config(RunConfig const& cfg) {
  json j;
  j["kind"] = cfg.kind;
  // `default` names this build's default execution space: a CUDA build and an OpenMP one differ.
  j["backend"] = cfg.settings.backend == "default"
                     ? std::string("default (") + Kokkos::DefaultExecutionSpace::name() + ")"
                     : cfg.settings.backend;
  j["save_outputs"] = cfg.settings.save_outputs;
  j["total_points"] = cfg.points.size();
  auto const& axes = cfg.sweep_axes;
  // Sweep axes with their values in order of first appearance.
  json sweep = json::object();
  for (auto const& a : axes) {
    json values = json::array();
    for (auto const& p : cfg.points) {
      ParamValue const* v = nullptr;
      if (auto it = p.problem.find(a); it != p.problem.end()) v = &it->second;
      else if (auto io = p.options.find(a); io != p.options.end()) v = &io->second;
      if (!v) continue;
      json const jv = to_json(*v);
      if (std::find(values.begin(), values.end(), jv) == values.end()) values.push_back(jv);
    }
    sweep[a] = values;
  }
  j["sweep"] = sweep;
  // The order of the axes and the pairing of zipped values decide which point has which index:
  // the axes in config order, and a digest of every point's key in index order.
  j["sweep_axes_order"] = axes;
  std::string keys;
  for (auto const& p : cfg.points) keys += std::to_string(p.index) + ' ' + p.key() + '\n';
  j["point_order_digest"] = config_fingerprint(keys);
  j["problem"] = cfg.points.empty() ? json::object() : map_json(cfg.points.front().problem, axes);
  // Method entries (method + options that are not axes), in order of first appearance.
  json methods = json::array();
  for (auto const& p : cfg.points) {
    json m = {{"method", p.method}, {"options", map_json(p.options, axes)}};
    if (std::find(methods.begin(), methods.end(), m) == methods.end()) methods.push_back(m);
  }
  j["methods"] = methods;
  // What the inputs hold (matrix files, attention inputs): an input edited between a run and its
  // --resume would mix results of two problems under one set of keys. Named by file name, so a
  // moved checkout or a shard started elsewhere still matches.
  json inputs = json::array();
  for (auto const& f : cfg.input_files) {
    if (f == cfg.path) continue;
    std::uintmax_t bytes = 0;
    std::string const d = file_digest(f, bytes);
    inputs.push_back({{"file", std::filesystem::path(f).filename().string()}, {"bytes", bytes}, {"digest", d}});
  }
  if (!inputs.empty()) j["inputs"] = inputs;
  return j.dump();
}

std::string config_fingerprint(std::string const& normalized) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  for (unsigned char c : normalized) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

std::string first_difference(std::string const& a, std::string const& b, std::string const& a_name,
                             std::string const& b_name) {
  json ja, jb;
  try {
    ja = json::parse(a);
    jb = json::parse(b);
  } catch (json::exception const&) {
    return a == b ? "" : "the normalised config (unreadable in one of them)";
  }
  // The order digest last: a difference of the config's keys is the one to name.
  json const da = ja.value("point_order_digest", json()), db = jb.value("point_order_digest", json());
  ja.erase("point_order_digest");
  jb.erase("point_order_digest");
  // Files written before the inputs' digests were recorded: their inputs cannot be compared.
  if (!ja.contains("inputs") || !jb.contains("inputs")) {
    ja.erase("inputs");
    jb.erase("inputs");
  }
  std::string va, vb;
  std::string path = diff(ja, jb, "", va, vb);
  if (!path.empty()) return fmt::format("{}: {} in {}, {} in {}", path, va, a_name, vb, b_name);
  if (da != db)
    return fmt::format("the points come in another order (the pairing of zipped values or the order of the axes "
                       "differs: point_order_digest {} in {}, {} in {})",
                       show(da), a_name, show(db), b_name);
  return {};
}

}  // namespace numlab
