// SPDX-License-Identifier: MIT
#include "attention/native/native_attention.hpp"

#include "attention/native/same_precision.hpp"
#include "attention/reference.hpp"
#include "core/interrupt.hpp"
#include "core/memory_tracker.hpp"
#include "cuda/host_parallel.hpp"
#include "numlab_config.hpp"

#ifdef NUMLAB_HAVE_CUDA_NATIVE
#include "cuda/native_attention_runner.hpp"
#endif

#include <fmt/format.h>

#include <algorithm>
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

std::vector<std::string> const& native_methods() {
  static std::vector<std::string> const m = {"flash", "flash_bwd"};
  return m;
}

void validate_point(PointSpec const& pt, RunSettings const& s) {
  std::string const& dtype = get_string(pt.problem, "dtype");
  const bool native = s.backend == "cuda";
  if (!native) {
    if (is_native_dtype(dtype))
      throw KeyError("dtype", fmt::format("dtype '{}' runs only on the native CUDA tensor-core path: set 'backend: "
                                          "cuda'{}; the Kokkos backends run float32 and float64",
                                          dtype, built() ? "" : " (not in this build: configured without nvcc)"));
    return;
  }
  if (!is_native_dtype(dtype))
    throw KeyError("dtype", fmt::format("backend 'cuda' (the native tensor-core path) runs dtype bfloat16 or float16, "
                                        "not '{}'; float32 and float64 run on the Kokkos backends (e.g. 'backend: "
                                        "default')",
                                        dtype));
  auto const& ms = native_methods();
  if (std::find(ms.begin(), ms.end(), pt.method) == ms.end())
    throw KeyError("methods", fmt::format("method '{}' has no native CUDA implementation; with backend 'cuda' the "
                                          "methods are {}",
                                          pt.method, fmt::join(ms, ", ")));
#ifdef NUMLAB_HAVE_CUDA_NATIVE
  if (has(pt.problem, "D") && !cuda::supports_head_dim(int(get_int(pt.problem, "D"))))
    throw KeyError("D", fmt::format("head dim D = {} is not supported by the native CUDA kernels (backend 'cuda'): "
                                    "64, 128 or 256",
                                    get_int(pt.problem, "D")));
#endif
}

#ifdef NUMLAB_HAVE_CUDA_NATIVE

namespace {

using HostView4 = Tensor4<const double, Kokkos::HostSpace>;
using HostView3 = Tensor3<const double, Kokkos::HostSpace>;

cuda::DType dtype_of(std::string const& name) { return name == "bfloat16" ? cuda::DType::bf16 : cuda::DType::fp16; }

struct NativeProblem : ProblemInstance {
  AttentionShape shape;
  cuda::DType dtype = cuda::DType::bf16;
  std::vector<double> Q, K, V, dO;  // the bf16/fp16 values the device sees, as doubles
  std::optional<ReferenceResult> reference;
  std::optional<SamePrecisionResult> standard;  // made on first use; with gradients once a backward asks
  cuda::DeviceInfo info;
  std::unique_ptr<cuda::NativeAttention> device;  // null without a CUDA device

  HostView4 q_view(std::vector<double> const& x, bool kv) const {
    return HostView4(x.data(), shape.B, shape.H, kv ? shape.N_kv : shape.N, shape.D);
  }
  HostView3 rows_view(std::vector<double> const& x) const { return HostView3(x.data(), shape.B, shape.H, shape.N); }

  // The same-precision baseline, or null where it is not computed (no reference, too large).
  SamePrecisionResult const* same_precision(bool gradients) {
    if (!reference || attention_work(shape) > kSamePrecisionMaxWork) return nullptr;
    if (!standard || (gradients && standard->dQ.empty()))
      standard = standard_same_precision(shape, dtype, Q.data(), K.data(), V.data(), gradients ? dO.data() : nullptr);
    return &*standard;
  }
};

void add_errors(PointResult& r, std::string const& name, ErrorNorms const& e, std::string const& suffix = "") {
  r.metrics[name + "_max_abs_error" + suffix] = e.max_abs;
  r.metrics[name + "_rel_fro_error" + suffix] = e.rel_fro;
}

void add_times(PointResult& r, std::string const& prefix, cuda::TimedRuns const& t, double flops) {
  r.metrics[prefix + "_seconds_median"] = t.median;
  r.metrics[prefix + "_seconds_min"] = t.min;
  r.metrics[prefix + "_seconds_mean"] = t.mean;
  r.metrics[prefix + "_tflops"] = t.median > 0 ? flops / t.median * 1e-12 : 0.0;
  r.metrics["flops"] = flops;
  r.arrays["times_seconds"] = t.seconds;
}

}  // namespace

std::unique_ptr<ProblemInstance> make_problem(AttentionShape const& shape, std::vector<double> Q,
                                              std::vector<double> K, std::vector<double> V, std::vector<double> dO,
                                              ParamMap const& prm) {
  auto p = std::make_unique<NativeProblem>();
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
  if (get_bool(prm, "reference"))
    p->reference = reference_attention<double, Kokkos::HostSpace>(shape, p->q_view(p->Q, false), p->q_view(p->K, true),
                                                                  p->q_view(p->V, true), p->q_view(p->dO, false));
  return p;
}

