// SPDX-License-Identifier: MIT
#include "core/results_file.hpp"

#include "core/hdf5.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

namespace numlab::results {

namespace fs = std::filesystem;

namespace {

std::string temp_path(std::string const& path) { return path + ".tmp"; }

void fsync_path(std::string const& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Writes via `fill(file_id)` into a temporary copy, then renames it over path.
template <class Fill>
void atomic_update(std::string const& path, bool start_from_existing, Fill&& fill) {
  std::string tmp = temp_path(path);
  std::error_code ec;
  fs::remove(tmp, ec);
  {
    h5::Handle file;
    if (start_from_existing) {
      fs::copy_file(path, tmp, fs::copy_options::overwrite_existing);
      file = h5::open_file(tmp, true);
    } else {
      file = h5::create_file(tmp);
    }
    fill(file.get());
    h5::check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "H5Fflush");
    file.close();
  }
  fsync_path(tmp);
  fs::rename(tmp, path);
  fs::path dir = fs::absolute(path).parent_path();
  fsync_path(dir.string());
}

}  // namespace

std::string group_name(std::size_t index) { return fmt::format("p{:06d}", index); }

void create(std::string const& path, ParamMap const& root_attributes) {
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  atomic_update(path, false, [&](hid_t f) {
    for (auto const& [k, v] : root_attributes) h5::write_attribute(f, k, v);
    h5::write_attribute(f, "schema_version", kSchemaVersion);
    h5::create_group(f, "points").close();
  });
}

void append_point(std::string const& path, PointSpec const& point, PointResult const& result) {
  atomic_update(path, true, [&](hid_t f) {
    h5::Handle points = h5::open_group(f, "points");
    std::string name = group_name(point.index);
    if (h5::exists(points.get(), name)) H5Ldelete(points.get(), name.c_str(), H5P_DEFAULT);
    h5::Handle g = h5::create_group(points.get(), name);
    for (auto const& [k, v] : point.attributes()) h5::write_attribute(g.get(), k, v);
    h5::write_attribute(g.get(), "point_index", static_cast<std::int64_t>(point.index));
    h5::write_attribute(g.get(), "point_key", point.key());
    h5::write_attribute(g.get(), "status", result.status);
    if (!result.reason.empty()) h5::write_attribute(g.get(), "reason", result.reason);
    for (auto const& [k, v] : result.metrics) h5::write_attribute(g.get(), k, v);
    for (auto const& [k, a] : result.arrays) {
      auto shape = result.array_shapes.find(k);
      if (shape == result.array_shapes.end()) {
        h5::write_dataset(g.get(), k, a);
      } else {
        std::vector<hsize_t> dims(shape->second.begin(), shape->second.end());
        h5::write_dataset(g.get(), k, a.data(), dims);
      }
    }
  });
}

ParamMap read_root(std::string const& path) {
  h5::Handle f = h5::open_file(path, false);
  return h5::read_attributes(f.get());
}

std::vector<StoredPoint> read_points(std::string const& path, bool with_arrays) {
  h5::Handle f = h5::open_file(path, false);
  std::vector<StoredPoint> out;
  if (!h5::exists(f.get(), "points")) return out;
  h5::Handle points = h5::open_group(f.get(), "points");
  for (auto const& name : h5::child_names(points.get())) {
    h5::Handle g = h5::open_group(points.get(), name);
    StoredPoint p;
    p.group = name;
    p.attributes = h5::read_attributes(g.get());
    if (with_arrays)
      for (auto const& ds : h5::child_names(g.get())) p.arrays[ds] = h5::read_dataset(g.get(), ds);
    out.push_back(std::move(p));
  }
  return out;
}

std::set<std::string> point_keys(std::string const& path) {
  std::set<std::string> keys;
  for (auto const& p : read_points(path)) {
    auto it = p.attributes.find("point_key");
    if (it != p.attributes.end()) keys.insert(to_string(it->second));
  }
  return keys;
}

}  // namespace numlab::results
