// SPDX-License-Identifier: MIT
// Machine-readable forms of what numlab knows, for tools (peer scripts, plots): every kind,
// problem key, method, option and backend of this build (`numlab --list --format json`), and the
// expanded points of a config exactly as a run sees them (`numlab CONFIG --dry-run --format json`).
// Both come from the same schemas that validate the YAML; scripts hold no copy of them.
#pragma once

#include "core/config.hpp"

#include <nlohmann/json.hpp>

#include <vector>

namespace numlab {

nlohmann::json list_json(ExperimentList const& kinds);

// The points of `points` (all of cfg's, or one shard's), `output` the file the run would write.
nlohmann::json dry_run_json(RunConfig const& cfg, std::vector<PointSpec const*> const& points,
                            std::string const& output, int shard_index, int shard_count);

}  // namespace numlab
