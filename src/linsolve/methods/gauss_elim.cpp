// SPDX-License-Identifier: MIT
// Method `gauss_elim` for every backend (see linsolve/method_runner.hpp).
#include "linsolve/methods/gauss_elim.hpp"
#include "linsolve/detail/method_runner_impl.hpp"

NUMLAB_LINSOLVE_METHOD_UNIT(GaussElimMethod)
