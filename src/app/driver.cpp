// SPDX-License-Identifier: MIT
#include "app/driver.hpp"

#include "app/experiments.hpp"
#include "app/machine_output.hpp"
#include "app/output_path.hpp"
#include "app/summary_table.hpp"

#include "core/config.hpp"
#include "core/cost_eta.hpp"
#include "core/fingerprint.hpp"
#include "core/blas_info.hpp"
#include "core/host_threads.hpp"
#include "core/kokkos_ext/backend.hpp"
#include "core/output_lock.hpp"
#include "core/interrupt.hpp"
#include "core/provenance.hpp"
#include "core/point_writer.hpp"
#include "core/results_file.hpp"
#include "numlab_config.hpp"

#include <Kokkos_Core.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>

namespace numlab {

namespace fs = std::filesystem;

namespace {

std::string hms(double s) {
  if (!(s >= 0)) return "--:--";
  auto t = static_cast<long>(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02d}:{:02d}", t / 3600, t / 60 % 60, t % 60);
  return fmt::format("{}:{:02d}", t / 60, t % 60);
}

// "N=500 density=0.05 gauss_seidel variant=sequential": axes and options that tell points apart.
std::string describe(PointSpec const& p, std::vector<std::string> const& axes) {
  std::string s;
  for (auto const& a : axes)
    if (p.problem.count(a)) s += fmt::format("{}={} ", a, to_string(p.problem.at(a)));
  s += p.method;
  for (auto const& [k, v] : p.options)
    if (k == "variant") s += "/" + to_string(v);
  for (auto const& a : axes)
    if (p.options.count(a)) s += fmt::format(" {}={}", a, to_string(p.options.at(a)));
  return s;
}

// Method options that tell two entries of the same method apart (e.g. two
// gauss_seidel entries differing in `direction`): shown as summary columns.
std::vector<std::string> distinguishing_options(std::vector<PointSpec> const& points,
                                                std::vector<std::string> const& axes) {
  std::map<std::pair<std::string, std::string>, std::set<std::string>> seen;  // (method, key) -> values
  for (auto const& p : points)
    for (auto const& [k, v] : p.options) seen[{p.method, k}].insert(to_string(v));
  std::vector<std::string> keys;
  for (auto const& [mk, values] : seen) {
    auto const& key = mk.second;
    if (values.size() > 1 && key != "variant" && std::find(axes.begin(), axes.end(), key) == axes.end() &&
        std::find(keys.begin(), keys.end(), key) == keys.end())
      keys.push_back(key);
  }
  return keys;
}

void print_summary(std::string const& path, std::vector<std::string> const& axes,
                   std::vector<std::string> const& options, std::vector<std::string> const& metrics) {
  auto points = results::read_points(path);
  fmt::print("\nSummary ({} points in {}):\n{}", points.size(), path, format_summary(points, axes, options, metrics));
}

// Why `cfg` may not resume the file with root attributes `root` and points `stored` ("" if it
// may): the normalised configs differ, or (files without a fingerprint) a stored point is not
// the config's point of that index.
std::string resume_mismatch(RunConfig const& cfg, ParamMap const& root, std::vector<StoredPoint> const& stored) {
  std::string const mine = normalized_config(cfg);
  auto it = root.find("config_normalized");
  if (it != root.end()) {
    std::string const theirs = to_string(it->second);
    if (root.count("config_fingerprint") && to_string(root.at("config_fingerprint")) == config_fingerprint(mine))
      return {};
    // The fingerprints differ but the configs read the same: a file from before a field of the
    // normalised config existed (the inputs' digests); first_difference says what can be compared.
    return first_difference(theirs, mine, "the file", "the config");
  }
  for (auto const& sp : stored) {
    auto idx = sp.attributes.find("point_index");
    auto key = sp.attributes.find("point_key");
    if (idx == sp.attributes.end() || key == sp.attributes.end()) return "/points/" + sp.group + " has no point_key";
    auto const i = std::get<std::int64_t>(idx->second);
    if (i < 0 || std::size_t(i) >= cfg.points.size())
      return fmt::format("point {} is in the file, the config has {} points", i, cfg.points.size());
    PointSpec const& p = cfg.points[std::size_t(i)];
    if (to_string(key->second) == p.key()) continue;
    for (auto const& [k, v] : p.attributes()) {
      auto a = sp.attributes.find(k);
      if (a == sp.attributes.end() || to_string(a->second) != to_string(v))
        return fmt::format("point {}: {} = {} in the file, {} in the config", i, k,
                           a == sp.attributes.end() ? "absent" : to_string(a->second), to_string(v));
    }
    return fmt::format("point {}: its key differs", i);
  }
  return {};
}

}  // namespace

std::string shard_output_path(std::string const& output, int index, int count) {
  fs::path p(output);
  std::string stem = p.stem().string();
  std::string ext = p.has_extension() ? p.extension().string() : ".h5";
  return (p.parent_path() / fmt::format("{}.shard{}of{}{}", stem, index, count, ext)).string();
}

void print_list(bool json) {
  if (json) {
    fmt::print("{}\n", list_json(builtin_experiments()).dump(2));
    return;
  }
  fmt::print("numlab experiment kinds, methods and options\n");
  for (auto* e : builtin_experiments()) {
    fmt::print("\nkind: {} -- {}\n  backends in this build: {}\n  problem keys:\n", e->kind(), e->doc(),
               fmt::join(e->backends(), ", "));
    for (auto const& p : e->problem_schema().params)
      fmt::print("    {:<18} {}{}: {}{}\n", p.key, p.section.empty() ? "" : "[" + p.section + "] ", p.expected(),
                 p.doc, p.default_value ? fmt::format(" (default {})", to_string(*p.default_value)) : "");
    fmt::print("  methods:\n");
    for (auto const& m : e->methods()) {
      fmt::print("    {:<18} {}\n", m.name, m.doc);
      for (auto const& o : m.options.params)
        fmt::print("      {:<16} {}: {}{}\n", o.key, o.expected(), o.doc,
                   o.default_value ? fmt::format(" (default {})", to_string(*o.default_value)) : "");
      for (auto const& k : m.kernels) fmt::print("      kernel {:<20} [{}] {}\n", k.name, k.backends, k.doc);
    }
  }
  HostThreads const t = host_threads();
  fmt::print("\nKokkos {}.{}.{} ({}), backends {}; default execution space: {}; host: {}; BLAS: {}\n",
             KOKKOS_VERSION / 10000, KOKKOS_VERSION / 100 % 100, KOKKOS_VERSION % 100, NUMLAB_KOKKOS_ORIGIN, t.backends,
             Kokkos::DefaultExecutionSpace::name(), describe(t), describe(blas_info()));
}

int run_driver(DriverOptions const& opts, int argc, char** argv, std::string const& command_line) {
  RunConfig cfg;
  try {
    cfg = load_config(opts.config_path, builtin_experiments());
  } catch (ConfigError const& e) {
    fmt::print(stderr, "{}\n", e.what());
    return kExitUsage;
  }
  std::string output = opts.output_given ? opts.output : cfg.output;
  if (opts.shard_count > 1 && !opts.output_given) output = shard_output_path(output, opts.shard_index, opts.shard_count);

  std::vector<PointSpec const*> mine;
  for (auto const& p : cfg.points)
    if (p.index % std::size_t(opts.shard_count) == std::size_t(opts.shard_index)) mine.push_back(&p);

  for (auto const& note : cfg.notes) fmt::print(stderr, "{}: note: {}\n", cfg.path, note);
  try {
    output = resolve_output_path(output, cfg.input_files);
  } catch (std::invalid_argument const& e) {
    fmt::print(stderr, "{}: error: output: {}\n", cfg.path, e.what());
    return kExitUsage;
  }

  if (opts.dry_run && opts.json) {
    fmt::print("{}\n", dry_run_json(cfg, mine, output, opts.shard_index, opts.shard_count).dump(2));
    return kExitOk;
  }
  if (opts.dry_run) {
    fmt::print("{}: kind {}, {} points{}, output {}\n", cfg.path, cfg.kind, cfg.points.size(),
               opts.shard_count > 1 ? fmt::format(" ({} in shard {}/{})", mine.size(), opts.shard_index,
                                                  opts.shard_count)
                                    : "",
               output);
    for (auto const* p : mine) {
      std::string opts_s;
      for (auto const& [k, v] : p->options) opts_s += fmt::format(" {}={}", k, to_string(v));
      std::string prob;
      for (auto const& [k, v] : p->problem) prob += fmt::format(" {}={}", k, to_string(v));
      fmt::print("  [{:>4}] {}{} |{}\n", p->index, p->method, opts_s, prob);
    }
    return kExitOk;
  }

  // The inputs are read for the config's fingerprint now (and once: the digests are cached), so
  // one that cannot be read is a config error before anything is written.
  try {
    normalized_config(cfg);
  } catch (std::exception const& e) {
    fmt::print(stderr, "{}: error: {}\n", cfg.path, e.what());
    return kExitUsage;
  }

  // One writer per output, for the whole run (the lock file lives beside it).
  std::optional<OutputLock> lock;
  try {
    fs::path const parent = fs::path(output).parent_path();
    if (!parent.empty()) fs::create_directories(parent);
    std::string note;
    lock.emplace(output, opts.wait_lock_seconds, &note);
    if (!note.empty()) fmt::print(stderr, "numlab: note: {}\n", note);
  } catch (OutputLocked const& e) {
    fmt::print(stderr, "{}: error: cannot write '{}': {}\n", cfg.path, output, e.what());
    return kExitUsage;
  } catch (std::exception const& e) {
    fmt::print(stderr, "{}: error: cannot write '{}': {}\n", cfg.path, output, e.what());
    return kExitUsage;
  }
  for (auto const& n : results::remove_stale_temporaries(output)) fmt::print(stderr, "numlab: note: {}\n", n);

  // The output: never clobber results unless asked.
  bool exists = fs::exists(output);
  std::set<std::string> done;
  if (exists && !opts.resume && !opts.overwrite) {
    fmt::print(stderr,
               "{}: error: output '{}' already exists; pass --resume to continue it, --overwrite to replace it, or "
               "-o to write elsewhere\n",
               cfg.path, output);
    return kExitUsage;
  }
  if (exists && opts.resume) {
    try {
      ParamMap root = results::read_root(output);
      if (!root.count("kind") || to_string(root.at("kind")) != cfg.kind) {
        fmt::print(stderr, "{}: error: cannot resume '{}': it holds a '{}' run, the config is '{}'\n", cfg.path, output,
                   root.count("kind") ? to_string(root.at("kind")) : "?", cfg.kind);
        return kExitUsage;
      }
      std::vector<StoredPoint> const stored = results::read_points(output);
      if (std::string why = resume_mismatch(cfg, root, stored); !why.empty()) {
        fmt::print(stderr,
                   "{}: error: cannot resume '{}': it was written by a different config ({}); nothing was changed. "
                   "Write to another output (-o) or pass --overwrite\n",
                   cfg.path, output, why);
        return kExitUsage;
      }
      for (auto const& sp : stored) {
        auto st = sp.attributes.find("status");
        if (opts.retry_failed && st != sp.attributes.end() && to_string(st->second) == "failed") continue;
        auto k = sp.attributes.find("point_key");
        if (k != sp.attributes.end()) done.insert(to_string(k->second));
      }
    } catch (std::exception const& e) {
      fmt::print(stderr, "{}: error: cannot resume from '{}': {}\n", cfg.path, output, e.what());
      return kExitUsage;
    }
  }

  Kokkos::ScopeGuard kokkos(argc, argv);
  install_interrupt_handlers();
  // Points are appended as parts and packed into the output at the end (core/point_writer.hpp);
  // --overwrite keeps the old file until the new run has its first point.
  std::optional<results::PointWriter> writer;
  auto print_notes = [&] {
    if (writer)
      for (auto const& n : writer->take_notes()) fmt::print(stderr, "\nnumlab: note: {}\n", n);
  };
  // The file --overwrite replaces: its parts go with it once the new file exists.
  std::string replaced_id;
  if (exists && opts.overwrite) {
    try {
      replaced_id = results::file_id(output);
    } catch (std::exception const&) {
    }
  }
  try {
    if (!exists) results::create(output, collect_provenance(cfg, command_line));
    if (!exists || !opts.overwrite) writer.emplace(output);
  } catch (std::exception const& e) {
    fmt::print(stderr, "error: cannot write '{}': {}\n", output, e.what());
    return kExitError;
  }
  print_notes();

  std::vector<PointSpec const*> todo;
  for (auto const* p : mine)
    if (!done.count(p->key())) todo.push_back(p);
  if (exists && opts.overwrite && todo.empty()) {
    try {
      results::create(output, collect_provenance(cfg, command_line));
      for (auto const& n : results::remove_stale_temporaries(output, replaced_id))
        fmt::print(stderr, "numlab: note: {}\n", n);
    } catch (std::exception const& e) {
      fmt::print(stderr, "error: cannot write '{}': {}\n", output, e.what());
      return kExitError;
    }
  }
  // Every way out of the loop packs what it committed; a pack that fails leaves the parts, which
  // every reader sees and the next --resume packs.
  auto pack = [&]() -> bool {
    if (!writer || writer->pending() == 0) return true;
    try {
      writer->pack();
      print_notes();
      return true;
    } catch (std::exception const& e) {
      fmt::print(stderr,
                 "numlab: warning: cannot pack the new points into '{}' ({}); they are committed in '{}', where "
                 "numlab and scripts/numlab_results.py read them, and --resume packs them\n",
                 output, e.what(), results::parts_dir(output));
      return false;
    }
  };
  if (!opts.quiet)
    fmt::print(stderr, "numlab: {} '{}': {} points{}, {} to run -> {}\n", cfg.kind, cfg.name, mine.size(),
               opts.shard_count > 1 ? fmt::format(" in shard {}/{}", opts.shard_index, opts.shard_count) : "",
               todo.size(), output);
  if (!opts.quiet) {
    std::string space = cfg.settings.backend;
    try {
      space = with_backend_type(cfg.settings.backend, [](auto t) { return std::string(decltype(t)::type::name()); });
    } catch (std::invalid_argument const&) {  // not a Kokkos backend (cuda_native)
    }
    fmt::print(stderr, "numlab: backend {} ({}); host {}; BLAS {}\n", cfg.settings.backend, space, describe(host_threads()),
               describe(blas_info()));
  }

  Experiment& exp = *cfg.experiment;
  std::unique_ptr<ProblemInstance> problem;
  std::string problem_key;
  std::string problem_error;
  int failed = 0;
  auto t_start = std::chrono::steady_clock::now();
  std::vector<double> costs;
  for (auto const* p : todo) costs.push_back(exp.estimated_cost(*p));
  // The rate the ETA assumes until costly points have run: 1 GFLOP/s per host thread, 1 TFLOP/s
  // on a GPU (the order of what the lab's kernels reach; the finished points correct it).
  std::string space_name = cfg.settings.backend;
  try {
    space_name = with_backend_type(cfg.settings.backend, [](auto t) { return std::string(decltype(t)::type::name()); });
  } catch (std::invalid_argument const&) {  // cuda_native
  }
  bool const on_gpu = space_name == "Cuda" || space_name == "HIP" || space_name == "SYCL" ||
                      cfg.settings.backend == "cuda_native";
  CostWeightedEta eta_model(std::move(costs), on_gpu ? 1e-12 : 1e-9 / std::max(1, host_threads().threads));
  for (std::size_t k = 0; k < todo.size(); ++k) {
    PointSpec const& pt = *todo[k];
    std::string what = describe(pt, cfg.sweep_axes);
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    double eta = eta_model.remaining_seconds();
    if (opts.progress_tty && !opts.quiet)
      fmt::print(stderr, "\r\033[K[{}/{}] {}  elapsed {}  ETA {}", k + 1, todo.size(), what, hms(elapsed), hms(eta));

    PointResult result;
    auto t0 = std::chrono::steady_clock::now();
    try {
      std::string pk = canonical_key(pt.problem);
      if (pk != problem_key) {
        problem.reset();
        problem_error.clear();
        problem_key = pk;
        try {
          problem = exp.make_problem(pt.problem, cfg.settings);
        } catch (Interrupted const&) {
          throw;
        } catch (std::exception const& e) {
          problem_error = e.what();
        }
      }
      if (!problem) throw std::runtime_error("building the problem failed: " + problem_error);
      result = exp.run(*problem, pt, cfg.settings);
    } catch (Interrupted const&) {
      if (opts.progress_tty && !opts.quiet) fmt::print(stderr, "\n");
      if (exists && opts.overwrite && k == 0)
        fmt::print(stderr, "numlab: interrupted during point {} ({}), before the first point: '{}' is unchanged\n",
                   pt.index, what, output);
      else
        fmt::print(stderr,
                   "numlab: interrupted during point {} ({}); {} finished points are in '{}'; rerun with --resume to "
                   "continue\n",
                   pt.index, what, k, output);
      // On a signal the job may have seconds left (Slurm's KillWait): a large pack is left to
      // --resume; the parts are committed and read with the file.
      if (writer && writer->pending() > 0 && writer->pack_bytes() > (std::uintmax_t(1) << 30))
        fmt::print(stderr, "numlab: the new points stay in '{}' (packing would copy {:.1f} GiB now); --resume packs "
                           "them\n",
                   results::parts_dir(output), double(writer->pack_bytes()) / 1073741824.0);
      else
        pack();
      return kExitInterrupted;
    } catch (std::bad_alloc const&) {
      result = PointResult{};
      result.status = "failed";
      result.reason = "out of host memory (std::bad_alloc) while making or running the point";
    } catch (std::exception const& e) {
      result = PointResult{};
      result.status = "failed";
      result.reason = e.what();
    }
    if (result.status == "failed") ++failed;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    eta_model.finished(k, secs);
    result.metrics["wall_seconds"] = secs;
    // The run's settings that shape the metrics, per point: a resume may change them.
    result.metrics["warmup"] = std::int64_t(cfg.settings.warmup);
    result.metrics["repetitions"] = std::int64_t(cfg.settings.repetitions);
    for (auto const& [k, v] : exp.derived(pt)) result.metrics.emplace(k, v);
    try {
      if (!writer) {
        results::create_with_point(output, collect_provenance(cfg, command_line), pt, result);
      } else {
        writer->append(pt, result);
      }
    } catch (std::exception const& e) {
      fmt::print(stderr, "\nerror: cannot write point {} to '{}': {}\n", pt.index, output, e.what());
      pack();
      return kExitError;
    }
    if (!writer) {
      try {
        writer.emplace(output, replaced_id);  // the replaced file's parts go
      } catch (std::exception const& e) {
        fmt::print(stderr, "\nerror: point {} is in '{}', but the file cannot be opened for the next ones: {}\n",
                   pt.index, output, e.what());
        return kExitError;
      }
    }
    print_notes();
    if (!opts.quiet && !opts.progress_tty)
      fmt::print(stderr, "[{}/{}] {}: {}{} ({:.3g} s, ETA {})\n", k + 1, todo.size(), what, result.status,
                 result.reason.empty() || result.status != "failed" ? "" : " -- " + result.reason, secs,
                 hms(k + 1 < todo.size() ? eta_model.remaining_seconds() : 0));
    if (!opts.quiet && opts.progress_tty && result.status == "failed")
      fmt::print(stderr, "\r\033[Kpoint {} ({}) failed: {}\n", pt.index, what, result.reason);
  }
  if (opts.progress_tty && !opts.quiet) fmt::print(stderr, "\r\033[K");
  bool const packed = pack();
  if (!opts.quiet)
    print_summary(output, cfg.sweep_axes, distinguishing_options(cfg.points, cfg.sweep_axes), exp.summary_metrics());
  if (failed > 0)
    fmt::print(stderr, "numlab: {} point(s) failed; their reasons are recorded in '{}'\n", failed, output);
  if (!packed) return kExitError;
  return failed > 0 ? kExitPointsFailed : kExitOk;
}

}  // namespace numlab
