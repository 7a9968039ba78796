// SPDX-License-Identifier: MIT
#include "core/point_writer.hpp"

#include "core/hdf5.hpp"
#include "core/results_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>
#include <filesystem>

namespace numlab::results {

namespace fs = std::filesystem;

PointWriter::PointWriter(std::string path, std::string const& replaced_file_id, std::size_t pack_every)
    : path_(std::move(path)), pack_every_(std::max<std::size_t>(1, pack_every)), pack_at_(pack_every_) {
  file_id_ = file_id(path_);
  if (file_id_.empty()) {
    // A file from before file_id: give it one first, so that its parts are tied to it alone.
    std::string const id = detail::new_file_id();
    detail::replace_file(path_, true, [&](hid_t f) { h5::write_attribute(f, "file_id", id); });
    file_id_ = id;
  }
  std::vector<std::string> unreadable;
  committed_parts(path_, &unreadable);
  for (auto const& u : unreadable)
    notes_.push_back(fmt::format("'{}' cannot be read (damaged?); it is left where it is and not counted", u));
  try {
    pack();
  } catch (std::exception const& e) {
    notes_.push_back(fmt::format("cannot pack the points an interrupted run left in '{}' into '{}' ({}); they stay "
                                 "there, read with the file, and this run adds its own beside them",
                                 parts_dir(path_), path_, e.what()));
  }
  for (auto& n : remove_stale_temporaries(path_, replaced_file_id)) notes_.push_back(std::move(n));
  for (auto const& p : read_points(path_)) {
    auto k = p.attributes.find("point_key");
    keys_[p.group] = k == p.attributes.end() ? std::string() : to_string(k->second);
  }
  packed_points_ = keys_.size();
  pack_at_ = std::max(pack_every_, packed_points_);
  pending_ = committed_parts(path_).size();  // what a failed pack left
}

void PointWriter::append(PointSpec const& point, PointResult const& result) {
  std::string const name = group_name(point.index);
  if (auto it = keys_.find(name); it != keys_.end() && it->second != point.key())
    throw std::runtime_error(fmt::format("/points/{} holds another point (key '{}'), not '{}'", name,
                                         it->second.empty() ? "none" : it->second, point.key()));
  if (pending_ >= pack_at_) {
    try {
      pack();
    } catch (std::exception const& e) {
      notes_.push_back(fmt::format("cannot pack into '{}' ({}); the points stay committed in '{}'", path_, e.what(),
                                   parts_dir(path_)));
      pack_at_ = pending_ + std::max(pack_every_, packed_points_);  // try again later, not at every point
    }
  }
  std::string const dir = parts_dir(path_);
  if (!dir_made_) {
    fs::create_directories(dir);
    detail::fsync_path(fs::path(dir).parent_path().string());
    dir_made_ = true;
  }
  std::string const part = (fs::path(dir) / (name + ".h5")).string();
  detail::replace_file(part, false, [&](hid_t f) {
    detail::write_root(f, {{"file_id", file_id_}, {"part_of", fs::path(path_).filename().string()}});
    detail::write_point(f, point, result);
  });
  keys_[name] = point.key();
  ++pending_;
}

std::uintmax_t PointWriter::pack_bytes() const {
  std::error_code ec;
  std::uintmax_t n = fs::file_size(path_, ec);
  if (ec) n = 0;
  for (auto const& p : committed_parts(path_)) {
    auto s = fs::file_size(p, ec);
    if (!ec) n += s;
  }
  return n;
}

std::vector<std::string> PointWriter::take_notes() { return std::exchange(notes_, {}); }

std::size_t PointWriter::pack() {
  if (file_id(path_) != file_id_)
    throw std::runtime_error(fmt::format("'{}' is no longer the file this run opened (another file_id): it was "
                                         "replaced meanwhile; the run's points are in '{}'",
                                         path_, parts_dir(path_)));
  std::vector<std::string> const parts = committed_parts(path_);
  if (parts.size() < pending_)
    throw std::runtime_error(fmt::format("'{}' holds {} parts, this run committed {}: removed by someone else?",
                                         parts_dir(path_), parts.size(), pending_));
  if (parts.empty()) return 0;
  detail::replace_file(path_, true, [&](hid_t f) {
    h5::Handle points = h5::open_group(f, "points");
    h5::Handle copy_props(H5Pcreate(H5P_OBJECT_COPY), H5Pclose, "H5Pcreate");
    for (auto const& part : parts) {
      h5::Handle src = h5::open_file(part, false);
      h5::Handle src_points = h5::open_group(src.get(), "points");
      for (auto const& name : h5::child_names(src_points.get())) {
        if (h5::exists(points.get(), name)) {
          // The same point only (checked at append; a part of a crashed pack is OUT's copy again).
          h5::Handle a = h5::open_group(points.get(), name), b = h5::open_group(src_points.get(), name);
          ParamMap const old = h5::read_attributes(a.get()), now = h5::read_attributes(b.get());
          if (!old.count("point_key") || !now.count("point_key") || !(old.at("point_key") == now.at("point_key")))
            throw std::runtime_error(fmt::format("{}: /points/{} holds another point than {}", path_, name, part));
          a.close();
          h5::check(H5Ldelete(points.get(), name.c_str(), H5P_DEFAULT), "H5Ldelete");
        }
        h5::check(H5Ocopy(src_points.get(), name.c_str(), points.get(), name.c_str(), copy_props.get(), H5P_DEFAULT),
                  "H5Ocopy");
      }
    }
  });
  // OUT holds them now; a kill before the parts are gone only makes the next pack copy them again.
  std::error_code ec;
  for (auto const& part : parts) fs::remove(part, ec);
  fs::remove(parts_dir(path_), ec);
  dir_made_ = false;
  pending_ = 0;
  packed_points_ = keys_.size();
  pack_at_ = std::max(pack_every_, packed_points_);
  return parts.size();
}

}  // namespace numlab::results
