// SPDX-License-Identifier: MIT
// The experiment kinds compiled into this build, for the front end (driver, merge, --list).
#pragma once

#include "core/experiment.hpp"

namespace numlab {

ExperimentList const& builtin_experiments();

}  // namespace numlab
