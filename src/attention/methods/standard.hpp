// SPDX-License-Identifier: MIT
// Method `standard`: S = QK^T/sqrt(D) and P = softmax(S) materialised (O(N^2) memory).
#pragma once

#include "attention/methods/forward_method.hpp"
#include "attention/standard_attention.hpp"

#include <fmt/format.h>

namespace numlab::attention {

struct StandardMethod {
  static MethodDef def() {
    Schema o;
    o.params = {real_param("max_gib", "skip the point (status skipped) when S and P need more", 8.0, 0, 1e6, true)};
    return {"standard", "forward with S and P materialised: O(N^2) memory", o};
  }
  template <class ExecSpace, class T>
  static PointResult run(AttentionProblem<ExecSpace, T>& p, PointSpec const& pt, RunSettings const& s) {
    using Mem = typename ExecSpace::memory_space;
    auto const& sh = p.shape;
    double gib = 2.0 * sh.B * sh.H * double(sh.N) * double(sh.N_kv) * sizeof(T) / double(1 << 30);
    if (gib > get_real(pt.options, "max_gib")) {
      PointResult r;
      r.status = "skipped";
      r.reason = fmt::format("S and P need {:.1f} GiB > max_gib = {}", gib, get_real(pt.options, "max_gib"));
      return r;
    }
    return run_forward(p, s, [&](Tensor4<T, Mem> O, Tensor3<T, Mem> L) {
      standard_forward<ExecSpace, T, Mem>(p.space, p.shape, p.Q, p.K, p.V, O, L);
    });
  }
};

}  // namespace numlab::attention
