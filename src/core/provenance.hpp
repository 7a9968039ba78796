// SPDX-License-Identifier: MIT
// The context block of a results file: what ran, where, built how.
#pragma once

#include "core/param.hpp"

#include <string>

namespace numlab {

struct RunConfig;

// Root attributes: numlab version, git commit (+ dirty flag), host, CPU,
// Kokkos version / backends / configuration, library versions, date, the
// config text and the command line.
ParamMap collect_provenance(RunConfig const& cfg, std::string const& command_line);

// "hostname", "CPU model name" (from /proc/cpuinfo), commit of the source tree.
std::string host_name();
std::string cpu_model();
std::string git_commit();

}  // namespace numlab
