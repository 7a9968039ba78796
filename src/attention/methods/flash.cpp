// SPDX-License-Identifier: MIT
// Method `flash` for every backend and precision (see attention/method_runner.hpp).
#include "attention/methods/flash.hpp"
#include "attention/detail/method_runner_impl.hpp"

NUMLAB_ATTENTION_METHOD_UNIT(FlashMethod)
