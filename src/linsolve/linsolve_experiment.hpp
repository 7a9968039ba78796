// SPDX-License-Identifier: MIT
#pragma once

#include "core/experiment.hpp"

namespace numlab::linsolve {

// The `kind: linsolve` experiment (Experiment 1 of the lab).
Experiment* linsolve_experiment();

}  // namespace numlab::linsolve
