// SPDX-License-Identifier: MIT
// Method `tiled` for every backend and precision (see attention/method_runner.hpp).
#include "attention/methods/tiled.hpp"
#include "attention/detail/method_runner_impl.hpp"

NUMLAB_ATTENTION_METHOD_UNIT(TiledMethod)
