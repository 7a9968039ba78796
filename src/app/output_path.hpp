// SPDX-License-Identifier: MIT
// What a run may write to: a regular file or a new path, never a directory, a device or one of
// the run's inputs; a symlink is followed (its target is written, the link stays).
#pragma once

#include <string>
#include <vector>

namespace numlab {

// The path to write for `output` (a symlink's target), or throws std::invalid_argument saying
// why `output` cannot be written. `inputs`: every file the run reads.
std::string resolve_output_path(std::string const& output, std::vector<std::string> const& inputs);

}  // namespace numlab