PointResult run(ProblemInstance& base, PointSpec const& pt, RunSettings const& s) {
  auto& p = dynamic_cast<NativeProblem&>(base);
  auto const& sh = p.shape;
  PointResult r;
  r.metrics["B_run"] = std::int64_t(sh.B);
  r.metrics["H_run"] = std::int64_t(sh.H);
  r.metrics["N_run"] = std::int64_t(sh.N);
  r.metrics["N_kv_run"] = std::int64_t(sh.N_kv);
  r.metrics["D_run"] = std::int64_t(sh.D);
  if (!p.device) {
    r.status = "skipped";
    r.reason = "no CUDA device";
    r.metrics["cuda_device_status"] = p.info.reason;
    return r;
  }
  r.metrics["device_name"] = p.info.name;
  r.metrics["device_compute_capability"] = std::int64_t(p.info.cc_major * 10 + p.info.cc_minor);
  r.metrics["cuda_runtime_version"] = std::int64_t(p.info.runtime_version);
  r.metrics["memory_space"] = std::string("CudaNative");

  cuda::TimingOptions opt;
  opt.warmup = s.warmup;
  opt.repetitions = s.repetitions;
  opt.download = p.reference.has_value() || s.save_outputs;
  opt.before_each = [] { check_interrupt(); };
  const bool rss_ok = reset_host_peak_rss();
  const std::int64_t rss0 = host_rss_bytes();
  auto host_peak = [&] { return rss_ok ? host_peak_rss_bytes() - rss0 : std::int64_t(-1); };
  std::vector<std::size_t> const q_shape = {std::size_t(sh.B), std::size_t(sh.H), std::size_t(sh.N),
                                            std::size_t(sh.D)};
  std::vector<std::size_t> const kv_shape = {std::size_t(sh.B), std::size_t(sh.H), std::size_t(sh.N_kv),
                                             std::size_t(sh.D)};
  constexpr char const* kSame = "_standard_same_precision";

  if (pt.method == "flash") {
    cuda::ForwardRun f = p.device->forward(opt);
    r.metrics["peak_host_rss_bytes"] = host_peak();
    add_times(r, "forward", f.times, attention_forward_flops(sh));
    r.metrics["peak_device_bytes"] = f.peak_device_bytes;
    r.metrics["peak_device_bytes_inputs"] = f.peak_device_bytes_inputs;
    r.status = "ok";
    if (p.reference) {
      add_errors(r, "O", compare<double, Kokkos::HostSpace>(p.q_view(f.O, false), p.reference->O));
      add_errors(r, "L", compare<double, Kokkos::HostSpace>(p.rows_view(f.lse), p.reference->L));
      if (auto const* sp = p.same_precision(false)) {
        add_errors(r, "O", compare<double, Kokkos::HostSpace>(p.q_view(sp->O, false), p.reference->O), kSame);
        add_errors(r, "L", compare<double, Kokkos::HostSpace>(p.rows_view(sp->L), p.reference->L), kSame);
      }
    }
    if (s.save_outputs) {
      r.arrays["O"] = std::move(f.O);
      r.array_shapes["O"] = q_shape;
      r.arrays["L"] = std::move(f.lse);
      r.array_shapes["L"] = {std::size_t(sh.B), std::size_t(sh.H), std::size_t(sh.N)};
    }
    return r;
  }
  if (pt.method == "flash_bwd") {
    const bool deterministic = get_string(pt.options, "dq") == "separate";
    cuda::BackwardRun g = p.device->backward(deterministic, opt);
    r.metrics["peak_host_rss_bytes"] = host_peak();
    add_times(r, "backward", g.times, attention_backward_flops(sh));
    r.metrics["peak_device_bytes"] = g.peak_device_bytes;
    r.metrics["peak_device_bytes_inputs"] = g.peak_device_bytes_inputs;
    r.metrics["backward_workspace_bytes"] = g.workspace_bytes;
    r.metrics["deterministic"] = deterministic;
    r.status = "ok";
    if (p.reference) {
      add_errors(r, "dQ", compare<double, Kokkos::HostSpace>(p.q_view(g.dQ, false), p.reference->dQ));
      add_errors(r, "dK", compare<double, Kokkos::HostSpace>(p.q_view(g.dK, true), p.reference->dK));
      add_errors(r, "dV", compare<double, Kokkos::HostSpace>(p.q_view(g.dV, true), p.reference->dV));
      if (auto const* sp = p.same_precision(true)) {
        add_errors(r, "dQ", compare<double, Kokkos::HostSpace>(p.q_view(sp->dQ, false), p.reference->dQ), kSame);
        add_errors(r, "dK", compare<double, Kokkos::HostSpace>(p.q_view(sp->dK, true), p.reference->dK), kSame);
        add_errors(r, "dV", compare<double, Kokkos::HostSpace>(p.q_view(sp->dV, true), p.reference->dV), kSame);
      }
    }
    if (s.save_outputs) {
      r.arrays["dQ"] = std::move(g.dQ);
      r.array_shapes["dQ"] = q_shape;
      r.arrays["dK"] = std::move(g.dK);
      r.array_shapes["dK"] = kv_shape;
      r.arrays["dV"] = std::move(g.dV);
      r.array_shapes["dV"] = kv_shape;
    }
    return r;
  }
  throw std::logic_error(fmt::format("method '{}' has no native CUDA implementation", pt.method));
}

#else  // no native path in this build: backend 'cuda' is not offered, so these are never reached

std::unique_ptr<ProblemInstance> make_problem(AttentionShape const&, std::vector<double>, std::vector<double>,
                                              std::vector<double>, std::vector<double>, ParamMap const&) {
  throw std::logic_error("numlab was built without the native CUDA path (no nvcc at configure time)");
}

PointResult run(ProblemInstance&, PointSpec const&, RunSettings const&) {
  throw std::logic_error("numlab was built without the native CUDA path (no nvcc at configure time)");
}

#endif

}  // namespace numlab::attention::native
