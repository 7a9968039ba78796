// SPDX-License-Identifier: MIT
// YAML config -> validated RunConfig with every sweep point expanded.
// Every mistake is a ConfigError naming the file, line, column and key.
#pragma once

#include "core/experiment.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace numlab {

struct ConfigError : std::runtime_error {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
  std::string key;
  ConfigError(std::string file, int line, int column, std::string key, std::string const& message);
};

struct RunConfig {
  std::string path;         // config file as given
  std::string text;         // its full text (stored in the HDF5 root)
  std::string name;         // run name
  std::string kind;         // experiment kind
  std::string description;  // free text
  std::string output;       // HDF5 path (after -o)
  RunSettings settings;
  Experiment* experiment = nullptr;
  std::vector<std::string> sweep_axes;  // keys that vary, in config order
  std::vector<PointSpec> points;        // expanded, grouped by problem
  std::vector<std::string> notes;       // deprecations and the like, for the user (not errors)
  std::vector<std::string> input_files;  // every file the run reads: the config and its inputs (as resolved)
};

// The settings every config has (name, output, warmup, repetitions, save_outputs, backend, ...);
// `kind`, `sweep` and `methods` aside.
Schema const& settings_schema();

// Parses and validates against the experiment kinds `kinds`; `path` is used in messages and for
// relative inputs.
RunConfig parse_config(std::string const& text, std::string const& path, ExperimentList const& kinds);
RunConfig load_config(std::string const& path, ExperimentList const& kinds);

}  // namespace numlab
