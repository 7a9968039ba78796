// SPDX-License-Identifier: MIT
#include "attention/attention_experiment.hpp"

#include "attention/method_runner.hpp"
#include "attention/methods/flash.hpp"
#include "attention/methods/flash_bwd.hpp"
#include "attention/methods/standard.hpp"
#include "attention/methods/standard_bwd.hpp"
#include "attention/methods/tiled.hpp"
#include "attention/methods/tiled_bwd.hpp"
#include "attention/native/native_attention.hpp"
#include "attention/native/native_methods.hpp"
#include "core/hdf5.hpp"
#include "core/kokkos_ext/backend.hpp"
#include "core/method_list.hpp"
#include "numlab_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <future>
#include <limits>
#include <set>
#include <utility>
#include <type_traits>

namespace numlab::attention {

namespace {

// The methods of this experiment: adding one is a file in methods/ and a line here, plus the
// one-line methods/<name>.cpp that compiles its run (attention/method_runner.hpp).
using Methods =
    MethodList<StandardMethod, TiledMethod, FlashMethod, StandardBwdMethod, TiledBwdMethod, FlashBwdMethod>;

Schema make_problem_schema() {
  auto in = [](std::string section, ParamSpec p) {
    p.section = std::move(section);
    return p;
  };
  auto opt = [](ParamSpec p) {
    p.optional = true;
    return p;
  };
  auto input_file = [](ParamSpec p) {
    p.input_file = true;
    return p;
  };
  Schema s;
  s.params = {
      in("shape", int_param("B", "batch size", 1, 1, 1 << 20)),
      in("shape", int_param("H", "heads", 1, 1, 1 << 20)),
      in("shape", opt(int_param("N", "query length (required unless inputs)", std::nullopt, 1, 1 << 30))),
      in("shape", opt(int_param("N_kv", "key/value length (default N)", std::nullopt, 1, 1 << 30))),
      in("shape", opt(int_param("D", "head dim (required unless inputs)", std::nullopt, 1, 1024))),
      choice_param("dtype", "precision of inputs, outputs and arithmetic: float32/float64 (Kokkos backends), "
                   "bfloat16/float16 (backend cuda)", {"float32", "float64", "bfloat16", "float16"}, "float32"),
      bool_param("causal", "causal mask, bottom-right aligned when N_kv != N (FlashAttention >= 2.1)", false),
      int_param("seed", "seed of the random Q, K, V, dO", 0, 0, 9.2e18),
      bool_param("reference", "compute the fp64 reference and the errors of every method", true),
      choice_param("vs_standard",
                   "errors against standard / standard_bwd in the same dtype (<X>_*_vs_standard): always, never, "
                   "or auto = always when the config's methods include standard or standard_bwd (cuda_native: against "
                   "its cuBLAS standard)",
                   {"auto", "always", "never"}, "auto"),
      in("inputs", input_file(opt(string_param("path", "HDF5 file with datasets Q, K, V [B,H,N,D] and optional dO",
                                               std::nullopt)))),
  };
  return s;
}

// Kokkos execution spaces for the portable kernels, and cuda_native: the native tensor-core path
// (native/), when built; on a Kokkos-CUDA build Kokkos::Cuda is `default`. `cuda` stays accepted
// as the old name of cuda_native (resolve_backend).
std::vector<std::string> attention_backends() {
  std::vector<std::string> b;
  for (auto const& n : kokkos_backends())
    if (n != "cuda") b.push_back(n);
#ifdef NUMLAB_HAVE_CUDA_NATIVE
  b.push_back(native::kBackend);
#endif
  return b;
}

// Whether Method has a run on the native path (native/native_methods.hpp).
template <class Method, class = void>
struct has_native_run : std::false_type {};
template <class Method>
struct has_native_run<Method, std::void_t<decltype(Method::run(std::declval<native::Problem&>(),
                                                               std::declval<typename Method::Options const&>(),
                                                               std::declval<RunSettings const&>()))>>
    : std::true_type {};

// The kernel and tile options of a point against its backend, from the method's typed Options:
// a native kernel on a Kokkos backend or the reverse, tiles on the native path (fixed per head
// dim), and a forced Kokkos kernel that cannot run the point's dtype, head dim or tiles.
template <class Method>
void check_kernel_options(PointSpec const& pt, RunSettings const& s) {
  using O = typename Method::Options;
  O const o = options_from<O>(pt.options);
  const bool native = s.backend == native::kBackend;
  if constexpr (std::is_base_of_v<TileOptions, O>)
    if (native && (o.tile_q != 0 || o.tile_k != 0))
      throw KeyError(o.tile_q != 0 ? "tile_q" : "tile_k",
                     fmt::format("the native kernels' tiles are fixed per head dim: leave tile_q and tile_k at 0 "
                                 "with backend '{}'",
                                 native::kBackend));
  if constexpr (numlab::detail::has_kernel_option<O>::value) {
    if (auto why = kernel_backend_constraint(o.kernel, native); !why.empty()) throw KeyError("kernel", why);
    if (native || !has(pt.problem, "D")) return;  // D from the inputs file: checked when the point runs
    std::string why = with_backend_type(s.backend, [&](auto exec) {
      using Exec = typename decltype(exec)::type;
      return with_dtype(get_string(pt.problem, "dtype"), [&](auto t) {
        TileSizes tiles{0, 0};
        if constexpr (std::is_base_of_v<TileOptions, O>) tiles = o.tiles();
        return kernel_point_constraint<Exec, decltype(t)>(o.kernel, int(get_int(pt.problem, "D")), tiles);
      });
    });
    if (!why.empty()) throw KeyError("kernel", why);
  }
}

template <class... M>
std::vector<std::string> native_method_names(MethodList<M...>) {
  std::vector<std::string> names;
  ((has_native_run<M>::value ? names.push_back(M::name) : void()), ...);
  return names;
}

// N_kv of a config's shape: given, else N.
std::int64_t n_kv_of(ParamMap const& prm) { return has(prm, "N_kv") ? get_int(prm, "N_kv") : get_int(prm, "N"); }

struct HostInputs {
  AttentionShape shape;
  std::vector<double> Q, K, V, dO;
};

HostInputs read_inputs(std::string const& path, ParamMap const& prm) {
  HostInputs in;
  h5::Handle f = h5::open_file(path, false);
  auto load = [&](char const* name, std::vector<double>& out, std::vector<hsize_t>& dims, bool required) {
    if (!h5::exists(f.get(), name)) {
      if (required) throw std::runtime_error(fmt::format("inputs '{}': dataset '{}' is missing", path, name));
      return false;
    }
    out = h5::read_dataset(f.get(), name, dims);
    if (dims.size() != 4)
      throw std::runtime_error(fmt::format("inputs '{}': dataset '{}' has rank {}, expected 4 ([B,H,N,D])", path,
                                           name, dims.size()));
    return true;
  };
  std::vector<hsize_t> dq, dk, dv, ddo;
  load("Q", in.Q, dq, true);
  load("K", in.K, dk, true);
  load("V", in.V, dv, true);
  bool has_do = load("dO", in.dO, ddo, false);
  auto show = [](std::vector<hsize_t> const& d) { return fmt::format("[{}]", fmt::join(d, ",")); };
  if (dk != dv || dk[0] != dq[0] || dk[1] != dq[1] || dk[3] != dq[3])
    throw std::runtime_error(fmt::format("inputs '{}': shapes Q {} K {} V {} do not fit [B,H,N,D] / [B,H,N_kv,D]", path,
                                         show(dq), show(dk), show(dv)));
  if (has_do && ddo != dq)
    throw std::runtime_error(fmt::format("inputs '{}': dO {} must have the shape of Q {}", path, show(ddo), show(dq)));
  in.shape.B = int(dq[0]);
  in.shape.H = int(dq[1]);
  in.shape.N = int(dq[2]);
  in.shape.N_kv = int(dk[2]);
  in.shape.D = int(dq[3]);
  // Shape keys given in the config must agree with the file.
  auto check = [&](char const* key, int value) {
    if (has(prm, key) && get_int(prm, key) != value)
      throw std::runtime_error(fmt::format("inputs '{}': shape.{} = {} in the config but {} in the file", path, key,
                                           get_int(prm, key), value));
  };
  check("N", in.shape.N);
  check("N_kv", in.shape.N_kv);
  check("D", in.shape.D);
  return in;
}

// The inputs of a problem on the host in fp64: from inputs.path, else seeded random.
HostInputs host_inputs(ParamMap const& prm, RunSettings const& s) {
  HostInputs in;
  auto seed = static_cast<std::uint64_t>(get_int(prm, "seed"));
  if (has(prm, "path")) {
    in = read_inputs(resolve_input_path(get_string(prm, "path"), s.config_dir), prm);
  } else {
    in.shape.N = int(get_int(prm, "N"));
    in.shape.N_kv = int(n_kv_of(prm));
    in.shape.D = int(get_int(prm, "D"));
  }
  in.shape.B = has(prm, "path") ? in.shape.B : int(get_int(prm, "B"));
  in.shape.H = has(prm, "path") ? in.shape.H : int(get_int(prm, "H"));
  in.shape.causal = get_bool(prm, "causal");
  auto const& sh = in.shape;
  std::size_t nq = std::size_t(sh.B) * sh.H * sh.N * sh.D, nkv = std::size_t(sh.B) * sh.H * sh.N_kv * sh.D;
  auto random = [&](std::vector<double>& v, std::size_t n, std::uint64_t sd) {
    if (v.empty()) {
      v.resize(n);
      fill_standard_normal(v.data(), n, sd);
    }
  };
  // Four independent streams: drawn concurrently (the bench points hold 4 x 33M values, about
  // 4 s in series), the same values as in series.
  auto k = std::async(std::launch::async, [&] { random(in.K, nkv, seed + 1); });
  auto v = std::async(std::launch::async, [&] { random(in.V, nkv, seed + 2); });
  auto d = std::async(std::launch::async, [&] { random(in.dO, nq, seed + 3); });
  random(in.Q, nq, seed);
  k.get();
  v.get();
  d.get();
  return in;
}

// "Q: 3 NaN or infinite values; ..." for the inputs that hold any (dO too with `with_do`), ""
// when all are finite.
std::string nonfinite_inputs(HostInputs const& in, bool with_do) {
  std::string why;
  for (auto const& [name, x] : {std::pair<char const*, std::vector<double> const*>{"Q", &in.Q}, {"K", &in.K},
                                {"V", &in.V}, {"dO", &in.dO}}) {
    if (!with_do && x == &in.dO) continue;
    std::size_t n = 0;
    for (double v : *x) n += std::isfinite(v) ? 0 : 1;
    if (n > 0) why += fmt::format("{}{}: {} NaN or infinite values", why.empty() ? "" : "; ", name, n);
  }
  return why;
}

template <class ExecSpace, class T>
std::unique_ptr<ProblemInstance> build(ExecSpace const& space, ParamMap const& prm, RunSettings const& s) {
  using Mem = typename ExecSpace::memory_space;
  auto p = std::make_unique<AttentionProblem<ExecSpace, T>>();
  p->space = space;
  HostInputs in = host_inputs(prm, s);
  auto const& sh = in.shape;
  p->shape = sh;
  p->Q = to_tensor<T, Mem>(in.Q, sh.B, sh.H, sh.N, sh.D, "Q");
  p->K = to_tensor<T, Mem>(in.K, sh.B, sh.H, sh.N_kv, sh.D, "K");
  p->V = to_tensor<T, Mem>(in.V, sh.B, sh.H, sh.N_kv, sh.D, "V");
  p->dO = to_tensor<T, Mem>(in.dO, sh.B, sh.H, sh.N, sh.D, "dO");
  p->invalid_inputs = nonfinite_inputs(in, true);
  p->invalid_forward_inputs = nonfinite_inputs(in, false);
  p->vs_standard = has(prm, "vs_standard") && get_string(prm, "vs_standard") == "always";
  if (get_bool(prm, "reference")) p->reference = reference_attention<T, Mem>(sh, p->Q, p->K, p->V, p->dO);
  return p;
}

class AttentionExperiment final : public Experiment {
 public:
  std::string kind() const override { return "attention"; }
  std::string doc() const override {
    return "attention forward (standard, tiled, flash) and backward (standard_bwd, tiled_bwd, flash_bwd) as Kokkos kernels; "
           "standard, standard_bwd (cuBLAS), tiled, flash and flash_bwd in bf16/fp16 on tensor cores with backend "
           "cuda_native";
  }
  std::string resolve_backend(std::string const& name, std::vector<std::string>& notes) const override {
    if (name != native::kDeprecatedBackend || !native::built()) return name;
    notes.push_back(fmt::format("backend '{}' of an attention config is the old name of '{}' (the native tensor-core "
                                "kernels); write 'backend: {}'",
                                native::kDeprecatedBackend, native::kBackend, native::kBackend));
    return native::kBackend;
  }
  Schema const& problem_schema() const override { return schema_; }
  std::vector<MethodDef> const& methods() const override { return defs_; }
  std::vector<std::string> backends() const override { return attention_backends(); }
  std::vector<std::string> summary_metrics() const override {
    return {"forward_seconds_median", "backward_seconds_median", "peak_device_bytes", "O_rel_fro_error",
            "dQ_rel_fro_error",       "forward_tflops",          "backward_tflops"};
  }

