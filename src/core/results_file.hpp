// SPDX-License-Identifier: MIT
// The HDF5 results file: root attributes hold provenance, each finished point
// is a group /points/pNNNNNN whose attributes are its parameters, status and
// scalar metrics and whose datasets are its arrays.
//
// Crash safety: a point is added to a copy of the file (OUT.tmp.PID) which then replaces the
// original with rename(2), so at every instant (SIGINT, SIGTERM, kill -9, power
// loss after fsync) the file on disk is a complete, readable results file.
// The cost is one file copy per point, negligible next to a solve unless a run
// saves very large outputs.
#pragma once

#include "core/experiment.hpp"

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

// Creates `path` (atomically) with the root attributes and an empty /points.
void create(std::string const& path, ParamMap const& root_attributes);

// Creates `path` with its first point in one step (--overwrite keeps the old file until then).
void create_with_point(std::string const& path, ParamMap const& root_attributes, PointSpec const& point,
                       PointResult const& result);

// Adds one finished point (atomically, see above). A group of that index that holds another
// point (another point_key) is an error, never overwritten.
void append_point(std::string const& path, PointSpec const& point, PointResult const& result);

// Removes temporaries of `path` left by killed writers (OUT.tmp.PID, OUT.merge-PID.tmp); only
// while holding the output's lock.
void remove_stale_temporaries(std::string const& path);

ParamMap read_root(std::string const& path);
std::vector<StoredPoint> read_points(std::string const& path, bool with_arrays = false);
// point_key attributes of the stored points, for --resume.
std::set<std::string> point_keys(std::string const& path);

}  // namespace results
}  // namespace numlab
