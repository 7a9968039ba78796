// SPDX-License-Identifier: MIT
// Appends finished points to a results file at a cost independent of how many it already holds
// (each append writes that point's bytes, never the file), keeping every committed point on disk
// and readable at every instant: SIGINT, SIGTERM, kill -9, power loss after fsync.
//
// The protocol: a point is written to its own small results file OUT.parts/pNNNNNN.h5 through a
// temporary that is fsynced and renamed into place (a reader sees it whole or not at all); the
// part names OUT's file_id, so parts of another file of the same name are never taken for this
// one's. pack() moves the parts into OUT with one copy of the file (a temporary renamed over OUT,
// then the parts removed), at the end of the run and whenever the parts outnumber both
// kPackEvery and the points OUT holds (so a long sweep never piles up more part files than that,
// and the copies cost at most about one point's bytes per point, amortised). A run killed before
// a pack leaves its parts where they are: every reader (results::read_points, numlab merge,
// scripts/numlab_results.py) sees them, and the next writer (--resume) packs them first.
//
// Why not append to OUT in place (HDF5's flush + a completion flag per point): HDF5 1.10 has no
// journal, and a writer killed while the library rewrites the file's metadata (B-trees, heaps, the
// superblock) can leave the whole file unreadable, every earlier point with it; SWMR only appends
// to existing datasets (no new groups or attributes) and leaves a killed writer's file marked open.
#pragma once

#include "core/experiment.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace numlab::results {

class PointWriter {
 public:
  static constexpr std::size_t kPackEvery = 1000;

  // `path` is an existing results file and the caller holds its lock (core/output_lock.hpp).
  // Gives a file written before file_id one, packs the parts an interrupted run left (a pack that
  // fails, e.g. on a full disk, is a note: the run goes on in parts), removes stale temporaries
  // and the parts of `replaced_file_id` (the file --overwrite replaced).
  // pack_every: kPackEvery but in tests.
  explicit PointWriter(std::string path, std::string const& replaced_file_id = "",
                       std::size_t pack_every = kPackEvery);
  PointWriter(PointWriter const&) = delete;
  PointWriter& operator=(PointWriter const&) = delete;

  // Commits one finished point as a part. A point of the same index but another point_key (in OUT
  // or a part) is an error, never overwritten; the same point replaces its earlier copy
  // (--retry-failed) when packed.
  void append(PointSpec const& point, PointResult const& result);

  // Moves the committed parts into OUT and removes them; returns how many were packed. On failure
  // (e.g. disk full) OUT and the parts are as before, and it throws. Throws too when OUT is no
  // longer the file this writer opened (another file_id) or holds fewer parts than it committed.
  std::size_t pack();

  std::size_t pending() const { return pending_; }
  // Bytes a pack copies now (OUT and the parts): the driver packs on a signal only when small.
  std::uintmax_t pack_bytes() const;
  std::string const& path() const { return path_; }
  // Lines for the user (parts moved aside, a pack that failed, unreadable parts); taken once.
  std::vector<std::string> take_notes();

 private:
  std::string path_;
  std::string file_id_;
  std::map<std::string, std::string> keys_;  // group -> point_key, of OUT's points and its parts
  std::size_t pending_ = 0;
  std::size_t packed_points_ = 0;            // points in OUT itself (after the last pack)
  std::size_t pack_every_;
  std::size_t pack_at_;                      // pack when pending_ reaches this
  std::vector<std::string> notes_;
  bool dir_made_ = false;
};

}  // namespace numlab::results
