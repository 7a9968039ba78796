// SPDX-License-Identifier: MIT
// Method `gauss_seidel` for every backend (see linsolve/method_runner.hpp).
#include "linsolve/methods/gauss_seidel.hpp"
#include "linsolve/detail/method_runner_impl.hpp"

NUMLAB_LINSOLVE_METHOD_UNIT(GaussSeidelMethod)
