// SPDX-License-Identifier: MIT
#pragma once

#include "core/experiment.hpp"

namespace numlab::attention {

// The `kind: attention` experiment (Experiment 2 of the lab).
Experiment* attention_experiment();

}  // namespace numlab::attention
