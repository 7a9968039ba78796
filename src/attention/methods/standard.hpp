// SPDX-License-Identifier: MIT
// Method `standard`: S = QK^T/sqrt(D) and P = softmax(S) materialised (O(N^2) memory).
#pragma once

#include "attention/methods/forward_method.hpp"
#include "attention/native/native_methods.hpp"
#include "attention/standard_attention.hpp"
#include "attention/standard_blas.hpp"

#include <fmt/format.h>

#include <optional>

namespace numlab::attention {

// Status skipped with the reason when the `count` [B,H,N,N_kv] buffers of an O(N^2) method need
// more than max_gib (nothing otherwise).
inline std::optional<PointResult> skip_over_max_gib(AttentionShape const& sh, std::size_t elem_bytes, int count,
                                                    double max_gib, char const* buffers) {
  double const gib = count * double(sh.B) * sh.H * double(sh.N) * double(sh.N_kv) * elem_bytes / double(1 << 30);
  if (gib <= max_gib) return std::nullopt;
  PointResult r;
  r.status = "skipped";
  r.reason = fmt::format("{} need {:.1f} GiB > max_gib = {}", buffers, gib, max_gib);
  return r;
}

struct StandardMethod {
  using Options = StandardOptions;
  static constexpr char const* name = "standard";
  static constexpr char const* doc =
      "forward with S and P materialised: O(N^2) memory (BLAS; cuda_native: cuBLAS tensor cores, fp32 softmax)";

  template <class ExecSpace, class T>
  static PointResult run(AttentionProblem<ExecSpace, T>& p, Options const& o, RunSettings const& s) {
    using Mem = typename ExecSpace::memory_space;
    auto const& sh = p.shape;
    StandardFwdKernel const kernel = select_standard_forward(o.kernel);
    if (is_native(kernel))  // the config check rejects it first (kernel_backend_constraint)
      throw std::invalid_argument(std::string("kernel ") + enum_name(kernel) + " runs with backend cuda_native only");
    bool const blas = kernel == StandardFwdKernel::blas;  // S and P in one buffer (in place) or two
    if (auto skip = skip_over_max_gib(sh, sizeof(T), blas ? 1 : 2, o.max_gib, blas ? "S/P" : "S and P")) return *skip;
    PointResult r = run_forward(p, s, [&](Tensor4<T, Mem> O, Tensor3<T, Mem> L) {
      if (blas)
        standard_forward_blas<ExecSpace, T, Mem>(p.space, p.shape, p.Q, p.K, p.V, O, L);
      else
        standard_forward<ExecSpace, T, Mem>(p.space, p.shape, p.Q, p.K, p.V, O, L);
    });
    if (blas)
      add_kernel_metrics(r, enum_name(kernel), {0, 0}, detail::head_gemm_library<ExecSpace>());
    else
      add_kernel_metrics(r, enum_name(kernel), default_forward_tiles<ExecSpace, T>(sh.D, StandardFwdTag{}),
                         detail::team_scratch_variant<ExecSpace, T>());
    return r;
  }
  // cuda_native: cuBLAS, S fp32 then P in place in one [B,H,N,N_kv] fp32 buffer.
  static PointResult run(native::Problem& p, Options const& o, RunSettings const& s) {
    if (auto skip = skip_over_max_gib(native::shape_of(p), sizeof(float), 1, o.max_gib, "S/P (fp32)")) return *skip;
    return native::run_standard(p, o, s);
  }
};

}  // namespace numlab::attention
