// SPDX-License-Identifier: MIT
// The host's threads: OpenMP affinity defaults that work, and what ran (for --list, the
// run's header and every file's provenance).
#pragma once

#include <string>

namespace numlab {

// On a build with the OpenMP backend, where the user set no affinity (OMP_PROC_BIND, OMP_PLACES,
// GOMP_CPU_AFFINITY, KMP_AFFINITY) and the threads fill the process's CPUs (no thread count, or
// one equal to the CPUs of its mask), sets OMP_PROC_BIND=spread and OMP_PLACES=threads (what
// Kokkos recommends, and Kokkos warns without them), and GOMP_SPINCOUNT=10000 where no wait
// policy is set (host_threads.cpp says why), and re-executes the binary: the OpenMP
// runtime reads them when it is loaded, before main, so only a fresh image sees them.
// NUMLAB_OMP_DEFAULTS=0 and valgrind leave the environment alone. Call first thing in main; does
// not return when the re-exec succeeds.
void apply_openmp_affinity_defaults(char** argv);

struct HostThreads {
  std::string backends;        // the Kokkos backends of this build, e.g. "openmp, serial"
  std::string host_space;      // Kokkos::DefaultHostExecutionSpace::name()
  int threads = 1;             // its concurrency (after Kokkos::initialize)
  int cpus_available = 0;      // CPUs in this process's affinity mask (Slurm's cpuset)
  std::string proc_bind;       // the runtime's binding (omp_get_proc_bind), "" without OpenMP
  std::string places;          // OMP_PLACES as set ("" = unset)
  std::string spin_count;      // GOMP_SPINCOUNT as set ("" = unset)
  bool defaults_applied = false;  // numlab set OMP_PROC_BIND/OMP_PLACES (apply_openmp_affinity_defaults)
};

// Needs Kokkos initialised (threads).
HostThreads host_threads();

// "OpenMP, 2 threads of 2 CPUs (OMP_PROC_BIND=spread, OMP_PLACES=threads)" or "Serial, 1 thread".
std::string describe(HostThreads const& t);

}  // namespace numlab
