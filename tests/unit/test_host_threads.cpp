// SPDX-License-Identifier: MIT
// The host's threads (issue 16): what ran is in --list and in every file's provenance, numlab
// sets OMP_PROC_BIND/OMP_PLACES when the user has not (and leaves the user's alone),
// --kokkos-num-threads is honoured on every Kokkos (3.4 knows only --kokkos-threads), and the
// thread count changes the time of a point, not its answer.
#include "core/host_threads.hpp"
#include "core/kokkos_ext/backend.hpp"
#include "driver_helpers.hpp"

#include <Kokkos_Core.hpp>
#include <nlohmann/json.hpp>

#include <sched.h>

namespace {

nlohmann::json list_json_of(std::vector<std::string> args, std::vector<std::string> const& env, fs::path const& log) {
  args.insert(args.begin(), {"--list", "--format", "json"});
  int const rc = wait_exit(spawn_with_env(args, log, env));
  EXPECT_EQ(rc, 0) << slurp(log);
  std::string text = slurp(log);
  auto brace = text.find('{');  // Kokkos may print a line before the JSON
  return nlohmann::json::parse(text.substr(brace == std::string::npos ? 0 : brace));
}

int cpus_in_mask() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

bool openmp_build() {
#if defined(KOKKOS_ENABLE_OPENMP)
  return true;
#else
  return false;
#endif
}

}  // namespace

TEST(HostThreads, InProcessItMatchesKokkos) {
  HostThreads const t = host_threads();
  EXPECT_EQ(t.threads, Kokkos::DefaultHostExecutionSpace().concurrency());
  EXPECT_EQ(t.host_space, std::string(Kokkos::DefaultHostExecutionSpace::name()));
  EXPECT_GE(t.cpus_available, 1);
#if defined(KOKKOS_ENABLE_SERIAL)
  EXPECT_NE(t.backends.find("serial"), std::string::npos) << t.backends;
#endif
#if defined(KOKKOS_ENABLE_OPENMP)
  EXPECT_NE(t.backends.find("openmp"), std::string::npos) << t.backends;
  EXPECT_FALSE(t.proc_bind.empty());
#else
  EXPECT_TRUE(t.proc_bind.empty());
#if !defined(KOKKOS_ENABLE_THREADS)
  EXPECT_EQ(t.threads, 1);
#endif
#endif
  std::string const d = describe(t);
  EXPECT_NE(d.find(t.host_space), std::string::npos) << d;
  EXPECT_NE(d.find(std::to_string(t.threads) + " thread"), std::string::npos) << d;
}

TEST(HostThreads, ListSaysWhatRunsAndNumlabSetsTheAffinityDefaults) {
  auto dir = work_dir() / "list";
  fs::create_directories(dir);
  std::vector<std::string> const no_omp = {"OMP_PROC_BIND", "OMP_PLACES", "OMP_NUM_THREADS", "GOMP_CPU_AFFINITY",
                                           "KMP_AFFINITY", "NUMLAB_OMP_DEFAULTS"};
  // One thread asked for: that many, and on a machine of several CPUs no binding (spread would
  // put every such process on the same CPU).
  nlohmann::json j = list_json_of({"--kokkos-num-threads=1"}, no_omp, dir / "one.json");
  auto const& h = j.at("host_threads");
  EXPECT_EQ(h.at("threads").get<int>(), 1) << h.dump();
  // The BLAS: OpenBLAS' own answer agrees with its build string, and where the build linked
  // Debian's OpenMP-threaded OpenBLAS (cmake/NumlabKokkos.cmake) that is the one that runs.
  auto const& blas = j.at("blas");
  std::string const threading = blas.at("threading").get<std::string>();
  std::string const library = blas.at("library").get<std::string>();
  if (library.find("USE_OPENMP") != std::string::npos) {
    EXPECT_EQ(threading, "openmp") << blas.dump();
  }
  if (library.rfind("OpenBLAS", 0) == 0) {
    EXPECT_GE(blas.at("threads").get<int>(), 1) << blas.dump();
  }
  if (NUMLAB_LINKS_OPENMP_BLAS) {
    EXPECT_EQ(threading, "openmp") << blas.dump();
  }
  EXPECT_EQ(h.at("execution_space").get<std::string>(), Kokkos::DefaultHostExecutionSpace::name());
  EXPECT_EQ(h.at("cpus_available").get<int>(), cpus_in_mask()) << h.dump();
  if (openmp_build()) {
    bool const several = cpus_in_mask() > 1;
    EXPECT_EQ(h.at("omp_proc_bind").get<std::string>(), "false") << h.dump();
    EXPECT_FALSE(h.at("numlab_defaults").get<bool>());
    // No thread flag: one thread per CPU of the process, bound by numlab's defaults where there
    // are several.
    nlohmann::json all = list_json_of({}, no_omp, dir / "all.json");
    auto const& a = all.at("host_threads");
    EXPECT_EQ(a.at("threads").get<int>(), cpus_in_mask()) << a.dump();
    EXPECT_EQ(a.at("cpus_available").get<int>(), cpus_in_mask()) << a.dump();
    if (several) {
      EXPECT_EQ(a.at("omp_proc_bind").get<std::string>(), "spread") << a.dump();
      EXPECT_EQ(a.at("omp_places").get<std::string>(), "threads") << a.dump();
      EXPECT_TRUE(a.at("numlab_defaults").get<bool>());
    }
    // The user's own setting is kept, and NUMLAB_OMP_DEFAULTS=0 keeps numlab out of it.
    std::vector<std::string> user_env = no_omp;
    user_env.push_back("OMP_PROC_BIND=close");
    nlohmann::json user = list_json_of({}, user_env, dir / "user.json");
    EXPECT_EQ(user.at("host_threads").at("omp_proc_bind").get<std::string>(), "close");
    EXPECT_FALSE(user.at("host_threads").at("numlab_defaults").get<bool>());
    std::vector<std::string> off_env = no_omp;
    off_env.push_back("NUMLAB_OMP_DEFAULTS=0");
    nlohmann::json off = list_json_of({}, off_env, dir / "off.json");
    EXPECT_EQ(off.at("host_threads").at("omp_proc_bind").get<std::string>(), "false");
    EXPECT_FALSE(off.at("host_threads").at("numlab_defaults").get<bool>());
  } else {
    EXPECT_EQ(h.at("omp_proc_bind").get<std::string>(), "");
  }
}

