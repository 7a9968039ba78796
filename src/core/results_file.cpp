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

// Unique per process: two processes never share a temporary (the lock keeps a second writer
// out; this keeps a stray one from clobbering the first's copy).
std::string temp_path(std::string const& path) { return fmt::format("{}.tmp.{}", path, ::getpid()); }

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

namespace {

void write_root(hid_t f, ParamMap const& root_attributes) {
  for (auto const& [k, v] : root_attributes) h5::write_attribute(f, k, v);
  h5::write_attribute(f, "schema_version", kSchemaVersion);
  h5::create_group(f, "points").close();
}

void write_point(hid_t f, PointSpec const& point, PointResult const& result) {
  h5::Handle points = h5::open_group(f, "points");
  std::string name = group_name(point.index);
  if (h5::exists(points.get(), name)) {
    // Only the same point is replaced (--retry-failed); points are addressed by their key.
    h5::Handle old = h5::open_group(points.get(), name);
    ParamMap const a = h5::read_attributes(old.get());
    auto k = a.find("point_key");
    if (k == a.end() || to_string(k->second) != point.key())
      throw std::runtime_error(fmt::format("/points/{} holds another point (key '{}'), not '{}'", name,
                                           k == a.end() ? "none" : to_string(k->second), point.key()));
    old.close();
    H5Ldelete(points.get(), name.c_str(), H5P_DEFAULT);
  }
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
}

}  // namespace

void create(std::string const& path, ParamMap const& root_attributes) {
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  atomic_update(path, false, [&](hid_t f) { write_root(f, root_attributes); });
}

void create_with_point(std::string const& path, ParamMap const& root_attributes, PointSpec const& point,
                       PointResult const& result) {
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  atomic_update(path, false, [&](hid_t f) {
    write_root(f, root_attributes);
    write_point(f, point, result);
  });
}

void append_point(std::string const& path, PointSpec const& point, PointResult const& result) {
  atomic_update(path, true, [&](hid_t f) { write_point(f, point, result); });
}

void remove_stale_temporaries(std::string const& path) {
  fs::path const p(path);
  fs::path const dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::string const base = p.filename().string();
  std::error_code ec;
  for (auto const& e : fs::directory_iterator(dir, ec)) {
    std::string const n = e.path().filename().string();
    auto digits = [](std::string const& x) {
      return !x.empty() && x.find_first_not_of("0123456789") == std::string::npos;
    };
    std::string const tmp = base + ".tmp.", merge = base + ".merge-";
    bool const ours = n == base + ".tmp" || (n.rfind(tmp, 0) == 0 && digits(n.substr(tmp.size()))) ||
                      (n.rfind(merge, 0) == 0 && n.size() > merge.size() + 4 && n.substr(n.size() - 4) == ".tmp" &&
                       digits(n.substr(merge.size(), n.size() - merge.size() - 4)));
    if (ours && e.is_regular_file(ec)) fs::remove(e.path(), ec);
  }
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
