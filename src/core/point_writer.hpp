// SPDX-License-Identifier: MIT
// Appends finished points to a results file at a cost independent of how many it already holds
// (each append writes that point's bytes, never the file), keeping every committed point on disk
// and readable at every instant: SIGINT, SIGTERM, kill -9, power loss after fsync.
//
// The protocol: a point is written to its own small results file OUT.parts/pNNNNNN.h5 through a
// temporary that is fsynced and renamed into place (a reader sees it whole or not at all); the
// part names OUT's file_id, so parts of an earlier file of the same name are never taken for
// this one's. pack() moves the parts into OUT with one copy of the file (a temporary renamed over
// OUT), at the end of the run; a run killed before that leaves its parts where they are: every
// reader (results::read_points, numlab merge, scripts/numlab_results.py) sees them, and the next
// writer (--resume) packs them first.
//
// Why not append to OUT in place (HDF5's flush + a completion flag per point): HDF5 1.10 has no
// journal, and a writer killed while the library rewrites the file's metadata (B-trees, heaps, the
// superblock) can leave the whole file unreadable, every earlier point with it; SWMR only appends
// to existing datasets (no new groups or attributes) and leaves a killed writer's file marked open.
#pragma once

#include "core/experiment.hpp"

#include <map>
#include <string>

namespace numlab::results {

class PointWriter {
 public:
  // `path` is an existing results file and the caller holds its lock (core/output_lock.hpp). Packs
  // the parts an interrupted run left, then removes stale temporaries and foreign parts.
  explicit PointWriter(std::string path);
  PointWriter(PointWriter const&) = delete;
  PointWriter& operator=(PointWriter const&) = delete;

  // Commits one finished point as a part. A point of the same index but another point_key (in OUT
  // or a part) is an error, never overwritten; the same point replaces its earlier copy
  // (--retry-failed) when packed.
  void append(PointSpec const& point, PointResult const& result);

  // Moves the committed parts into OUT (one copy of OUT, renamed over it) and removes them; returns
  // how many were packed. On failure (e.g. disk full) OUT and the parts are as before.
  std::size_t pack();

  std::size_t pending() const { return pending_; }
  std::string const& path() const { return path_; }

 private:
  std::string path_;
  std::string file_id_;
  std::map<std::string, std::string> keys_;  // group -> point_key, of OUT's points and its parts
  std::size_t pending_ = 0;
  bool dir_made_ = false;
};

}  // namespace numlab::results
