// SPDX-License-Identifier: MIT
#include "core/provenance.hpp"

#include "core/blas_info.hpp"

#include "core/fingerprint.hpp"
#include "core/host_threads.hpp"

#include "core/config.hpp"
#include "numlab_config.hpp"

#include <Kokkos_Core.hpp>
#if defined(KOKKOS_ENABLE_CUDA)
#include <cuda_runtime.h>
#endif
#include <fmt/format.h>
#include <hdf5.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace numlab {

namespace {
std::string run_command(std::string const& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 256> buf{};
  while (std::fgets(buf.data(), int(buf.size()), p)) out += buf.data();
  ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto pos = line.find(':');
      if (pos != std::string::npos) return line.substr(pos + 2);
    }
  return "unknown";
}

// What the default execution space runs on: the GPU's name on a CUDA build, else the CPU.
std::string device_name() {
#if defined(KOKKOS_ENABLE_CUDA)
  cudaDeviceProp prop{};
  int dev = 0;
  if (cudaGetDevice(&dev) == cudaSuccess && cudaGetDeviceProperties(&prop, dev) == cudaSuccess)
    return fmt::format("{} (sm_{}{}, {} SMs, {:.1f} GiB)", prop.name, prop.major, prop.minor,
                       prop.multiProcessorCount, double(prop.totalGlobalMem) / (1 << 30));
#endif
  return cpu_model();
}

std::string git_commit() {
  // The tree the binary was built from; the configure-time value if git is unavailable.
  auto is_hash = [](std::string const& c) {
    return c.size() == 40 && c.find_first_not_of("0123456789abcdef") == std::string::npos;
  };
  std::string c = run_command(fmt::format("git -C '{}' rev-parse HEAD 2>/dev/null", NUMLAB_SOURCE_DIR));
  if (is_hash(c)) return c;
  std::string configured = NUMLAB_GIT_COMMIT_CONFIGURED;
  return is_hash(configured) ? configured : "unknown";
}

ParamMap collect_provenance(RunConfig const& cfg, std::string const& command_line) {
  ParamMap p;
  p["numlab_version"] = std::string(NUMLAB_VERSION);
  p["git_commit"] = git_commit();
  std::string dirty =
      run_command(fmt::format("git -C '{}' status --porcelain --untracked-files=no 2>/dev/null", NUMLAB_SOURCE_DIR));
  p["git_dirty"] = !dirty.empty();
  p["host"] = host_name();
  p["cpu"] = cpu_model();
  p["created_utc"] = utc_now();
  p["command_line"] = command_line;
  p["config_path"] = cfg.path;
  p["config_text"] = cfg.text;
  p["config_normalized"] = normalized_config(cfg);
  p["config_fingerprint"] = config_fingerprint(std::get<std::string>(p["config_normalized"]));
  p["name"] = cfg.name;
  p["kind"] = cfg.kind;
  p["description"] = cfg.description;
  p["backend_requested"] = cfg.settings.backend;
  p["warmup"] = std::int64_t(cfg.settings.warmup);
  p["repetitions"] = std::int64_t(cfg.settings.repetitions);
  p["total_points"] = std::int64_t(cfg.points.size());
  p["build_type"] = std::string(NUMLAB_BUILD_TYPE);
  p["compiler"] = std::string(NUMLAB_CXX_COMPILER);
  p["kokkos_version"] =
      fmt::format("{}.{}.{}", KOKKOS_VERSION / 10000, KOKKOS_VERSION / 100 % 100, KOKKOS_VERSION % 100);
  p["kokkos_layout"] = std::string(NUMLAB_KOKKOS_LAYOUT);
  p["kokkos_default_execution_space"] = std::string(Kokkos::DefaultExecutionSpace::name());
  p["kokkos_default_host_execution_space"] = std::string(Kokkos::DefaultHostExecutionSpace::name());
  p["kokkos_concurrency"] = std::int64_t(Kokkos::DefaultExecutionSpace().concurrency());
  p["kokkos_origin"] = std::string(NUMLAB_KOKKOS_ORIGIN);
  HostThreads const threads = host_threads();
  p["kokkos_backends_enabled"] = threads.backends;
  p["host_threads"] = std::int64_t(threads.threads);
  p["host_cpus_available"] = std::int64_t(threads.cpus_available);
  p["omp_proc_bind"] = threads.proc_bind;
  p["omp_places"] = threads.places;
  p["gomp_spincount"] = threads.spin_count;
  p["host_threads_description"] = describe(threads);
  BlasInfo const blas = blas_info();
  p["blas_library"] = blas.library;
  p["blas_threading"] = blas.threading;
  p["blas_threads"] = std::int64_t(blas.threads);
  std::ostringstream kc;
  Kokkos::print_configuration(kc, true);
  p["kokkos_configuration"] = kc.str();
  p["device"] = device_name();
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  p["hdf5_version"] = fmt::format("{}.{}.{}", maj, min, rel);
  p["fmt_version"] = fmt::format("{}.{}.{}", FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100);
  return p;
}

}  // namespace numlab
