// SPDX-License-Identifier: MIT
// Helpers of the end-to-end tests: run the real `numlab` binary, read results back.
#pragma once
#include "core/results_file.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace numlab;

namespace numlab_test {

// One scratch folder per test process, removed when the process ends.
struct ScratchDir {
  fs::path path = fs::temp_directory_path() / ("numlab_driver_" + std::to_string(::getpid()));
  ScratchDir() { fs::create_directories(path); }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

inline fs::path work_dir() {
  static ScratchDir dir;
  return dir.path;
}

inline std::string slurp(fs::path const& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Starts numlab with `args` in the source tree, stdout+stderr to `log`, with environment variables
// set ("NAME=value") or removed ("NAME") in the child.
inline pid_t spawn_with_env(std::vector<std::string> args, fs::path const& log, std::vector<std::string> const& env) {
  pid_t pid = ::fork();
  if (pid == 0) {
    for (auto const& e : env) {
      auto eq = e.find('=');
      if (eq == std::string::npos)
        ::unsetenv(e.c_str());
      else
        ::setenv(e.substr(0, eq).c_str(), e.substr(eq + 1).c_str(), 1);
    }
    if (::chdir(NUMLAB_SOURCE_DIR) != 0) ::_exit(127);
    FILE* f = std::fopen(log.c_str(), "w");
    ::dup2(::fileno(f), 1);
    ::dup2(::fileno(f), 2);
    std::vector<char*> argv;
    std::string bin = NUMLAB_BINARY;
    argv.push_back(bin.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

inline pid_t spawn(std::vector<std::string> args, fs::path const& log) { return spawn_with_env(std::move(args), log, {}); }

inline int wait_exit(pid_t pid) {
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return 128 + WTERMSIG(st);
}

inline int run(std::vector<std::string> args, fs::path const& log) { return wait_exit(spawn(std::move(args), log)); }

inline std::size_t count_points(fs::path const& h5) {
  try {
    return results::read_points(h5.string()).size();
  } catch (...) {
    return 0;
  }
}

// 12 points of a few tenths of a second each: long enough to interrupt.
inline fs::path write_slow_config(fs::path const& dir) {
  fs::path cfg = dir / "slow.yaml";
  std::ofstream(cfg) << "name: slow\nkind: linsolve\nwarmup: 0\nrepetitions: 3\n"
                        "sweep: {product: {seed: [1, 2, 3, 4, 5, 6]}}\n"
                        "matrix: {generator: random_sparse, N: 1200, density: 0.01}\n"
                        "methods: [gauss_elim, reference]\n";
  return cfg;
}

inline void expect_each_point_once(fs::path const& h5, std::size_t n) {
  auto pts = results::read_points(h5.string());
  std::set<std::int64_t> idx;
  for (auto const& p : pts) idx.insert(std::get<std::int64_t>(p.attributes.at("point_index")));
  EXPECT_EQ(pts.size(), n);
  EXPECT_EQ(idx.size(), n);
}

}  // namespace numlab_test

using namespace numlab_test;

