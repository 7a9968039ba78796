// SPDX-License-Identifier: MIT
#include "attention/native/native_attention.hpp"

#include "attention/methods/harness.hpp"
#include "attention/native/native_methods.hpp"

#include "attention/native/same_precision.hpp"
#include "attention/reference.hpp"
#include "core/interrupt.hpp"
#include "core/memory_tracker.hpp"
#include "core/repeat_timed.hpp"
#include "cuda/host_parallel.hpp"
#include "numlab_config.hpp"

#ifdef NUMLAB_HAVE_CUDA_NATIVE
#include "cuda/native_attention_runner.hpp"
#endif

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <functional>
#include <optional>
#include <stdexcept>

namespace numlab::attention::native {

bool built() {
#ifdef NUMLAB_HAVE_CUDA_NATIVE
  return true;
#else
  return false;
#endif
}

bool is_native_dtype(std::string const& dtype) { return dtype == "bfloat16" || dtype == "float16"; }

void validate_point(PointSpec const& pt, RunSettings const& s, std::vector<std::string> const& native_methods) {
  std::string const& dtype = get_string(pt.problem, "dtype");
  const bool native = s.backend == kBackend;
  if (!native) {
    if (is_native_dtype(dtype))
      throw KeyError("dtype", fmt::format("dtype '{}' runs only on the native CUDA tensor-core path: set 'backend: "
                                          "{}'{}; the Kokkos backends run float32 and float64",
                                          dtype, kBackend,
                                          built() ? "" : " (not in this build: configured without nvcc)"));
    return;
  }
  const bool fp32 = dtype == "float32";
  if (!is_native_dtype(dtype) && !fp32)
    throw KeyError("dtype", fmt::format("backend '{}' (the native tensor-core path) runs dtype bfloat16, float16 or "
                                        "float32 (flash and flash_bwd), not '{}'; float64 runs on the Kokkos backends (e.g. "
                                        "'backend: default')",
                                        kBackend, dtype));
  if (std::find(native_methods.begin(), native_methods.end(), pt.method) == native_methods.end())
    throw KeyError("methods", fmt::format("method '{}' has no native CUDA implementation; with backend '{}' the "
                                          "methods are {}",
                                          pt.method, kBackend, fmt::join(native_methods, ", ")));
  if (fp32) {
    if (pt.method != "flash" && pt.method != "flash_bwd")
      throw KeyError("methods", fmt::format("method '{}' has no native float32 kernel; with backend '{}' and dtype "
                                            "float32 the methods are flash and flash_bwd (3xTF32 on tensor cores; "
                                            "the other float32 methods run on the Kokkos backends)",
                                            pt.method, kBackend));
    if (has(pt.options, "kernel") && get_string(pt.options, "kernel") == "wgmma_sm90")
      throw KeyError("kernel", fmt::format("kernel 'wgmma_sm90' has no float32 version: the native float32 forward "
                                           "runs mma_sm80 (mma.sync on TF32, 3xTF32); use kernel auto or mma_sm80"));
  }
#ifdef NUMLAB_HAVE_CUDA_NATIVE
  const auto t = fp32 ? cuda::DType::fp32 : cuda::DType::bf16;
  if (has(pt.problem, "D") && !cuda::supports_head_dim(t, int(get_int(pt.problem, "D"))))
    throw KeyError("D", fmt::format("head dim D = {} is not supported by the native CUDA kernels (backend '{}'): "
                                    "{}",
                                    get_int(pt.problem, "D"), kBackend, fp32 ? "64 or 128 in float32" : "64, 128 or 256"));
#endif
}

#ifdef NUMLAB_HAVE_CUDA_NATIVE

namespace {

using HostView4 = Tensor4<const double, Kokkos::HostSpace>;
using HostView3 = Tensor3<const double, Kokkos::HostSpace>;

cuda::DType dtype_of(std::string const& name) {
  if (name == "bfloat16") return cuda::DType::bf16;
  if (name == "float16") return cuda::DType::fp16;
  if (name == "float32") return cuda::DType::fp32;
  throw std::logic_error("dtype '" + name + "' has no native kernels");  // validation keeps it away
}

}  // namespace

struct Problem : AttentionProblemBase {
  cuda::DType dtype = cuda::DType::bf16;
  std::vector<double> Q, K, V, dO;  // the bf16/fp16/fp32 values the device sees, as doubles
  std::optional<ReferenceResult> reference;
  std::optional<SamePrecisionResult> standard;  // made on first use; with gradients once a backward asks
  // `vs_standard`: the errors against the native standard / standard_bwd (cuBLAS) on these inputs,
  // in this dtype, whose outputs are made once, untimed, on first use.
  bool vs_standard = false;
  std::optional<cuda::ForwardRun> baseline_forward;
  std::optional<cuda::BackwardRun> baseline_backward;
  std::string baseline_skipped;  // why there is none ("" otherwise)
  cuda::DeviceInfo info;
  std::unique_ptr<cuda::NativeAttention> device;  // null without a CUDA device

