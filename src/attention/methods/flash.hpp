// SPDX-License-Identifier: MIT
// Method `flash`: one pass with online softmax, keeps the log-sum-exp (O(N D) memory).
#pragma once

#include "attention/flash_attention.hpp"
#include "attention/methods/forward_method.hpp"
#include "attention/native/native_methods.hpp"

namespace numlab::attention {

struct FlashMethod {
  using Options = FlashOptions;
  static constexpr char const* name = "flash";
  static constexpr char const* doc =
      "FlashAttention-2 forward: online softmax, K/V tiles in team scratch, O(N D) memory";

  template <class ExecSpace, class T>
  static PointResult run(AttentionProblem<ExecSpace, T>& p, Options const& o, RunSettings const& s) {
    using Mem = typename ExecSpace::memory_space;
    FlashFwdSelection const sel = select_flash_forward<ExecSpace, T>(p.shape, o.kernel, o.tiles());
    PointResult r = run_forward(p, s, [&](Tensor4<T, Mem> O, Tensor3<T, Mem> L) {
      flash_forward<ExecSpace, T, Mem>(p.space, p.shape, sel, p.Q, p.K, p.V, O, L);
    });
    add_kernel_metrics(r, enum_name(sel.kernel), sel.tiles, sel.variant);
    return r;
  }
  static PointResult run(native::Problem& p, Options const& o, RunSettings const& s) {
    return native::run_flash(p, o, s);
  }
};

}  // namespace numlab::attention