  void validate(PointSpec const& pt) const override {
    if (!has(pt.problem, "path")) {
      if (!has(pt.problem, "N")) throw KeyError("N", "shape.N is required unless inputs.path is given");
      if (!has(pt.problem, "D")) throw KeyError("D", "shape.D is required unless inputs.path is given");
    }
    // The kernels index a tensor's elements and a league's teams with int.
    if (has(pt.problem, "N") && has(pt.problem, "D")) {
      double const rows = double(get_int(pt.problem, "B")) * double(get_int(pt.problem, "H")) *
                          double(std::max(get_int(pt.problem, "N"), n_kv_of(pt.problem)));
      double const elements = rows * double(get_int(pt.problem, "D"));
      if (elements > double(std::numeric_limits<int>::max()))
        throw KeyError("N", fmt::format("B H max(N, N_kv) D = {:.3g} elements in one tensor, more than the kernels "
                                        "index ({}); make the shape smaller",
                                        elements, std::numeric_limits<int>::max()));
    }
  }

  // With inputs.path the shape is the file's: B, H, N, N_kv, D given in the config must agree
  // with it, and the point records the file's (so its attributes say what ran).
  void resolve_problem(ParamMap& problem, std::set<std::string> const& given,
                       std::string const& config_dir) const override {
    if (!has(problem, "path")) return;
    std::string const path = resolve_input_path(get_string(problem, "path"), config_dir);
    if (!std::filesystem::exists(path)) return;  // reported as a missing input
    std::vector<hsize_t> q, k;
    try {
      h5::Handle f = h5::open_file(path, false);
      for (auto const& [name, dims] : {std::pair<char const*, std::vector<hsize_t>*>{"Q", &q}, {"K", &k}}) {
        if (!h5::exists(f.get(), name))
          throw KeyError("path", fmt::format("inputs '{}': dataset '{}' is missing", path, name));
        *dims = h5::dataset_dims(f.get(), name);
        if (dims->size() != 4)
          throw KeyError("path", fmt::format("inputs '{}': dataset '{}' has rank {}, expected 4 ([B,H,N,D])", path,
                                             name, dims->size()));
      }
    } catch (KeyError const&) {
      throw;
    } catch (std::exception const& e) {
      throw KeyError("path", fmt::format("inputs '{}': {}", path, e.what()));
    }
    std::pair<char const*, std::int64_t> const file_shape[] = {
        {"B", std::int64_t(q[0])}, {"H", std::int64_t(q[1])}, {"N", std::int64_t(q[2])},
        {"N_kv", std::int64_t(k[2])}, {"D", std::int64_t(q[3])}};
    for (auto const& [key, value] : file_shape) {
      if (value < 1)
        throw KeyError("path", fmt::format("inputs '{}': {} = {}: every extent of Q and K must be >= 1", path, key,
                                           value));
      if (given.count(key) && get_int(problem, key) != value)
        throw KeyError(key, fmt::format("shape.{} = {} in the config but {} in the inputs file '{}'", key,
                                        get_int(problem, key), value, path));
      problem[key] = value;
    }
  }