  HostView4 q_view(std::vector<double> const& x, bool kv) const {
    return HostView4(x.data(), shape.B, shape.H, kv ? shape.N_kv : shape.N, shape.D);
  }
  HostView3 rows_view(std::vector<double> const& x) const { return HostView3(x.data(), shape.B, shape.H, shape.N); }
  std::vector<std::size_t> q_shape(bool kv) const {
    return {std::size_t(shape.B), std::size_t(shape.H), std::size_t(kv ? shape.N_kv : shape.N), std::size_t(shape.D)};
  }

  // The same-precision baseline, or null where it is not computed (no reference, too large).
  SamePrecisionResult const* same_precision(bool gradients) {
    if (!reference || attention_work(shape) > kSamePrecisionMaxWork) return nullptr;
    if (!standard || (gradients && standard->dQ.empty()))
      standard = standard_same_precision(shape, dtype, Q.data(), K.data(), V.data(), gradients ? dO.data() : nullptr);
    return &*standard;
  }
};

Problem& as_problem(ProblemInstance& p) { return dynamic_cast<Problem&>(p); }
AttentionShape const& shape_of(Problem const& p) { return p.shape; }

namespace {

constexpr char const* kSame = "_standard_same_precision";

// NaN or infinite values of downloaded outputs.
std::int64_t host_nonfinite(std::vector<double> const& x) {
  std::int64_t n = 0;
  for (double v : x) n += std::isfinite(v) ? 0 : 1;
  return n;
}
// Of a log-sum-exp [B,H,N]: -inf only in rows that see no key (count_nonfinite_lse).
std::int64_t host_nonfinite_lse(std::vector<double> const& L, AttentionShape const& sh) {
  std::int64_t n = 0;
  for (std::size_t idx = 0; idx < L.size(); ++idx) {
    int const i = int(idx % std::size_t(sh.N));
    bool const sees_none = sh.causal && i + sh.N_kv - sh.N < 0;
    n += std::isfinite(L[idx]) || (sees_none && L[idx] == -std::numeric_limits<double>::infinity()) ? 0 : 1;
  }
  return n;
}

// The point's device, and whether it can run (a CUDA device is present).
bool begin_point(Problem& p, PointResult& r) {
  if (!p.device) {
    r.status = "skipped";
    r.reason = "no CUDA device";
    r.metrics["cuda_device_status"] = p.info.reason;
    return false;
  }
  r.metrics["device_name"] = p.info.name;
  r.metrics["device_compute_capability"] = std::int64_t(p.info.cc_major * 10 + p.info.cc_minor);
  r.metrics["cuda_runtime_version"] = std::int64_t(p.info.runtime_version);
  r.metrics["memory_space"] = std::string("CudaNative");
  return true;
}

// The native kernels are timed by CUDA events around each run (this backend's timer) and
// repeated by repeat_timed, as the Kokkos methods are; the metrics are written by the same code.
cuda::TimingOptions timing_options(Problem const& p, RunSettings const& s) {
  cuda::TimingOptions opt;
  opt.repeat = [&s](std::function<double()> const& once) { return repeat_timed(s, once); };
  opt.download = p.reference.has_value() || s.save_outputs || p.vs_standard;
  return opt;
}

// The baseline's [B,H,N,N_kv] fp32 buffers (1 forward, 2 backward) must fit in half the device's
// memory (the point's own run needs the rest); else why not.
std::string baseline_too_large(Problem const& p, int buffers) {
  double const bytes = double(buffers) * 4.0 * p.shape.B * p.shape.H * double(p.shape.N) * double(p.shape.N_kv);
  if (bytes <= 0.5 * double(p.info.total_bytes)) return {};
  return fmt::format("the native standard baseline's {} N^2 fp32 buffer{} need {:.1f} GiB > half the device's {:.1f} GiB",
                     buffers, buffers > 1 ? "s" : "", bytes / double(1 << 30), double(p.info.total_bytes) / double(1 << 30));
}

cuda::TimingOptions once_untimed() {
  cuda::TimingOptions opt;
  opt.repeat = [](std::function<double()> const& once) { return std::vector<double>{once()}; };
  opt.download = true;
  return opt;
}

void add_vs(PointResult& r, std::string const& name, ErrorNorms const& e) {
  r.metrics[name + "_max_abs_vs_standard"] = e.max_abs;
  r.metrics[name + "_rel_fro_vs_standard"] = e.rel_fro;
}

// <X>_*_vs_standard of a forward's O and L (nothing unless the problem asks for them).
void add_vs_standard_forward(Problem& p, PointResult& r, cuda::ForwardRun const& f) {
  if (!p.vs_standard) return;
  if (!p.baseline_forward) {
    if (auto why = baseline_too_large(p, 1); !why.empty()) {
      r.metrics["vs_standard_skipped"] = why;
      return;
    }
    p.baseline_forward = p.device->standard_forward(once_untimed());
  }
  auto const& b = *p.baseline_forward;
  add_vs(r, "O", compare<double, Kokkos::HostSpace>(p.q_view(f.O, false), p.q_view(b.O, false)));
  add_vs(r, "L", compare<double, Kokkos::HostSpace>(p.rows_view(f.lse), p.rows_view(b.lse)));
}

void add_vs_standard_backward(Problem& p, PointResult& r, cuda::BackwardRun const& g) {
  if (!p.vs_standard) return;
  if (!p.baseline_backward) {
    if (auto why = baseline_too_large(p, 2); !why.empty()) {
      r.metrics["vs_standard_skipped"] = why;
      return;
    }
    p.baseline_backward = p.device->standard_backward(once_untimed());
  }
  auto const& b = *p.baseline_backward;
  add_vs(r, "dQ", compare<double, Kokkos::HostSpace>(p.q_view(g.dQ, false), p.q_view(b.dQ, false)));
  add_vs(r, "dK", compare<double, Kokkos::HostSpace>(p.q_view(g.dK, true), p.q_view(b.dK, true)));
  add_vs(r, "dV", compare<double, Kokkos::HostSpace>(p.q_view(g.dV, true), p.q_view(b.dV, true)));
}

cuda::FwdKernel native_forward_kernel(FlashFwdKernel k) {
  switch (k) {
    case FlashFwdKernel::automatic: return cuda::FwdKernel::automatic;
    case FlashFwdKernel::wgmma_sm90: return cuda::FwdKernel::wgmma_sm90;
    case FlashFwdKernel::mma_sm80: return cuda::FwdKernel::mma_sm80;
    case FlashFwdKernel::team_scratch:
    case FlashFwdKernel::register_tiled: break;
  }
  throw std::invalid_argument(std::string("kernel ") + enum_name(k) + " is a Kokkos kernel, not a native one");
}


}  // namespace

std::unique_ptr<ProblemInstance> make_problem(AttentionShape const& shape, std::vector<double> Q,
                                              std::vector<double> K, std::vector<double> V, std::vector<double> dO,
                                              ParamMap const& prm) {
  auto p = std::make_unique<Problem>();
  p->shape = shape;
  p->dtype = dtype_of(get_string(prm, "dtype"));
  // The inputs in the dtype: the kernels, the reference and the baseline all see these values.
  for (auto* x : {&Q, &K, &V, &dO})  // hundreds of millions of values at the bench points
    cuda::parallel_elements(x->size(), [x, t = p->dtype](std::size_t i) { (*x)[i] = cuda::round_to(t, (*x)[i]); });
  p->Q = std::move(Q);
  p->K = std::move(K);
  p->V = std::move(V);
  p->dO = std::move(dO);
  p->info = cuda::device_info();
  if (!p->info.present) return p;  // every point of the problem is skipped
  const cuda::AttnShape as{shape.B, shape.H, shape.N, shape.N_kv, shape.D, shape.causal};
  p->device = std::make_unique<cuda::NativeAttention>(as, p->dtype, float(shape.scale()), p->Q.data(), p->K.data(),
                                                      p->V.data(), p->dO.data());
  p->vs_standard = has(prm, "vs_standard") && get_string(prm, "vs_standard") == "always";
  if (get_bool(prm, "reference"))
    p->reference = reference_attention<double, Kokkos::HostSpace>(shape, p->q_view(p->Q, false), p->q_view(p->K, true),
                                                                  p->q_view(p->V, true), p->q_view(p->dO, false));
  return p;
}

namespace {

// A forward point: run(timing) once through the harness, then its times, memory, kernel, errors
// against fp64 and the same-precision host baseline, and against the native standard.
template <class Run>
PointResult forward_point(Problem& p, RunSettings const& s, Run&& run) {
  auto const& sh = p.shape;
  PointResult r;
  if (!begin_point(p, r)) return r;
  const bool rss_ok = reset_host_peak_rss();
  const std::int64_t rss0 = host_rss_bytes();
  cuda::ForwardRun f = run(timing_options(p, s));
  r.metrics["peak_host_rss_bytes"] = rss_ok ? host_peak_rss_bytes() - rss0 : std::int64_t(-1);
  add_time_metrics(r, "forward", f.seconds, attention_forward_flops(sh));
  r.arrays["times_seconds"] = f.seconds;
  r.metrics["peak_device_bytes"] = f.peak_device_bytes;
  r.metrics["peak_device_bytes_inputs"] = f.peak_device_bytes_inputs;
  r.metrics["forward_workspace_bytes"] = f.workspace_bytes;
  add_kernel_metrics(r, f.kernel.name, {f.kernel.tile_m, f.kernel.tile_n}, f.kernel.variant);
  r.status = "ok";
  mark_nonfinite(r, {{"O", host_nonfinite(f.O)}, {"L", host_nonfinite_lse(f.lse, sh)}});
  mark_invalid_inputs(r, p.invalid_forward_inputs);
  if (p.reference) {
    add_error_metrics(r, "O", compare<double, Kokkos::HostSpace>(p.q_view(f.O, false), p.reference->O));
    add_error_metrics(r, "L", compare<double, Kokkos::HostSpace>(p.rows_view(f.lse), p.reference->L));
    if (auto const* sp = p.same_precision(false)) {
      add_error_metrics(r, "O", compare<double, Kokkos::HostSpace>(p.q_view(sp->O, false), p.reference->O), kSame);
      add_error_metrics(r, "L", compare<double, Kokkos::HostSpace>(p.rows_view(sp->L), p.reference->L), kSame);
    }
  }
  add_vs_standard_forward(p, r, f);
  if (s.save_outputs) {
    r.arrays["O"] = std::move(f.O);
    r.array_shapes["O"] = p.q_shape(false);
    r.arrays["L"] = std::move(f.lse);
    r.array_shapes["L"] = {std::size_t(sh.B), std::size_t(sh.H), std::size_t(sh.N)};
  }
  return r;
}

// A backward point, likewise; `variant` replaces the kernel's own when not empty.
template <class Run>
PointResult backward_point(Problem& p, RunSettings const& s, std::string const& variant, Run&& run) {
  auto const& sh = p.shape;
  PointResult r;
  if (!begin_point(p, r)) return r;
  const bool rss_ok = reset_host_peak_rss();
  const std::int64_t rss0 = host_rss_bytes();
  cuda::BackwardRun g = run(timing_options(p, s));
  r.metrics["peak_host_rss_bytes"] = rss_ok ? host_peak_rss_bytes() - rss0 : std::int64_t(-1);
  add_time_metrics(r, "backward", g.seconds, attention_backward_flops(sh));
  r.arrays["times_seconds"] = g.seconds;
  r.metrics["peak_device_bytes"] = g.peak_device_bytes;
  r.metrics["peak_device_bytes_inputs"] = g.peak_device_bytes_inputs;
  r.metrics["backward_workspace_bytes"] = g.workspace_bytes;
  add_kernel_metrics(r, g.kernel.name, {g.kernel.tile_m, g.kernel.tile_n},
                     variant.empty() ? std::string(g.kernel.variant) : variant);
  r.status = "ok";
  mark_nonfinite(r, {{"dQ", host_nonfinite(g.dQ)}, {"dK", host_nonfinite(g.dK)}, {"dV", host_nonfinite(g.dV)}});
  mark_invalid_inputs(r, p.invalid_inputs);
  if (p.reference) {
    add_error_metrics(r, "dQ", compare<double, Kokkos::HostSpace>(p.q_view(g.dQ, false), p.reference->dQ));
    add_error_metrics(r, "dK", compare<double, Kokkos::HostSpace>(p.q_view(g.dK, true), p.reference->dK));
    add_error_metrics(r, "dV", compare<double, Kokkos::HostSpace>(p.q_view(g.dV, true), p.reference->dV));
    if (auto const* sp = p.same_precision(true)) {
      add_error_metrics(r, "dQ", compare<double, Kokkos::HostSpace>(p.q_view(sp->dQ, false), p.reference->dQ), kSame);
      add_error_metrics(r, "dK", compare<double, Kokkos::HostSpace>(p.q_view(sp->dK, true), p.reference->dK), kSame);
      add_error_metrics(r, "dV", compare<double, Kokkos::HostSpace>(p.q_view(sp->dV, true), p.reference->dV), kSame);
    }
  }
  add_vs_standard_backward(p, r, g);
  if (s.save_outputs) {
    r.arrays["dQ"] = std::move(g.dQ);
    r.array_shapes["dQ"] = p.q_shape(false);
    r.arrays["dK"] = std::move(g.dK);
    r.array_shapes["dK"] = p.q_shape(true);
    r.arrays["dV"] = std::move(g.dV);
    r.array_shapes["dV"] = p.q_shape(true);
  }
  return r;
}

}  // namespace

PointResult run_flash(Problem& p, FlashOptions const& o, RunSettings const& s) {
  return forward_point(p, s, [&](cuda::TimingOptions const& t) {
    return p.device->forward(t, native_forward_kernel(o.kernel));
  });
}

PointResult run_tiled(Problem& p, TileOptions const&, RunSettings const& s) {
  return forward_point(p, s, [&](cuda::TimingOptions const& t) { return p.device->tiled_forward(t); });
}

PointResult run_standard(Problem& p, StandardOptions const& o, RunSettings const& s) {
  if (o.kernel != StandardFwdKernel::automatic && o.kernel != StandardFwdKernel::cublas)
    throw std::invalid_argument(std::string("kernel ") + enum_name(o.kernel) +
                                " is a Kokkos kernel; the native standard runs kernel cublas");
  return forward_point(p, s, [&](cuda::TimingOptions const& t) { return p.device->standard_forward(t); });
}

PointResult run_standard_bwd(Problem& p, MaxGibOptions const&, RunSettings const& s) {
  return backward_point(p, s, "", [&](cuda::TimingOptions const& t) { return p.device->standard_backward(t); });
}

PointResult run_flash_bwd(Problem& p, FlashBwdOptions const& o, RunSettings const& s) {
  const bool deterministic = o.dq == FlashBwdDq::separate;
  PointResult r = backward_point(p, s, "", [&](cuda::TimingOptions const& t) {
    return p.device->backward(deterministic, t);
  });
  if (r.status == "skipped") return r;
  r.metrics["deterministic"] = deterministic;
  r.metrics["kernel_variant"] = std::get<std::string>(r.metrics["kernel_variant"]) +
                                (deterministic ? "; dQ by a separate pass" : "; dQ by fp32 atomics");
  return r;
}

#else  // no native path in this build: backend cuda_native is not offered, so these are never reached

struct Problem : AttentionProblemBase {};

Problem& as_problem(ProblemInstance& p) { return dynamic_cast<Problem&>(p); }
AttentionShape const& shape_of(Problem const& p) { return p.shape; }

std::unique_ptr<ProblemInstance> make_problem(AttentionShape const&, std::vector<double>, std::vector<double>,
                                              std::vector<double>, std::vector<double>, ParamMap const&) {
  throw std::logic_error("numlab was built without the native CUDA path (no nvcc at configure time)");
}

PointResult run_flash(Problem&, FlashOptions const&, RunSettings const&) {
  throw std::logic_error("numlab was built without the native CUDA path (no nvcc at configure time)");
}

PointResult run_flash_bwd(Problem&, FlashBwdOptions const&, RunSettings const&) {
  throw std::logic_error("numlab was built without the native CUDA path (no nvcc at configure time)");
}

PointResult run_standard(Problem&, StandardOptions const&, RunSettings const&) {
  throw std::logic_error("numlab was built without the native CUDA path (no nvcc at configure time)");
}

PointResult run_standard_bwd(Problem&, MaxGibOptions const&, RunSettings const&) {
  throw std::logic_error("numlab was built without the native CUDA path (no nvcc at configure time)");
}

PointResult run_tiled(Problem&, TileOptions const&, RunSettings const&) {
  throw std::logic_error("numlab was built without the native CUDA path (no nvcc at configure time)");
}

#endif

}  // namespace numlab::attention::native
