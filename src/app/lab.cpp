// SPDX-License-Identifier: MIT
#include "app/lab.hpp"

#include "app/child_process.hpp"
#include "app/driver.hpp"
#include "app/lab_plan.hpp"
#include "app/summary_table.hpp"
#include "attention/native/native_attention.hpp"
#include "core/output_lock.hpp"
#include "core/results_file.hpp"
#include "numlab_config.hpp"

#include <CLI/CLI.hpp>
#include <Kokkos_Macros.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <unistd.h>

namespace numlab {

namespace fs = std::filesystem;

namespace {

#if defined(KOKKOS_ENABLE_CUDA) || defined(KOKKOS_ENABLE_HIP) || defined(KOKKOS_ENABLE_SYCL)
constexpr bool kBuildHasGpu = true;
#else
constexpr bool kBuildHasGpu = false;
#endif

struct StepOutcome {
  std::string step;     // what ran
  std::string result;   // "ok", "skipped: why", "failed (exit 1; log ...)", ...
  double seconds = 0;
  std::string file;     // its output, "" for none
  int exit_code = 0;    // the child's (0 for ok and skipped)
};

std::string hms(double s) {
  auto t = static_cast<long>(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02d}:{:02d}", t / 3600, t / 60 % 60, t % 60);
  return fmt::format("{}:{:02d}", t / 60, t % 60);
}

std::string self_path(char const* fallback) {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(fallback) : p.string();
}

// Points in a results file and the sweep's size (root total_points); nothing if unreadable.
std::optional<std::pair<std::size_t, std::size_t>> file_progress(std::string const& path) {
  try {
    ParamMap const root = results::read_root(path);
    auto it = root.find("total_points");
    if (it == root.end()) return std::nullopt;
    std::size_t const total = std::size_t(std::get<std::int64_t>(it->second));
    return std::make_pair(results::read_points(path).size(), total);
  } catch (std::exception const&) {
    return std::nullopt;
  }
}

// The Python interpreters to try, in order.
std::vector<std::string> python_candidates() {
  if (char const* p = std::getenv("NUMLAB_PYTHON"); p && *p) return {p};
  std::vector<std::string> c;
  if (::access("/usr/bin/python3", X_OK) == 0) c.push_back("/usr/bin/python3");
  c.push_back("python3");
  return c;
}

// The first interpreter that imports `modules` (and sees a CUDA device with `cuda`), or the
// reason none does.
struct PythonChoice {
  std::string python;
  std::string why_not;
};
PythonChoice find_python(std::vector<std::string> const& modules, bool cuda) {
  static std::map<std::string, PythonChoice> cache;
  std::string code = "import " + fmt::format("{}", fmt::join(modules, ", "));
  if (cuda) code += "; import torch; assert torch.cuda.is_available(), 'PyTorch sees no CUDA device'";
  if (auto it = cache.find(code); it != cache.end()) return it->second;
  PythonChoice choice;
  for (auto const& py : python_candidates()) {
    auto [rc, last] = run_probe({py, "-c", code});
    if (rc == 0) {
      choice = {py, ""};
      break;
    }
    if (choice.why_not.empty())
      choice.why_not = rc == 127 ? fmt::format("{} is not installed", py) : fmt::format("{}: {}", py, last);
  }
  return cache[code] = choice;
}

void print_outcomes(std::vector<StepOutcome> const& steps) {
  std::size_t w_step = 4, w_result = 6;
  for (auto const& s : steps) {
    w_step = std::max(w_step, display_width(s.step));
    w_result = std::max(w_result, std::min<std::size_t>(display_width(s.result), 60));
  }
  fmt::print("\n{:<{}}  {:<{}}  {:>7}  {}\n", "step", w_step, "result", w_result, "time", "file");
  for (auto const& s : steps) {
    std::string const result = s.result + std::string(w_result > display_width(s.result) ? w_result - display_width(s.result) : 0, ' ');
    fmt::print("{:<{}}  {}  {:>7}  {}\n", s.step, w_step, result, s.seconds > 0 ? hms(s.seconds) : "", s.file);
  }
}

}  // namespace

CLI::App* add_lab_command(CLI::App& app, LabOptions& opts) {
  CLI::App* l = app.add_subcommand(
      "lab",
      "run the whole lab (linear systems, attention, their peers) and write its report: numlab lab --quick");
  l->allow_extras(false);
  l->add_flag("--quick", opts.quick, "small sizes (configs/lab/quick/): minutes on 2 cores, every experiment and check");
  l->add_option("-o,--output", opts.output, "output folder (default results/lab/, with --quick results/lab-quick/)");
  l->add_flag("--gpu", opts.gpu, "also the GPU experiments and peers (default where this build has a GPU backend)");
  l->add_flag("--host", opts.host, "the host experiments and peers only");
  l->add_flag("--resume", opts.resume, "continue an existing output folder (finished points and complete peer files kept)");
  l->add_flag("--overwrite", opts.overwrite, "run everything again into an existing output folder");
  l->add_option("--configs", opts.configs, "take the experiments' configs (NAME.yaml) from this folder");
  l->add_flag("--dry-run", opts.dry_run, "print what would run, and which peers can; run nothing");
  l->add_flag("-q,--quiet", opts.quiet, "only the lab's own lines (every step's output is in its log)");
  return l;
}

int run_lab(LabOptions const& opts) {
  auto usage = [](std::string const& msg) {
    fmt::print(stderr, "numlab lab: error: {}\n", msg);
    return int(kExitUsage);
  };
  if (opts.resume && opts.overwrite) return usage("--resume and --overwrite exclude each other");
  if (opts.gpu && opts.host) return usage("--gpu and --host exclude each other");
  if (opts.gpu && !kBuildHasGpu)
    return usage("--gpu: this build has no GPU execution space (numlab --list names its backends); build against a "
                 "CUDA Kokkos (docs/building.md), or run the host lab");
  bool const gpu = opts.gpu || (!opts.host && kBuildHasGpu);

  // The checkout the lab's configs and scripts come from.
  char const* env_root = std::getenv("NUMLAB_ROOT");
  fs::path const root = env_root && *env_root ? fs::path(env_root) : fs::path(NUMLAB_SOURCE_DIR);
  fs::path const config_dir = !opts.configs.empty() ? fs::path(opts.configs)
                              : opts.quick         ? root / "configs" / "lab" / "quick"
                                                   : root / "configs";
  std::vector<std::string> missing;
  for (fs::path p : {root / "scripts" / "report.py", root / "scripts" / "peers"})
    if (!fs::exists(p)) missing.push_back(p.string());
  if (!missing.empty())
    return usage(fmt::format("the lab's scripts are not where this binary expects them: {} missing ({}). Run the "
                             "numlab of a checkout, or set NUMLAB_ROOT to one",
                             fmt::join(missing, ", "),
                             env_root && *env_root ? "NUMLAB_ROOT=" + std::string(env_root)
                                                   : "built from " + std::string(NUMLAB_SOURCE_DIR)));
  auto const experiments = lab_experiments(gpu);
  auto const peers = lab_peers(gpu);
  for (auto const& e : experiments)
    if (!fs::exists(config_dir / (e.name + ".yaml"))) missing.push_back((config_dir / (e.name + ".yaml")).string());
  if (!missing.empty())
    return usage(fmt::format("the lab's configs are missing: {}{}", fmt::join(missing, ", "),
                             opts.configs.empty() ? " (set NUMLAB_ROOT to a numlab checkout)" : ""));

  if (opts.output_given && opts.output.empty()) return usage("-o: an empty output folder");
  fs::path const out = opts.output_given ? fs::path(opts.output) : fs::path(opts.quick ? "results/lab-quick" : "results/lab");
  std::error_code ec;
  bool const exists = fs::exists(out, ec);
  if (exists && !fs::is_directory(out)) return usage(fmt::format("-o '{}' exists and is not a folder", out.string()));
  bool const in_use = exists && !fs::is_empty(out, ec);
  if (in_use && !opts.resume && !opts.overwrite && !opts.dry_run)
    return usage(fmt::format("'{}' already exists (an earlier lab run); pass --resume to continue it, --overwrite to "
                             "run it again, or -o to write elsewhere",
                             out.string()));
  std::string const exe = self_path("numlab");
  std::string const mode = opts.overwrite ? "--overwrite" : "--resume";  // --resume of a new file starts it

  auto config_of = [&](std::string const& name) { return (config_dir / (name + ".yaml")).string(); };
  auto output_of = [&](std::string const& name) { return (out / (name + ".h5")).string(); };
  auto log_of = [&](std::string const& name) { return (out / "logs" / (name + ".log")).string(); };

  if (opts.dry_run) {
    fmt::print("numlab lab{}: {} experiments, {} peers, {} -> {}\n", opts.quick ? " --quick" : "", experiments.size(),
               peers.size(), gpu ? "host and GPU" : "host", out.string());
    for (auto const& e : experiments)
      fmt::print("  {:<24} {} -> {}{}\n", e.name, config_of(e.name), output_of(e.name),
                 e.needs_cuda_native && !attention::native::built() ? " (skipped: no native CUDA kernels)" : "");
    for (auto const& p : peers) {
      PythonChoice const py = find_python(p.modules, p.gpu);
      fmt::print("  {:<24} scripts/peers/{} {} -> {} ({})\n", p.experiment + "_" + p.name, p.script,
                 config_of(p.experiment), output_of(p.experiment + "_" + p.name),
                 py.python.empty() ? "skipped: " + py.why_not : py.python);
    }
    fmt::print("  report                   scripts/report.py -> {}\n", (out / "report" / "report.html").string());
    return kExitOk;
  }

  std::optional<OutputLock> lock;
  try {
    fs::create_directories(out / "logs");
    lock.emplace((out / "lab").string(), 0.0);
  } catch (std::exception const& e) {
    return usage(fmt::format("cannot use '{}': {}", out.string(), e.what()));
  }

  auto const t_start = std::chrono::steady_clock::now();
  std::vector<StepOutcome> steps;
  std::size_t const total = experiments.size() + peers.size() + 1;
  std::size_t index = 0;
  auto announce = [&](std::string const& name, std::string const& what, std::string const& log) {
    ++index;
    fmt::print(stderr, "\n=== numlab lab [{}/{}] {}: {} (log {})\n", index, total, name, what, log);
  };
  // A step's result from the child's exit code.
  auto outcome = [&](std::string const& step, ChildResult const& r, std::string const& file, std::string const& log) {
    StepOutcome s{step, "ok", r.seconds, file, r.exit_code};
    if (r.exit_code == kExitPointsFailed)
      s.result = fmt::format("points failed (exit 3, reasons in the file; log {})", log);
    else if (r.exit_code != 0)
      s.result = fmt::format("failed (exit {}{}; log {})", r.exit_code, r.error.empty() ? "" : ": " + r.error, log);
    if (r.exit_code != 0)
      fmt::print(stderr, "numlab lab: {}: {}\n", step, s.result);
    steps.push_back(s);
  };
  auto interrupted = [&] {
    if (!lab_interrupted()) return false;
    fmt::print(stderr, "\nnumlab lab: interrupted; every finished point is kept in '{}'. Rerun with --resume to "
                       "continue\n",
               out.string());
    print_outcomes(steps);
    return true;
  };

  std::map<std::string, bool> ran;  // experiment -> its config was run (peers need it)
  for (auto const& e : experiments) {
    std::string const log = log_of(e.name);
    announce(e.name, e.what, log);
    if (e.needs_cuda_native && !attention::native::built()) {
      steps.push_back({e.name, "skipped: this build has no native CUDA kernels (backend cuda_native)", 0, ""});
      fmt::print(stderr, "numlab lab: {}: {}\n", e.name, steps.back().result);
      continue;
    }
    std::vector<std::string> argv = {exe, config_of(e.name), "-o", output_of(e.name), mode};
    ChildResult const r = run_logged(argv, {}, log, !opts.quiet);
    if (interrupted()) return kExitInterrupted;
    ran[e.name] = r.exit_code == 0 || r.exit_code == kExitPointsFailed;
    outcome(e.name, r, output_of(e.name), log);
  }

  for (auto const& p : peers) {
    std::string const name = p.experiment + "_" + p.name;
    std::string const log = log_of(name), file = output_of(name);
    announce(name, p.what, log);
    auto skip = [&](std::string const& why) {
      steps.push_back({name, "skipped: " + why, 0, fs::exists(file) ? file : ""});
      fmt::print(stderr, "numlab lab: {}: skipped: {}\n", name, why);
    };
    fs::path const script = root / "scripts" / "peers" / p.script;
    if (!ran.count(p.experiment) || !ran[p.experiment]) {
      skip(fmt::format("its experiment {} did not run", p.experiment));
      continue;
    }
    if (!fs::exists(script)) {
      skip(fmt::format("{} does not exist", script.string()));
      continue;
    }
    PythonChoice const py = find_python(p.modules, p.gpu);
    if (py.python.empty()) {
      skip(py.why_not);
      continue;
    }
    if (!opts.overwrite && fs::exists(file)) {
      if (auto progress = file_progress(file); progress && progress->first >= progress->second) {
        steps.push_back({name, fmt::format("complete ({} points), kept", progress->first), 0, file});
        fmt::print(stderr, "numlab lab: {}: {}\n", name, steps.back().result);
        continue;
      }
    }
    std::vector<std::string> argv = {py.python, script.string(), config_of(p.experiment), "-o", file, "--numlab", exe,
                                     mode};
    argv.insert(argv.end(), p.args.begin(), p.args.end());
    ChildResult const r = run_logged(argv, {{"NUMLAB_BIN", exe}}, log, !opts.quiet);
    if (interrupted()) return kExitInterrupted;
    outcome(name, r, file, log);
  }

  // The report of every file there is.
  std::vector<std::string> files;
  for (auto const& e : experiments)
    if (fs::exists(output_of(e.name))) files.push_back(output_of(e.name));
  for (auto const& p : peers)
    if (fs::exists(output_of(p.experiment + "_" + p.name))) files.push_back(output_of(p.experiment + "_" + p.name));
  std::string const report_dir = (out / "report").string(), report_log = log_of("report");
  announce("report", "tables, figures and the lab checklist (scripts/report.py)", report_log);
  PythonChoice const py = find_python({"numpy", "h5py", "matplotlib", "pandas"}, false);
  bool report_ok = false;
  if (files.empty()) {
    steps.push_back({"report", "skipped: no result file was written", 0, ""});
  } else if (py.python.empty()) {
    steps.push_back({"report", "failed: " + py.why_not, 0, "", 1});
  } else {
    std::vector<std::string> argv = {py.python, (root / "scripts" / "report.py").string()};
    argv.insert(argv.end(), files.begin(), files.end());
    argv.insert(argv.end(), {"-o", report_dir});
    ChildResult const r = run_logged(argv, {{"NUMLAB_BIN", exe}, {"MPLBACKEND", "Agg"}}, report_log, !opts.quiet);
    if (interrupted()) return kExitInterrupted;
    std::string const html = (fs::path(report_dir) / "report.html").string();
    outcome("report", r, r.exit_code == 0 ? html : "", report_log);
    report_ok = r.exit_code == 0 && fs::exists(html);
  }

  double const secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  fmt::print("\nnumlab lab{}: {} in {}", opts.quick ? " --quick" : "", out.string(), hms(secs));
  print_outcomes(steps);
  int code = kExitOk;
  for (auto const& s : steps)
    if (s.exit_code == kExitPointsFailed && code == kExitOk) code = kExitPointsFailed;
    else if (s.exit_code != 0 && s.exit_code != kExitPointsFailed) code = kExitError;
  if (report_ok)
    fmt::print("\nReport: {}\n", fs::absolute(fs::path(report_dir) / "report.html").lexically_normal().string());
  return code;
}

}  // namespace numlab
