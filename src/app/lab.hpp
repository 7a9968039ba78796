// SPDX-License-Identifier: MIT
// `numlab lab`: the whole lab in one command. Runs the lab's experiments (app/lab_plan.hpp) with
// this binary, one child process each (DIR/NAME.h5, log DIR/logs/NAME.log), the peers this
// machine can run (scripts/peers/*.py; a peer whose Python modules or GPU are missing is
// skipped with the reason), then scripts/report.py on every file into DIR/report/, and says
// where report.html is.
//
// - --quick: the configs of configs/lab/quick/ (every experiment and method at small sizes,
//   minutes on 2 cores) into results/lab-quick/; else configs/ into results/lab/; --configs DIR
//   takes NAME.yaml from DIR instead.
// - An existing, non-empty DIR is never replaced silently: --resume continues it (each
//   experiment resumed by numlab --resume, each peer file kept when it has all its points,
//   else resumed), --overwrite runs everything again (each file replaced as numlab --overwrite
//   replaces it). Without either, exit 2. One lab per DIR at a time (DIR/lab.lock).
// - The configs, peer scripts and report script come from the checkout the binary was built
//   from (NUMLAB_SOURCE_DIR), or $NUMLAB_ROOT; Python is $NUMLAB_PYTHON, else the first of
//   /usr/bin/python3 and PATH's python3 that imports what a script needs.
// - Exit: 0; 3 when points failed (recorded in the files); 1 when a step failed (its exit code
//   and log are named); 2 usage; 130 interrupted (rerun with --resume).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace numlab {

struct LabOptions {
  bool quick = false;
  std::string output;  // -o DIR
  bool output_given = false;
  bool gpu = false;   // --gpu: the GPU steps too (an error on a build without a GPU execution space)
  bool host = false;  // --host: the host steps only
  bool resume = false;
  bool overwrite = false;
  std::string configs;  // --configs DIR
  bool dry_run = false;  // print the plan and what can run; run nothing
  bool quiet = false;    // the lab's own lines only (the children's output goes to the logs)
};

// Registers the `lab` subcommand on `app`, filling `opts` when it is parsed.
CLI::App* add_lab_command(CLI::App& app, LabOptions& opts);

// Runs the lab; returns the process exit code.
int run_lab(LabOptions const& opts);

}  // namespace numlab
