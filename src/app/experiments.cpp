// SPDX-License-Identifier: MIT
// The experiment kinds of this build: one line per kind.
#include "attention/attention_experiment.hpp"
#include "core/experiment.hpp"
#include "linsolve/linsolve_experiment.hpp"

namespace numlab {

std::vector<Experiment*> const& experiments() {
  static std::vector<Experiment*> const all = {
      linsolve::linsolve_experiment(),
      attention::attention_experiment(),
  };
  return all;
}

}  // namespace numlab
