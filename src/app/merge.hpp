// SPDX-License-Identifier: MIT
// `numlab merge OUT.h5 IN1.h5 IN2.h5 ...`: joins the shard files of one sweep
// (`--shard i/n`, e.g. the tasks of slurm/sweep.sh) into one results file.
//
// - Every input must hold the same schema_version, kind, name, config_text and
//   total_points (else exit 2 naming the file and the field; OUT untouched).
// - Every /points/pNNNNNN group is copied (H5Ocopy: attributes and datasets
//   byte for byte) exactly once. A point in more than one input must have the
//   same point_key in each (else exit 2); the copy kept is the first one in
//   argument order whose status is not `failed`, or the first one if all failed.
// - OUT's root attributes are those of the first input (copied as stored), plus
//   `merged_from` (the input paths, one per line), `merged_points` (points in
//   OUT at merge time), `merged_utc` and `merge_command_line`. `total_points`
//   stays the sweep's size, as in every shard.
// - Points missing against total_points: a warning listing them and exit 3
//   (OUT is still written; it is a valid results file, so
//   `numlab CONFIG -o OUT --resume` runs just the missing points), or exit 0 with
//   --allow-incomplete. Points recorded as `failed` are reported, not an error.
// - OUT is written to a temporary file beside it and renamed over it at the end:
//   an error or a kill never leaves a half-written OUT. An existing OUT needs
//   --overwrite; OUT may not be one of the inputs.
// - `--config CONFIG --shards N`: the inputs are CONFIG's shard files
//   (<output stem>.shard{i}of{N}.h5) and OUT defaults to CONFIG's `output`; the
//   inputs must have been produced from this very config text. A shard file
//   that does not exist counts as missing points rather than an error.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace numlab {

struct MergeOptions {
  std::vector<std::string> files;  // OUT IN1 IN2 ... (with --config --shards: [OUT] IN...)
  std::string config_path;         // --config
  int shards = 0;                  // --shards N (with --config)
  bool overwrite = false;
  bool allow_incomplete = false;
  bool dry_run = false;  // print name, output and inputs; write nothing
  bool quiet = false;
};

// Exit code of an incomplete merge (the same value as the driver's "points failed").
constexpr int kExitIncomplete = 3;

// Registers the `merge` subcommand on `app`, filling `opts` when it is parsed.
CLI::App* add_merge_command(CLI::App& app, MergeOptions& opts);

// Runs the merge; returns the process exit code.
int run_merge(MergeOptions const& opts, std::string const& command_line);

}  // namespace numlab