  // vs_standard auto: always where the sweep runs a baseline (standard or standard_bwd), so its
  // points say how far each method is from it; never elsewhere. The point records the choice.
  void resolve_methods(ParamMap& problem, std::vector<std::string> const& methods) const override {
    if (!has(problem, "vs_standard") || get_string(problem, "vs_standard") != "auto") return;
    bool const baseline = std::find_if(methods.begin(), methods.end(), [](std::string const& m) {
                            return m == StandardMethod::name || m == StandardBwdMethod::name;
                          }) != methods.end();
    problem["vs_standard"] = std::string(baseline ? "always" : "never");
  }

  // FLOPs: the forward's, and forward + backward (3.5x) for the backward methods; with inputs.path
  // the shape is the file's (resolve_problem recorded it).
  double estimated_cost(PointSpec const& pt) const override {
    if (!has(pt.problem, "N") || !has(pt.problem, "D")) return 0;
    AttentionShape s;
    s.B = int(get_int(pt.problem, "B"));
    s.H = int(get_int(pt.problem, "H"));
    s.N = int(get_int(pt.problem, "N"));
    s.N_kv = int(n_kv_of(pt.problem));
    s.D = int(get_int(pt.problem, "D"));
    s.causal = get_bool(pt.problem, "causal");
    bool const backward = pt.method.size() > 4 && pt.method.compare(pt.method.size() - 4, 4, "_bwd") == 0;
    return backward ? attention_forward_flops(s) + attention_backward_flops(s) : attention_forward_flops(s);
  }

