// SPDX-License-Identifier: MIT
// Method `standard`: S = QK^T/sqrt(D) and P = softmax(S) materialised (O(N^2) memory).
#pragma once

#include "attention/methods/forward_method.hpp"
#include "attention/standard_attention.hpp"

#include <fmt/format.h>

namespace numlab::attention {

struct StandardMethod {
  using Options = StandardOptions;
  static constexpr char const* name = "standard";
  static constexpr char const* doc = "forward with S and P materialised: O(N^2) memory";

  template <class ExecSpace, class T>
  static PointResult run(AttentionProblem<ExecSpace, T>& p, Options const& o, RunSettings const& s) {
    using Mem = typename ExecSpace::memory_space;
    auto const& sh = p.shape;
    double gib = 2.0 * sh.B * sh.H * double(sh.N) * double(sh.N_kv) * sizeof(T) / double(1 << 30);
    if (gib > o.max_gib) {
      PointResult r;
      r.status = "skipped";
      r.reason = fmt::format("S and P need {:.1f} GiB > max_gib = {}", gib, o.max_gib);
      return r;
    }
    PointResult r = run_forward(p, s, [&](Tensor4<T, Mem> O, Tensor3<T, Mem> L) {
      standard_forward<ExecSpace, T, Mem>(p.space, p.shape, p.Q, p.K, p.V, O, L);
    });
    add_kernel_metrics(r, "team_scratch", default_forward_tiles<ExecSpace, T>(sh.D, StandardFwdTag{}),
                       detail::team_scratch_variant<ExecSpace, T>());
    return r;
  }
};

}  // namespace numlab::attention
