// SPDX-License-Identifier: MIT
// Method `reference` for every backend (see linsolve/method_runner.hpp).
#include "linsolve/methods/reference.hpp"
#include "linsolve/detail/method_runner_impl.hpp"

NUMLAB_LINSOLVE_METHOD_UNIT(ReferenceMethod)