  // N_kv as run when the shape is in the config (N_kv defaults to N).
  ParamMap derived(PointSpec const& pt) const override {
    ParamMap d;
    if (has(pt.problem, "N")) d["N_kv_effective"] = n_kv_of(pt.problem);
    return d;
  }

  void validate_settings(PointSpec const& pt, RunSettings const& s) const override {
    native::validate_point(pt, s, native_methods_);
    Methods::dispatch<int>(pt.method, [&](auto m) {
      check_kernel_options<decltype(m)>(pt, s);
      return 0;
    });
  }

  std::unique_ptr<ProblemInstance> make_problem(ParamMap const& prm, RunSettings const& s) override {
    if (s.backend == native::kBackend) {
      HostInputs in = host_inputs(prm, s);
      std::string const invalid = nonfinite_inputs(in, true), invalid_forward = nonfinite_inputs(in, false);
      auto p = native::make_problem(in.shape, std::move(in.Q), std::move(in.K), std::move(in.V), std::move(in.dO), prm);
      dynamic_cast<AttentionProblemBase&>(*p).invalid_inputs = invalid;
      dynamic_cast<AttentionProblemBase&>(*p).invalid_forward_inputs = invalid_forward;
      return p;
    }
    return with_backend(s.backend, [&](auto space) {
      return with_dtype(get_string(prm, "dtype"), [&](auto t) { return build<decltype(space), decltype(t)>(space, prm, s); });
    });
  }

