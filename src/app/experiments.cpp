// SPDX-License-Identifier: MIT
// The experiment kinds of this build: one line per kind.
#include "app/experiments.hpp"

#include "attention/attention_experiment.hpp"
#include "linsolve/linsolve_experiment.hpp"

namespace numlab {

ExperimentList const& builtin_experiments() {
  static ExperimentList const all = {
      linsolve::linsolve_experiment(),
      attention::attention_experiment(),
  };
  return all;
}

}  // namespace numlab
