// SPDX-License-Identifier: MIT
#include "core/results_file.hpp"

#include "core/hdf5.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <optional>
#include <random>
#include <unistd.h>

namespace numlab::results {

namespace fs = std::filesystem;

namespace detail {

// Unique per process: two processes never share a temporary (the lock keeps a second writer
// out; this keeps a stray one from clobbering the first's copy).
std::string temp_path(std::string const& path) { return fmt::format("{}.tmp.{}", path, ::getpid()); }

void fsync_path(std::string const& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot open '{}' to fsync it: {}", path, std::strerror(errno)));
  int const rc = ::fsync(fd);
  int const err = errno;
  ::close(fd);
  // A folder's fsync may be unsupported (EINVAL); a file's failure means its data may not be on disk.
  if (rc != 0 && !(err == EINVAL && std::filesystem::is_directory(path)))
    throw std::runtime_error(fmt::format("fsync of '{}' failed: {}", path, std::strerror(err)));
}

void replace_file(std::string const& path, bool start_from_existing, std::function<void(hid_t)> const& fill) {
  std::string tmp = temp_path(path);
  std::error_code ec;
  fs::remove(tmp, ec);
  try {
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
  } catch (...) {
    fs::remove(tmp, ec);  // a disk-full copy leaves nothing behind
    throw;
  }
  fs::path dir = fs::absolute(path).parent_path();
  fsync_path(dir.string());
}

std::string new_file_id() {
  // 128 random bits: parts of an earlier file of the same name never pass for this one's.
  std::random_device rd;
  return fmt::format("{:08x}{:08x}{:08x}{:08x}", rd(), rd(), rd(), rd());
}

void write_root(hid_t f, ParamMap const& root_attributes) {
  for (auto const& [k, v] : root_attributes) h5::write_attribute(f, k, v);
  h5::write_attribute(f, "schema_version", kSchemaVersion);
  if (!root_attributes.count("file_id")) h5::write_attribute(f, "file_id", new_file_id());
  if (!h5::exists(f, "points")) h5::create_group(f, "points").close();
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
    h5::check(H5Ldelete(points.get(), name.c_str(), H5P_DEFAULT), "H5Ldelete");
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

}  // namespace detail

std::string group_name(std::size_t index) { return fmt::format("p{:06d}", index); }

void create(std::string const& path, ParamMap const& root_attributes) {
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  detail::replace_file(path, false, [&](hid_t f) { detail::write_root(f, root_attributes); });
}

void create_with_point(std::string const& path, ParamMap const& root_attributes, PointSpec const& point,
                       PointResult const& result) {
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  detail::replace_file(path, false, [&](hid_t f) {
    detail::write_root(f, root_attributes);
    detail::write_point(f, point, result);
  });
}

std::string parts_dir(std::string const& path) {
  // Beside the file itself: a reader given a symlink finds the parts its writer made.
  std::error_code ec;
  fs::path const real = fs::weakly_canonical(path, ec);
  return (ec ? path : real.string()) + ".parts";
}

namespace {

bool digits(std::string const& x) { return !x.empty() && x.find_first_not_of("0123456789") == std::string::npos; }

// pNNNNNN.h5 (any number of digits: sweeps may pass a million points).
bool is_part_name(std::string const& n) {
  return n.size() > 4 && n[0] == 'p' && n.substr(n.size() - 3) == ".h5" && digits(n.substr(1, n.size() - 4));
}

std::string root_file_id(hid_t f) {
  ParamMap const a = h5::read_attributes(f);
  auto it = a.find("file_id");
  return it == a.end() ? std::string() : to_string(it->second);
}

// The part files in dir (pNNNNNN.h5), sorted; none when there is no such folder.
std::vector<std::string> part_files(std::string const& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (auto const& e : fs::directory_iterator(dir, ec)) {
    std::string const n = e.path().filename().string();
    if (is_part_name(n) && e.is_regular_file(ec)) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The file_id of a part, or nothing when it cannot be read (gone meanwhile: packed; or damaged).
std::optional<std::string> part_file_id(std::string const& part) {
  try {
    h5::Handle f = h5::open_file(part, false);
    return root_file_id(f.get());
  } catch (std::exception const&) {
    return std::nullopt;
  }
}

}  // namespace

std::string file_id(std::string const& path) {
  h5::Handle f = h5::open_file(path, false);
  return root_file_id(f.get());
}

std::vector<std::string> committed_parts(std::string const& path, std::vector<std::string>* unreadable) {
  std::vector<std::string> const files = part_files(parts_dir(path));
  if (files.empty()) return {};
  std::string const id = file_id(path);
  std::vector<std::string> out;
  if (id.empty()) return out;  // a file written before file_id: no part can be its
  for (auto const& part : files) {
    auto pid = part_file_id(part);
    if (!pid && unreadable && fs::exists(part)) unreadable->push_back(part);
    if (pid && *pid == id) out.push_back(part);
  }
  return out;
}

std::vector<std::string> remove_stale_temporaries(std::string const& path, std::string const& replaced_file_id) {
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
  // The parts folder: temporaries of killed writers (pNNNNNN.h5.tmp.PID), and parts of another
  // file of this name: deleted when they are the replaced file's (--overwrite), else moved aside
  // (OUT moved or deleted by hand after a kill -9: they may be the only copy of its points).
  std::string const pd = parts_dir(path);
  if (!fs::is_directory(pd, ec)) return {};
  for (auto const& e : fs::directory_iterator(pd, ec)) {
    std::string const n = e.path().filename().string();
    auto t = n.find(".h5.tmp.");
    if (t != std::string::npos && is_part_name(n.substr(0, t + 3)) && digits(n.substr(t + 8)) &&
        e.is_regular_file(ec))
      fs::remove(e.path(), ec);
  }
  std::string id;
  if (fs::exists(path, ec)) {
    try {
      id = file_id(path);
    } catch (std::exception const&) {
      return {};  // an unreadable OUT: leave its parts alone
    }
  }
  std::vector<std::string> notes;
  std::size_t moved = 0;
  std::string const aside = path + ".orphaned-parts";
  for (auto const& part : part_files(pd)) {
    auto pid = part_file_id(part);
    if (!pid || (!id.empty() && *pid == id)) continue;
    if (!replaced_file_id.empty() && *pid == replaced_file_id) {
      fs::remove(part, ec);
      continue;
    }
    fs::path const dest = fs::path(aside) / (*pid + "-" + fs::path(part).filename().string());
    fs::create_directories(aside, ec);
    fs::rename(part, dest, ec);
    if (!ec) ++moved;
  }
  if (moved)
    notes.push_back(fmt::format("{} committed point(s) in '{}' belong to another file than '{}' (moved or deleted "
                                "after an interrupted run?); moved to '{}'",
                                moved, pd, path, aside));
  fs::remove(pd, ec);  // only if empty
  return notes;
}

ParamMap read_root(std::string const& path) {
  h5::Handle f = h5::open_file(path, false);
  return h5::read_attributes(f.get());
}

namespace {
void read_points_of(hid_t f, bool with_arrays, std::map<std::string, StoredPoint>& out) {
  if (!h5::exists(f, "points")) return;
  h5::Handle points = h5::open_group(f, "points");
  for (auto const& name : h5::child_names(points.get())) {
    h5::Handle g = h5::open_group(points.get(), name);
    StoredPoint p;
    p.group = name;
    p.attributes = h5::read_attributes(g.get());
    if (with_arrays)
      for (auto const& ds : h5::child_names(g.get())) p.arrays[ds] = h5::read_dataset(g.get(), ds);
    out[name] = std::move(p);
  }
}
}  // namespace

std::vector<StoredPoint> read_points(std::string const& path, bool with_arrays) {
  // The parts are listed before OUT is opened, and kept when their file_id is that of the OUT
  // read: a pack renames OUT before it removes the parts, so a pack or an --overwrite running
  // meanwhile never yields a view with points missing or of two files.
  std::vector<std::string> const parts = part_files(parts_dir(path));
  std::map<std::string, StoredPoint> by_group;
  std::string id;
  {
    h5::Handle f = h5::open_file(path, false);
    id = root_file_id(f.get());
    read_points_of(f.get(), with_arrays, by_group);
  }
  if (!id.empty())
    for (auto const& part : parts) {
      try {
        h5::Handle f = h5::open_file(part, false);
        if (root_file_id(f.get()) == id) read_points_of(f.get(), with_arrays, by_group);
      } catch (std::exception const&) {
        // gone (packed meanwhile: OUT holds it) or unreadable (committed_parts reports it)
      }
    }
  std::vector<StoredPoint> out;
  out.reserve(by_group.size());
  for (auto& [name, p] : by_group) out.push_back(std::move(p));
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