  PointResult run(ProblemInstance& base, PointSpec const& pt, RunSettings const& s) override {
    PointResult r = Methods::dispatch<PointResult>(pt.method, [&](auto m) {
      using M = decltype(m);
      if (s.backend != native::kBackend) return run_method<M>(base, pt, s);
      if constexpr (has_native_run<M>::value)
        return run_typed<M>(native::as_problem(base), pt, s);
      else
        throw std::logic_error(std::string("method ") + M::name + " has no native run");  // validation rejects it
    });
    // An error against fp64 that is not finite (an output wrong by infinity) is no result either.
    if (r.status == "ok")
      for (auto const& [k, v] : r.metrics)
        if (auto const* d = std::get_if<double>(&v);
            d && !std::isfinite(*d) && k.find("_error") != std::string::npos) {
          r.status = "nonfinite";
          r.reason = fmt::format("{} is {}", k, numlab::to_string(v));
          break;
        }
    AttentionProblemBase const& problem = dynamic_cast<AttentionProblemBase&>(base);
    // The shape actually run (from the file when inputs are given).
    AttentionShape const& sh = problem.shape;
    r.metrics["B_run"] = std::int64_t(sh.B);
    r.metrics["H_run"] = std::int64_t(sh.H);
    r.metrics["N_run"] = std::int64_t(sh.N);
    r.metrics["N_kv_run"] = std::int64_t(sh.N_kv);
    r.metrics["D_run"] = std::int64_t(sh.D);
    return r;
  }

 private:
  Schema schema_ = make_problem_schema();
  std::vector<MethodDef> defs_ = Methods::defs();
  std::vector<std::string> native_methods_ = native_method_names(Methods{});
};

}  // namespace

Experiment* attention_experiment() {
  static AttentionExperiment e;
  return &e;
}

}  // namespace numlab::attention
