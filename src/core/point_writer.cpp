// SPDX-License-Identifier: MIT
#include "core/point_writer.hpp"

#include "core/hdf5.hpp"
#include "core/results_file.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace numlab::results {

namespace fs = std::filesystem;

PointWriter::PointWriter(std::string path) : path_(std::move(path)) {
  pack();
  remove_stale_temporaries(path_);
  file_id_ = file_id(path_);
  for (auto const& p : read_points(path_)) {
    auto k = p.attributes.find("point_key");
    keys_[p.group] = k == p.attributes.end() ? std::string() : to_string(k->second);
  }
}

void PointWriter::append(PointSpec const& point, PointResult const& result) {
  std::string const name = group_name(point.index);
  if (auto it = keys_.find(name); it != keys_.end() && it->second != point.key())
    throw std::runtime_error(fmt::format("/points/{} holds another point (key '{}'), not '{}'", name,
                                         it->second.empty() ? "none" : it->second, point.key()));
  std::string const dir = parts_dir(path_);
  if (!dir_made_) {
    fs::create_directories(dir);
    detail::fsync_path(fs::absolute(path_).parent_path().string());
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

std::size_t PointWriter::pack() {
  std::vector<std::string> const parts = committed_parts(path_);
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
  return parts.size();
}

}  // namespace numlab::results
