// SPDX-License-Identifier: MIT
// End to end through the real `numlab` binary: a smoke run read back from
// HDF5, config errors that touch nothing, interrupted and resumed sweeps,
// shards that partition the sweep.
#include "driver_helpers.hpp"

TEST(Driver, SmokeRunIsReadBackFromHdf5) {
  auto dir = work_dir();
  fs::path out = dir / "smoke.h5";
  fs::remove(out);
  int rc = run({"configs/smoke.yaml", "-o", out.string(), "--overwrite"}, dir / "smoke.log");
  ASSERT_EQ(rc, 0) << slurp(dir / "smoke.log");
  auto root = results::read_root(out.string());
  EXPECT_EQ(std::get<std::string>(root.at("config_text")), slurp(fs::path(NUMLAB_SOURCE_DIR) / "configs/smoke.yaml"));
  EXPECT_EQ(std::get<std::string>(root.at("kind")), "linsolve");
  EXPECT_FALSE(std::get<std::string>(root.at("kokkos_version")).empty());
  EXPECT_FALSE(std::get<std::string>(root.at("host")).empty());
  // The commit of the source tree: a full hash, or "unknown" where the tree has no history.
  std::string commit = std::get<std::string>(root.at("git_commit"));
  if (commit != "unknown") {
    EXPECT_EQ(commit.size(), 40u) << commit;
    EXPECT_EQ(commit.find_first_not_of("0123456789abcdef"), std::string::npos) << commit;
  }
  if (fs::exists(fs::path(NUMLAB_SOURCE_DIR) / ".git" / "HEAD") && std::system("git --version > /dev/null 2>&1") == 0) {
    EXPECT_NE(commit, "unknown");
  }

  auto pts = results::read_points(out.string(), true);
  ASSERT_EQ(pts.size(), 2u * 5u);
  for (auto const& p : pts) {
    auto const& a = p.attributes;
    std::string method = std::get<std::string>(a.at("method"));
    std::string status = std::get<std::string>(a.at("status"));
    SCOPED_TRACE(p.group + " " + method);
    EXPECT_EQ(status, method == "gauss_seidel" ? "converged" : "solved");
    // Strictly dominant, well conditioned: direct solves to ~eps, GS to ~tol.
    EXPECT_LT(std::get<double>(a.at("rel_error")), method == "gauss_seidel" ? 1e-8 : 1e-12);
    EXPECT_LE(std::get<double>(a.at("rel_residual")), method == "gauss_seidel" ? 1.000001e-10 : 1e-13);
    EXPECT_GT(std::get<double>(a.at("solve_seconds_median")), 0.0);
    EXPECT_EQ(p.arrays.at("times_seconds").size(), 2u);
    EXPECT_EQ(p.arrays.at("x").size(), std::size_t(std::get<std::int64_t>(a.at("N"))));
    if (method == "gauss_seidel") {
      auto const& h = p.arrays.at("residual_history");
      EXPECT_EQ(h.size(), std::size_t(std::get<std::int64_t>(a.at("iterations")) + 1));
      EXPECT_LE(h.back(), 1e-10);
      double rho = std::get<double>(a.at("spectral_radius_estimate"));
      EXPECT_GT(rho, 0.0);
      EXPECT_LT(rho, 1.0);
    }
  }
}

TEST(Driver, ConfigErrorTouchesNothing) {
  auto dir = work_dir();
  fs::path cfg = dir / "bad.yaml";
  fs::path out = dir / "bad.h5";
  std::ofstream(cfg) << "name: bad\nkind: linsolve\nmatrix: {N: 10, densty: 0.1}\nmethods: [gauss_elim]\n";
  std::ofstream(out) << "previous results";
  int rc = run({cfg.string(), "-o", out.string(), "--overwrite"}, dir / "bad.log");
  EXPECT_EQ(rc, 2);
  std::string log = slurp(dir / "bad.log");
  EXPECT_NE(log.find("bad.yaml:3:"), std::string::npos) << log;
  EXPECT_NE(log.find("densty"), std::string::npos) << log;
  EXPECT_NE(log.find("did you mean 'density'"), std::string::npos) << log;
  EXPECT_EQ(slurp(out), "previous results");
}