TEST(HostThreads, ProvenanceRecordsThreadsAndTheAnswerDoesNotDependOnThem) {
  if (!openmp_build() || cpus_in_mask() < 2) GTEST_SKIP() << "needs the OpenMP backend and two CPUs";
  auto dir = work_dir() / "answers";
  fs::create_directories(dir);
  // The multicolour sweep and the flash forward give the same bits on 1 and 2 threads (rows of a
  // colour and query tiles are independent); the exact level-scheduled sweep too.
  fs::path gs = dir / "gs.yaml";
  std::ofstream(gs) << "name: threads_gs\nkind: linsolve\nwarmup: 0\nrepetitions: 1\n"
                       "matrix: {generator: poisson2d, N: 40000}\n"
                       "methods:\n  - {name: gauss_seidel, variant: multicolor, max_iter: 30, spectral_radius: false}\n"
                       "  - {name: gauss_seidel, variant: sequential, kernel: level_team, max_iter: 30, "
                       "spectral_radius: false}\n";
  fs::path at = dir / "at.yaml";
  std::ofstream(at) << "name: threads_attn\nkind: attention\nwarmup: 0\nrepetitions: 1\n"
                       "shape: {B: 1, H: 2, N: 256, D: 32}\ndtype: float32\n"
                       "methods:\n  - {name: flash, tile_q: 32, tile_k: 32}\n  - {name: tiled, tile_q: 32, tile_k: 32}\n";
  for (fs::path const& cfg : {gs, at}) {
    SCOPED_TRACE(cfg.string());
    std::vector<std::vector<StoredPoint>> runs;
    for (int threads : {1, 2}) {
      fs::path out = dir / (cfg.stem().string() + std::to_string(threads) + ".h5");
      ASSERT_EQ(wait_exit(spawn_with_env({cfg.string(), "-o", out.string(), "-q",
                                          "--kokkos-num-threads=" + std::to_string(threads)},
                                         dir / "run.log", {"OMP_PROC_BIND", "OMP_PLACES", "OMP_NUM_THREADS"})),
                0)
          << slurp(dir / "run.log");
      ParamMap const root = results::read_root(out.string());
      EXPECT_EQ(std::get<std::int64_t>(root.at("host_threads")), threads);
      EXPECT_EQ(std::get<std::int64_t>(root.at("kokkos_concurrency")), threads);
      EXPECT_EQ(std::get<std::string>(root.at("omp_proc_bind")), threads == cpus_in_mask() ? "spread" : "false");
      EXPECT_NE(std::get<std::string>(root.at("kokkos_backends_enabled")).find("openmp"), std::string::npos);
      runs.push_back(results::read_points(out.string()));
    }
    ASSERT_EQ(runs[0].size(), runs[1].size());
    for (std::size_t i = 0; i < runs[0].size(); ++i) {
      auto const& a = runs[0][i].attributes;
      auto const& b = runs[1][i].attributes;
      int compared = 0;
      for (char const* key : {"rel_error", "rel_residual", "O_rel_fro_error", "O_max_abs_error", "L_max_abs_error"}) {
        if (!a.count(key)) continue;
        ++compared;
        EXPECT_EQ(std::get<double>(a.at(key)), std::get<double>(b.at(key)))
            << key << " of " << to_string(a.at("method")) << " differs between 1 and 2 threads";
      }
      EXPECT_GE(compared, 2) << "point " << i << " records none of the compared errors";
      EXPECT_EQ(to_string(a.at("status")), to_string(b.at("status")));
    }
  }
}
