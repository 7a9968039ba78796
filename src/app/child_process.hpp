// SPDX-License-Identifier: MIT
// Runs a child process (a numlab run, a peer script, the report) with its stdout and stderr
// into a log file and echoed to our stderr, in a process group of its own: SIGINT and SIGTERM
// reaching `numlab lab` are passed on to it, and the lab then stops (lab_interrupted).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace numlab {

struct ChildResult {
  int exit_code = -1;    // the child's exit status; 128 + N when signal N ended it; 127: not started
  double seconds = 0;
  std::string error;     // why it could not be started
};

// `argv[0]` is run as given when it has a '/', else looked up in PATH. `env` is added to ours.
// The log is appended to, line by line, after a line naming the time and the command (a progress
// line's '\r' updates are not kept).
ChildResult run_logged(std::vector<std::string> const& argv, std::vector<std::pair<std::string, std::string>> const& env,
                       std::string const& log_path, bool echo);

// Runs `argv` with its output discarded except for the last line of stderr (a probe such as
// `python3 -c "import torch"`); returns the exit code and that line.
std::pair<int, std::string> run_probe(std::vector<std::string> const& argv);

// The signal (SIGINT, SIGTERM) that reached the lab while a child ran, or 0.
int lab_interrupted();

}  // namespace numlab
