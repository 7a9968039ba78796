// SPDX-License-Identifier: MIT
#include "core/host_threads.hpp"

#include <Kokkos_Core.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <sched.h>
#include <unistd.h>
#if defined(KOKKOS_ENABLE_OPENMP)
#include <omp.h>
#endif

namespace numlab {

namespace {
constexpr char const* kAppliedMarker = "NUMLAB_OMP_DEFAULTS_APPLIED";

bool env_set(char const* name) {
  char const* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

// Set once at start: numlab's defaults are in force in this image (the marker itself is removed
// from the environment, so programs numlab starts do not inherit it).
bool g_defaults_applied = false;

// The thread count asked for on the command line or by OMP_NUM_THREADS (0: none).
int requested_threads(char** argv) {
  int n = 0;
  for (char** a = argv + 1; *a; ++a)
    for (char const* flag : {"--kokkos-num-threads=", "--kokkos-threads="})
      if (std::strncmp(*a, flag, std::strlen(flag)) == 0) n = std::atoi(*a + std::strlen(flag));
  if (n == 0 && env_set("OMP_NUM_THREADS")) n = std::atoi(std::getenv("OMP_NUM_THREADS"));
  return n;
}
}  // namespace

void apply_openmp_affinity_defaults(char** argv) {
#if defined(KOKKOS_ENABLE_OPENMP)
  if (env_set(kAppliedMarker)) {
    g_defaults_applied = true;
    ::unsetenv(kAppliedMarker);
    return;
  }
  // Any affinity setting of the user's (GNU's and Intel's own variables too) is left alone, as
  // are tools that run the program under their own loader (valgrind: /proc/self/exe is the tool).
  for (char const* v : {"OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY", "KMP_AFFINITY"})
    if (env_set(v)) return;
  if (char const* v = std::getenv("NUMLAB_OMP_DEFAULTS"); v && std::strcmp(v, "0") == 0) return;
  if (char const* pre = std::getenv("LD_PRELOAD"); pre && std::strstr(pre, "vgpreload")) return;
  // Binding pays when the threads fill the process's CPUs; fewer threads bound by spread would
  // take the same CPUs in every process (two shards on one node on the same cores).
  cpu_set_t set;
  CPU_ZERO(&set);
  int const cpus = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
  int const want = requested_threads(argv);
  if (cpus <= 1 || (want > 0 && want != cpus)) {
    // Unbound, as the runtime (which read the environment before main) already is: saying so
    // spares the user Kokkos' warning about the unset variable.
    ::setenv("OMP_PROC_BIND", "false", 1);
    return;
  }
  char self[4096];
  ssize_t const len = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) return;  // no /proc: run unbound
  self[len] = '\0';
  ::setenv("OMP_PROC_BIND", "spread", 1);
  ::setenv("OMP_PLACES", "threads", 1);
  // libgomp's threads spin 300000 rounds after each parallel region by default, on the cores the
  // BLAS threads (OpenBLAS' own pool) need next: the dense GE, Kokkos panels between BLAS calls,
  // took 4x the time of one thread (N = 2000: 387 vs 78 ms; 10000 rounds: 96-100 ms) while
  // the level-scheduled and multicolour sweeps keep their speed (a passive wait costs level_launch 4x).
  bool const set_spin = !env_set("OMP_WAIT_POLICY") && !env_set("GOMP_SPINCOUNT");
  if (set_spin) ::setenv("GOMP_SPINCOUNT", "10000", 1);
  ::setenv(kAppliedMarker, "1", 1);
  ::execv(self, argv);  // the binary's own path: the process keeps its name
  ::unsetenv("OMP_PROC_BIND");
  ::unsetenv("OMP_PLACES");
  ::unsetenv(kAppliedMarker);
  if (set_spin) ::unsetenv("GOMP_SPINCOUNT");
#else
  (void)argv;
#endif
}

HostThreads host_threads() {
  HostThreads t;
  std::string b;
  auto add = [&](char const* name) { b += (b.empty() ? "" : ", ") + std::string(name); };
#if defined(KOKKOS_ENABLE_OPENMP)
  add("openmp");
#endif
#if defined(KOKKOS_ENABLE_THREADS)
  add("threads");
#endif
#if defined(KOKKOS_ENABLE_SERIAL)
  add("serial");
#endif
#if defined(KOKKOS_ENABLE_CUDA)
  add("cuda");
#endif
  t.backends = b;
  t.host_space = Kokkos::DefaultHostExecutionSpace::name();
  t.threads = Kokkos::DefaultHostExecutionSpace().concurrency();
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) t.cpus_available = CPU_COUNT(&set);
#if defined(KOKKOS_ENABLE_OPENMP)
  switch (omp_get_proc_bind()) {
    case omp_proc_bind_false: t.proc_bind = "false"; break;
    case omp_proc_bind_true: t.proc_bind = "true"; break;
    case omp_proc_bind_master: t.proc_bind = "master"; break;
    case omp_proc_bind_close: t.proc_bind = "close"; break;
    case omp_proc_bind_spread: t.proc_bind = "spread"; break;
    default: t.proc_bind = "other"; break;
  }
  if (char const* p = std::getenv("OMP_PLACES")) t.places = p;
  if (char const* p = std::getenv("GOMP_SPINCOUNT")) t.spin_count = p;
  // Bound threads (the initial one included) see only their own place in their mask: the place
  // list, made from the process's mask at start, holds what the process may use.
  if (omp_get_num_places() > 0) {
    int n = 0;
    for (int p = 0; p < omp_get_num_places(); ++p) n += omp_get_place_num_procs(p);
    t.cpus_available = n;
  }
  t.defaults_applied = g_defaults_applied;
#endif
  return t;
}

std::string describe(HostThreads const& t) {
  std::string s = fmt::format("{}, {} thread{}", t.host_space, t.threads, t.threads == 1 ? "" : "s");
  if (t.cpus_available > 0) s += fmt::format(" of {} CPU{}", t.cpus_available, t.cpus_available == 1 ? "" : "s");
  if (!t.proc_bind.empty())
    s += fmt::format(" (OMP_PROC_BIND={}, OMP_PLACES={}{}{})", t.proc_bind, t.places.empty() ? "unset" : t.places,
                     t.spin_count.empty() ? "" : ", GOMP_SPINCOUNT=" + t.spin_count,
                     t.defaults_applied ? ": numlab's defaults" : "");
  return s;
}

}  // namespace numlab
