// SPDX-License-Identifier: MIT
// `numlab CONFIG`: validate, expand, run every point (or one shard of them),
// append each finished point to the HDF5 file, print progress and a summary.
#pragma once

#include <string>

namespace numlab {

struct DriverOptions {
  std::string config_path;
  std::string output;    // overrides the config's `output` (when output_given)
  bool output_given = false;  // -o was given (an empty -o is an error, not the config's output)
  bool dry_run = false;  // print the expanded points and exit
  bool resume = false;   // continue an existing output file
  bool retry_failed = false;  // with --resume: run again the points recorded as failed
  bool overwrite = false;     // replace an existing output file
  int shard_index = 0;   // --shard i/n: run points with index % n == i
  int shard_count = 1;
  bool quiet = false;    // no progress line, no summary
  bool progress_tty = false;  // progress as one updating terminal line
  bool json = false;          // --format json: --dry-run prints JSON (app/machine_output.hpp)
  double wait_lock_seconds = 0;  // wait this long for another writer of the output to finish
};

// Exit codes of the driver.
enum ExitCode : int { kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitPointsFailed = 3, kExitInterrupted = 130 };

// Output path of a shard when none is given: results/x.h5 -> results/x.shard1of4.h5
std::string shard_output_path(std::string const& output, int index, int count);

// Runs the driver; `argc/argv` go to Kokkos (its --kokkos-* flags).
int run_driver(DriverOptions const& opts, int argc, char** argv, std::string const& command_line);

// `numlab --list`: experiment kinds, their methods and options, backends; as JSON with `json`.
void print_list(bool json);

}  // namespace numlab
