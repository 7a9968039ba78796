// SPDX-License-Identifier: MIT
// The HDF5 results file: root attributes hold provenance, each finished point
// is a group /points/pNNNNNN whose attributes are its parameters, status and
// scalar metrics and whose datasets are its arrays.
//
// On disk a results file OUT is OUT itself plus, while a run appends to it (or after a run was
// killed), the points committed since it was last packed: OUT.parts/pNNNNNN.h5, each a small
// results file of one point tied to OUT by OUT's root attribute file_id (core/point_writer.hpp
// says why and how). Every reader here sees both; the writer packs the parts into OUT at the end
// of a run.
//
// Crash safety: OUT is only ever replaced whole, by rename(2) of a complete temporary
// (OUT.tmp.PID) after fsync, and a part appears by rename of a complete temporary too, so at every
// instant (SIGINT, SIGTERM, kill -9, power loss after fsync) the files on disk hold every point
// committed so far and are readable.
#pragma once

#include "core/experiment.hpp"

#include <hdf5.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace numlab {

constexpr std::int64_t kSchemaVersion = 1;

struct StoredPoint {
  std::string group;  // e.g. "p000017"
  ParamMap attributes;
  std::map<std::string, std::vector<double>> arrays;  // filled when asked for
};

namespace results {

// Group name of a point index.
std::string group_name(std::size_t index);

// Creates `path` (atomically) with the root attributes, a new file_id and an empty /points.
void create(std::string const& path, ParamMap const& root_attributes);

// Creates `path` with its first point in one step (--overwrite keeps the old file until then).
void create_with_point(std::string const& path, ParamMap const& root_attributes, PointSpec const& point,
                       PointResult const& result);

// Removes temporaries of `path` left by killed writers (OUT.tmp.PID, OUT.merge-PID.tmp, part
// temporaries) and the parts of `replaced_file_id` (the file --overwrite replaced); parts of any
// other file are moved to OUT.orphaned-parts/ (never deleted), with a note for the user. Only
// while holding the output's lock.
std::vector<std::string> remove_stale_temporaries(std::string const& path, std::string const& replaced_file_id = "");

// The folder of a file's unpacked parts (beside the file a symlink names), and those of its parts
// that belong to it (file_id matches), sorted by name; parts that cannot be read are left out and
// listed in `unreadable` when given.
std::string parts_dir(std::string const& path);
std::vector<std::string> committed_parts(std::string const& path, std::vector<std::string>* unreadable = nullptr);
std::string file_id(std::string const& path);  // "" for files written before file_id existed

ParamMap read_root(std::string const& path);
// The stored points, OUT's and its committed parts' (a part replaces OUT's group of the same name).
std::vector<StoredPoint> read_points(std::string const& path, bool with_arrays = false);
// point_key attributes of the stored points, for --resume.
std::set<std::string> point_keys(std::string const& path);

namespace detail {
std::string temp_path(std::string const& path);
// fsync of a file (a failure throws: its data may not be on disk) or a folder.
void fsync_path(std::string const& path);
// Writes via `fill(file_id)` into a temporary (a copy of `path` or a new file), fsyncs it and
// renames it over `path`.
void replace_file(std::string const& path, bool start_from_existing, std::function<void(hid_t)> const& fill);
void write_root(hid_t f, ParamMap const& root_attributes);
// Writes /points/<group of point> into file `f`; a group there that holds another point
// (another point_key) is an error, the same point is replaced (--retry-failed).
void write_point(hid_t f, PointSpec const& point, PointResult const& result);
std::string new_file_id();
}  // namespace detail

}  // namespace results
}  // namespace numlab
