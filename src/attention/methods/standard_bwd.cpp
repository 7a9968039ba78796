// SPDX-License-Identifier: MIT
// Method `standard_bwd` for every backend and precision (see attention/method_runner.hpp).
#include "attention/methods/standard_bwd.hpp"
#include "attention/detail/method_runner_impl.hpp"

NUMLAB_ATTENTION_METHOD_UNIT(StandardBwdMethod)
