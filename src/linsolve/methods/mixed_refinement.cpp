// SPDX-License-Identifier: MIT
// Method `mixed_refinement` for every backend (see linsolve/method_runner.hpp).
#include "linsolve/methods/mixed_refinement.hpp"
#include "linsolve/detail/method_runner_impl.hpp"

NUMLAB_LINSOLVE_METHOD_UNIT(MixedRefinementMethod)
