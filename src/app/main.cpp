// SPDX-License-Identifier: MIT
// numlab CONFIG.yaml [options]: the command-line front end of the driver;
// numlab merge OUT.h5 IN1.h5 ...: joins the shard files of a sweep (app/merge.hpp);
// numlab lab [--quick]: the whole lab and its report (app/lab.hpp).
#include "app/driver.hpp"
#include "app/lab.hpp"
#include "app/merge.hpp"
#include "core/host_threads.hpp"
#include "numlab_config.hpp"

#include <CLI/CLI.hpp>
#include <Kokkos_Core.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <regex>
#include <string>
#include <vector>
#include <unistd.h>

int main(int argc, char** argv) {
  using namespace numlab;
  apply_openmp_affinity_defaults(argv);  // may re-exec with OMP_PROC_BIND/OMP_PLACES set
  // Kokkos before 3.7 knows --kokkos-threads only and ignores --kokkos-num-threads silently:
  // the documented spelling works on every Kokkos.
  std::string cmd;  // as typed, for the provenance
  for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + std::string(argv[i]);
  static std::vector<std::string> arg_storage(argv, argv + argc);
  static std::vector<char*> arg_ptrs;
#if KOKKOS_VERSION < 30700
  for (auto& a : arg_storage)
    if (a.rfind("--kokkos-num-threads", 0) == 0) a = "--kokkos-threads" + a.substr(20);
#endif
  for (auto& a : arg_storage) arg_ptrs.push_back(a.data());
  arg_ptrs.push_back(nullptr);
  argv = arg_ptrs.data();
  CLI::App app{"numlab: numerical-methods experiments (linear systems, attention) from YAML configs"};
  app.set_version_flag("--version", std::string("numlab ") + NUMLAB_VERSION);
  DriverOptions opts;
  bool list = false;
  std::string shard;
  // Named in capitals: CLI11 2.4 (Ubuntu 24.04) refuses the merge subcommand's --config
  // beside a positional of the parent that is also called "config".
  app.add_option("CONFIG", opts.config_path, "YAML config of the experiment")->check(CLI::ExistingFile);
  CLI::Option* output_opt = app.add_option("-o,--output", opts.output, "HDF5 output path (default: the config's `output`)");
  app.add_flag("--dry-run", opts.dry_run, "validate the config and print the expanded points");
  app.add_flag("--list", list, "list experiment kinds, methods, options and backends of this build");
  std::string format = "text";
  app.add_option("--format", format, "output of --list and --dry-run: text (default) or json (for tools)")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--shard", shard, "run shard i of n (0 <= i < n): the points with index % n == i")
      ->check([](std::string const& s) {
        std::smatch m;
        if (!std::regex_match(s, m, std::regex(R"((\d{1,9})/(\d{1,9}))")))
          return std::string("expected i/n with 0 <= i < n <= 999999999, e.g. 0/4");
        long i = std::stol(m[1]), n = std::stol(m[2]);
        if (n < 1 || i < 0 || i >= n) return std::string("expected 0 <= i < n");
        return std::string();
      });
  app.add_option("--wait-lock", opts.wait_lock_seconds,
                 "wait up to this many seconds for another numlab writing the same output (default 0: exit 2 at once)")
      ->check(CLI::Range(0.0, 1e6));
  app.add_flag("--resume", opts.resume, "continue an existing output file, skipping finished points");
  app.add_flag("--retry-failed", opts.retry_failed, "with --resume: run the points recorded as failed again");
  app.add_flag("--overwrite", opts.overwrite, "replace an existing output file");
  app.add_flag("-q,--quiet", opts.quiet, "no progress and no summary");
  app.allow_extras();  // --kokkos-* flags go to Kokkos
  MergeOptions merge_opts;
  CLI::App* merge_cmd = add_merge_command(app, merge_opts);
  LabOptions lab_opts;
  CLI::App* lab_cmd = add_lab_command(app, lab_opts);
  CLI::Option* lab_output = lab_cmd->get_option("--output");
  try {
    app.parse(argc, argv);
  } catch (CLI::ParseError const& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  if (merge_cmd->parsed()) return run_merge(merge_opts, cmd);
  if (lab_cmd->parsed()) {
    lab_opts.output_given = lab_output->count() > 0;
    return run_lab(lab_opts);
  }
  // Kokkos' own flags (3.x and 4.x); anything else, a misspelled one included, is a usage error.
  static char const* const kokkos_flags[] = {
      "num-threads", "threads",        "numa",         "device-id",       "device",          "num-devices",
      "ndevices",    "skip-device",    "map-device-id-by", "disable-warnings", "print-configuration",
      "tune-internals", "tools-library", "tools-libs", "tools-args",      "tools-help",      "help"};
  for (auto const& x : app.remaining()) {
    std::string const name = x.rfind("--kokkos-", 0) == 0 ? x.substr(9, x.find('=') == std::string::npos
                                                                             ? std::string::npos
                                                                             : x.find('=') - 9)
                                                          : std::string();
    bool const known = std::any_of(std::begin(kokkos_flags), std::end(kokkos_flags),
                                   [&](char const* f) { return name == f; });
    if (!known) {
      fmt::print(stderr, "numlab: unknown argument '{}' (see numlab --help; Kokkos flags are --kokkos-num-threads=N, "
                         "--kokkos-device-id=N, ...)\n",
                 x);
      return kExitUsage;
    }
  }
  if (list) {
    Kokkos::ScopeGuard kokkos(argc, argv);
    print_list(format == "json");
    return kExitOk;
  }
  if (opts.config_path.empty()) {
    fmt::print(stderr, "numlab: a config file is required (see numlab --help)\n");
    return kExitUsage;
  }
  if (!shard.empty()) {
    auto slash = shard.find('/');
    opts.shard_index = std::stoi(shard.substr(0, slash));
    opts.shard_count = std::stoi(shard.substr(slash + 1));
  }
  if (opts.resume && opts.overwrite) {
    fmt::print(stderr, "numlab: --resume and --overwrite exclude each other\n");
    return kExitUsage;
  }
  opts.progress_tty = ::isatty(STDERR_FILENO) != 0;
  opts.output_given = output_opt->count() > 0;
  opts.json = format == "json";
  if (opts.json && !opts.dry_run) {
    fmt::print(stderr, "numlab: --format json goes with --list or --dry-run\n");
    return kExitUsage;
  }
  return run_driver(opts, argc, argv, cmd);
}