TEST(Driver, ExistingOutputNeedsResumeOrOverwrite) {
  auto dir = work_dir();
  fs::path out = dir / "exists.h5";
  std::ofstream(out) << "keep me";
  int rc = run({"configs/smoke.yaml", "-o", out.string()}, dir / "exists.log");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(slurp(dir / "exists.log").find("--resume"), std::string::npos);
  EXPECT_EQ(slurp(out), "keep me");
}

TEST(Driver, DryRunListsPointsAndWritesNothing) {
  auto dir = work_dir();
  fs::path out = dir / "dry.h5";
  fs::remove(out);
  int rc = run({"configs/linsolve_sweep.yaml", "-o", out.string(), "--dry-run"}, dir / "dry.log");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(slurp(dir / "dry.log").find("45 points"), std::string::npos) << slurp(dir / "dry.log");
  EXPECT_FALSE(fs::exists(out));
}

TEST(Driver, InterruptedSweepResumesWithoutDuplicates) {
  for (int sig : {SIGINT, SIGKILL}) {
    SCOPED_TRACE(sig == SIGINT ? "SIGINT" : "SIGKILL");
    auto dir = work_dir();
    fs::path cfg = write_slow_config(dir);
    fs::path out = dir / "slow.h5";
    fs::remove(out);
    pid_t pid = spawn({cfg.string(), "-o", out.string()}, dir / "slow1.log");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (count_points(out) < 2 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ::kill(pid, sig);
    int rc = wait_exit(pid);
    EXPECT_EQ(rc, sig == SIGINT ? 130 : 128 + SIGKILL) << slurp(dir / "slow1.log");
    std::size_t kept = count_points(out);  // the file is readable: a complete results file
    EXPECT_GE(kept, 2u);
    EXPECT_LT(kept, 12u);
    // SIGINT packs what the run committed into the file; after SIGKILL it stays in its parts,
    // read with the file and packed by the resume.
    EXPECT_EQ(results::committed_parts(out.string()).size(), sig == SIGINT ? 0u : kept);
    rc = run({cfg.string(), "-o", out.string(), "--resume"}, dir / "slow2.log");
    ASSERT_EQ(rc, 0) << slurp(dir / "slow2.log");
    expect_each_point_once(out, 12);
    EXPECT_FALSE(fs::exists(out.string() + ".tmp"));
    EXPECT_FALSE(fs::exists(results::parts_dir(out.string())));
  }
}

TEST(Driver, ShardsPartitionTheSweep) {
  auto dir = work_dir();
  fs::path cfg = dir / "shards.yaml";
  std::ofstream(cfg) << "name: shards\nkind: linsolve\nwarmup: 0\nrepetitions: 1\n"
                        "sweep: {product: {N: [20, 30, 40]}}\n"
                        "matrix: {density: 0.2}\nmethods: [gauss_elim, reference]\n";
  std::set<std::int64_t> all;
  std::size_t total = 0;
  for (int i = 0; i < 2; ++i) {
    fs::path out = dir / ("shard" + std::to_string(i) + ".h5");
    fs::remove(out);
    int rc = run({cfg.string(), "-o", out.string(), "--shard", std::to_string(i) + "/2"}, dir / "shard.log");
    ASSERT_EQ(rc, 0) << slurp(dir / "shard.log");
    for (auto const& p : results::read_points(out.string())) {
      auto idx = std::get<std::int64_t>(p.attributes.at("point_index"));
      EXPECT_EQ(idx % 2, i);
      all.insert(idx);
      ++total;
    }
  }
  EXPECT_EQ(total, 6u);
  EXPECT_EQ(all.size(), 6u);
}
