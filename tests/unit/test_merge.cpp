// SPDX-License-Identifier: MIT
// `numlab merge` end to end through the real binary: real sharded runs merged
// back into one file equal to the unsharded run, every point exactly once;
// incomplete merges; and the inputs it must refuse without touching OUT.
#include "driver_helpers.hpp"

#include "core/hdf5.hpp"

#include <functional>
#include <map>

namespace {

// 4 problems x 4 methods = 16 points of a few milliseconds; every metric but
// the timings is deterministic (serial GS sweeps, LU, LAPACK).
fs::path write_config(fs::path const& dir, std::string const& name, std::string const& extra = "") {
  fs::path cfg = dir / (name + ".yaml");
  std::ofstream(cfg) << "name: " << name << "\nkind: linsolve\nwarmup: 0\nrepetitions: 1\n"
                     << "output: " << (dir / (name + ".h5")).string() << "\n"
                     << "sweep: {product: {N: [30, 60], seed: [1, 2]}}\n"
                     << "matrix: {generator: random_sparse, density: 0.1, dominance: strict}\n"
                     << "methods:\n  - gauss_elim\n  - {name: gauss_seidel, variant: sequential, tol: 1.0e-10}\n"
                     << "  - {name: gauss_seidel, variant: multicolor, tol: 1.0e-10}\n  - reference\n"
                     << extra;
  return cfg;
}
constexpr std::size_t kPoints = 16;

fs::path shard_file(fs::path const& dir, std::string const& name, int i, int n) {
  return dir / (name + ".shard" + std::to_string(i) + "of" + std::to_string(n) + ".h5");
}

// Runs every shard of `cfg` (its output is dir/name.h5, so the shards land beside it).
void run_shards(fs::path const& cfg, int n) {
  for (int i = 0; i < n; ++i) {
    fs::path log = cfg.parent_path() / ("shard" + std::to_string(i) + ".log");
    int rc = run({cfg.string(), "--shard", std::to_string(i) + "/" + std::to_string(n), "-q"}, log);
    ASSERT_EQ(rc, 0) << slurp(log);
  }
}

int merge(std::vector<std::string> args, fs::path const& log) {
  args.insert(args.begin(), "merge");
  return run(std::move(args), log);
}

// Timings (and what is computed from them) differ from run to run; nothing else may.
bool timing(std::string const& k) {
  for (char const* t : {"seconds", "GBps", "gflops", "tflops", "rss"})
    if (k.find(t) != std::string::npos) return true;
  return false;
}

std::map<std::int64_t, StoredPoint> by_index(fs::path const& h5) {
  std::map<std::int64_t, StoredPoint> m;
  for (auto& p : results::read_points(h5.string(), true)) {
    auto idx = std::get<std::int64_t>(p.attributes.at("point_index"));
    EXPECT_TRUE(m.emplace(idx, std::move(p)).second) << "point " << idx << " twice in " << h5;
  }
  return m;
}

void set_attribute(fs::path const& h5, std::string const& object, std::string const& key, ParamValue const& v) {
  h5::Handle f = h5::open_file(h5.string(), true);
  if (object == "/") {
    h5::write_attribute(f.get(), key, v);
  } else {
    h5::Handle g = h5::open_group(f.get(), object);
    h5::write_attribute(g.get(), key, v);
  }
  f.close();
}

std::string status_of(fs::path const& h5, std::int64_t idx) {
  return std::get<std::string>(by_index(h5).at(idx).attributes.at("status"));
}

}  // namespace

TEST(Merge, ShardsMergeIntoTheUnshardedResultEveryPointOnce) {
  auto dir = work_dir();
  fs::path cfg = write_config(dir, "sweep");
  fs::path full = dir / "full.h5";
  ASSERT_EQ(run({cfg.string(), "-o", full.string(), "-q"}, dir / "full.log"), 0) << slurp(dir / "full.log");
  run_shards(cfg, 3);
  fs::path merged = dir / "sweep.h5";  // the config's output
  ASSERT_FALSE(fs::exists(merged));
  int rc = merge({"--config", cfg.string(), "--shards", "3"}, dir / "merge.log");
  ASSERT_EQ(rc, 0) << slurp(dir / "merge.log");
  EXPECT_NE(slurp(dir / "merge.log").find("16 of 16 points from 3 file(s)"), std::string::npos)
      << slurp(dir / "merge.log");
  expect_each_point_once(merged, kPoints);

  auto m = by_index(merged);
  auto f = by_index(full);
  ASSERT_EQ(m.size(), kPoints);
  ASSERT_EQ(f.size(), kPoints);
  for (auto const& [idx, p] : m) {
    SCOPED_TRACE("point " + std::to_string(idx));
    EXPECT_EQ(p.group, results::group_name(std::size_t(idx)));
    // A byte-for-byte copy of the shard's point.
    auto s = by_index(shard_file(dir, "sweep", int(idx % 3), 3));
    ASSERT_TRUE(s.count(idx));
    EXPECT_EQ(p.attributes, s.at(idx).attributes);
    EXPECT_EQ(p.arrays, s.at(idx).arrays);
    // The same values as the unsharded run, timings aside.
    auto const& q = f.at(idx);
    for (auto const& [k, v] : q.attributes)
      if (!timing(k)) {
        ASSERT_TRUE(p.attributes.count(k)) << k;
        EXPECT_EQ(p.attributes.at(k), v) << k << ": " << to_string(p.attributes.at(k)) << " vs " << to_string(v);
      }
    EXPECT_EQ(p.attributes.size(), q.attributes.size());
    for (auto const& [k, a] : q.arrays)
      if (!timing(k)) {
        ASSERT_TRUE(p.arrays.count(k)) << k;
        EXPECT_EQ(p.arrays.at(k), a) << k;
      }
  }
  // Residual histories came along (datasets copied, not just attributes).
  EXPECT_FALSE(m.at(1).arrays.at("residual_history").empty());

  // Root: the first shard's provenance plus where it came from.
  auto root = results::read_root(merged.string());
  auto root0 = results::read_root(shard_file(dir, "sweep", 0, 3).string());
  for (char const* k : {"schema_version", "kind", "name", "config_text", "total_points", "host", "git_commit"})
    EXPECT_EQ(root.at(k), root0.at(k)) << k;
  EXPECT_EQ(std::get<std::int64_t>(root.at("total_points")), std::int64_t(kPoints));
  EXPECT_EQ(std::get<std::int64_t>(root.at("merged_points")), std::int64_t(kPoints));
  std::string from = std::get<std::string>(root.at("merged_from"));
  for (int i = 0; i < 3; ++i) EXPECT_NE(from.find(shard_file(dir, "sweep", i, 3).string()), std::string::npos) << from;
  EXPECT_NE(std::get<std::string>(root.at("merge_command_line")).find("merge"), std::string::npos);

  // Explicit file list, in any order, gives the same points.
  fs::path again = dir / "again.h5";
  rc = merge({again.string(), shard_file(dir, "sweep", 2, 3).string(), shard_file(dir, "sweep", 0, 3).string(),
              shard_file(dir, "sweep", 1, 3).string()},
             dir / "again.log");
  ASSERT_EQ(rc, 0) << slurp(dir / "again.log");
  auto a = by_index(again);
  ASSERT_EQ(a.size(), kPoints);
  for (auto const& [idx, p] : a) EXPECT_EQ(p.attributes, m.at(idx).attributes);
  // No temporary file left behind.
  for (auto const& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(Merge, MissingPointsExit3UnlessAllowedAndResumeCompletesTheFile) {
  auto dir = work_dir();
  fs::path cfg = write_config(dir, "part");
  run_shards(cfg, 3);
  fs::remove(shard_file(dir, "part", 1, 3));  // that task never ran
  fs::path out = dir / "part.h5";
  int rc = merge({"--config", cfg.string(), "--shards", "3"}, dir / "m1.log");
  std::string log = slurp(dir / "m1.log");
  EXPECT_EQ(rc, 3) << log;
  EXPECT_NE(log.find("part.shard1of3.h5 does not exist"), std::string::npos) << log;
  EXPECT_NE(log.find("incomplete: 5 of 16 points missing: 1, 4, 7, 10, 13"), std::string::npos) << log;
  // Written anyway: a valid results file with the 11 points there are.
  expect_each_point_once(out, kPoints - 5);

  // Accepted with --allow-incomplete (an existing OUT needs --overwrite).
  EXPECT_EQ(merge({"--config", cfg.string(), "--shards", "3", "--allow-incomplete"}, dir / "m2.log"), 2);
  EXPECT_NE(slurp(dir / "m2.log").find("--overwrite"), std::string::npos);
  rc = merge({"--config", cfg.string(), "--shards", "3", "--allow-incomplete", "--overwrite"}, dir / "m3.log");
  EXPECT_EQ(rc, 0) << slurp(dir / "m3.log");
  EXPECT_NE(slurp(dir / "m3.log").find("5 of 16 points missing"), std::string::npos);

  // The merged file resumes like any output: only the missing points run.
  rc = run({cfg.string(), "--resume"}, dir / "resume.log");
  ASSERT_EQ(rc, 0) << slurp(dir / "resume.log");
  EXPECT_NE(slurp(dir / "resume.log").find("16 points, 5 to run"), std::string::npos) << slurp(dir / "resume.log");
  expect_each_point_once(out, kPoints);
}

TEST(Merge, FinishedPointWinsOverFailedAndDuplicatesAreKeptOnce) {
  auto dir = work_dir();
  fs::path cfg = write_config(dir, "dup");
  fs::path full = dir / "full.h5";
  ASSERT_EQ(run({cfg.string(), "-o", full.string(), "-q"}, dir / "full.log"), 0);
  run_shards(cfg, 2);
  fs::path s0 = shard_file(dir, "dup", 0, 2), s1 = shard_file(dir, "dup", 1, 2);
  // Point 2 failed in shard 0 (as an out-of-memory would record it).
  set_attribute(s0, "points/p000002", "status", std::string("failed"));
  set_attribute(s0, "points/p000002", "reason", std::string("out of memory"));

  // full.h5 overlaps both shards: every point twice, each kept once; the
  // finished copy of point 2 wins whichever side it is on.
  for (auto order : {std::vector<fs::path>{s0, s1, full}, std::vector<fs::path>{full, s1, s0}}) {
    fs::path out = dir / "out.h5";
    std::vector<std::string> args = {out.string(), "--overwrite"};
    for (auto const& p : order) args.push_back(p.string());
    int rc = merge(args, dir / "dup.log");
    std::string log = slurp(dir / "dup.log");
    ASSERT_EQ(rc, 0) << log;
    EXPECT_NE(log.find("(16 duplicate(s) resolved)"), std::string::npos) << log;
    EXPECT_NE(log.find("point 2 is in"), std::string::npos) << log;
    expect_each_point_once(out, kPoints);
    EXPECT_NE(status_of(out, 2), "failed");
    // The first input's copy is kept otherwise.
    auto m = by_index(out);
    auto first = by_index(order.front());
    EXPECT_EQ(m.at(4).attributes, first.at(4).attributes);
  }

  // Failed in the only copy: kept, reported, not an error.
  fs::path out = dir / "failed.h5";
  int rc = merge({out.string(), s0.string(), s1.string()}, dir / "failed.log");
  EXPECT_EQ(rc, 0) << slurp(dir / "failed.log");
  EXPECT_EQ(status_of(out, 2), "failed");
  EXPECT_NE(slurp(dir / "failed.log").find("1 point(s) recorded as failed: 2"), std::string::npos)
      << slurp(dir / "failed.log");
}

TEST(Merge, RefusesInputsThatDoNotBelongTogetherAndLeavesOutAlone) {
  auto dir = work_dir();
  fs::path cfg = write_config(dir, "ref");
  run_shards(cfg, 2);
  fs::path s0 = shard_file(dir, "ref", 0, 2), s1 = shard_file(dir, "ref", 1, 2);
  fs::path out = dir / "out.h5";

  struct Case {
    std::string what;
    std::function<fs::path()> make;  // the odd input
    std::string message;
  };
  auto copy_of = [&](std::string const& name) {
    fs::path p = dir / name;
    fs::copy_file(s1, p, fs::copy_options::overwrite_existing);
    return p;
  };
  std::vector<Case> cases = {
      {"another config",
       [&] {
         fs::path other = write_config(dir, "other", "description: another sweep\n");
         int rc = run({other.string(), "--shard", "1/2", "-q"}, dir / "other.log");
         EXPECT_EQ(rc, 0) << slurp(dir / "other.log");
         return shard_file(dir, "other", 1, 2);
       },
       "other.shard1of2.h5: error: name differs from"},
      {"same name, edited config",
       [&] {
         // What a shard of the same name with another sweep carries: another normalised config.
         fs::path p = copy_of("edited.h5");
         auto root = results::read_root(p.string());
         std::string norm = std::get<std::string>(root.at("config_normalized"));
         norm.replace(norm.find("strict"), 6, "weak");
         set_attribute(p, "/", "config_normalized", norm);
         set_attribute(p, "/", "config_fingerprint", std::string("0123456789abcdef"));
         return p;
       },
       "edited.h5: error: its config differs from"},
      {"another kind",
       [&] {
         fs::path p = copy_of("kind.h5");
         set_attribute(p, "/", "kind", std::string("attention"));
         return p;
       },
       "kind.h5: error: kind differs from"},
      {"another schema",
       [&] {
         fs::path p = copy_of("schema.h5");
         set_attribute(p, "/", "schema_version", std::int64_t(2));
         return p;
       },
       "schema.h5: error: schema_version differs from"},
      {"a string schema_version (exited 1)",
       [&] {
         fs::path p = copy_of("schema_str.h5");
         set_attribute(p, "/", "schema_version", std::string("1"));
         return p;
       },
       "schema_str.h5: error: schema_version differs from"},
      {"same index, another point",
       [&] {
         fs::path p = copy_of("key.h5");
         set_attribute(p, "points/p000001", "point_key", std::string("N=1;method=other"));
         return p;  // overlaps s1, point 1 included
       },
       "key.h5: error: point 1 has point_key 'N=1;method=other'"},
      {"not HDF5",
       [&] {
         fs::path p = dir / "text.h5";
         std::ofstream(p) << "not hdf5";
         return p;
       },
       "text.h5: error: cannot read"},
      {"missing", [&] { return dir / "absent.h5"; }, "absent.h5: error: no such file"},
  };
  for (auto const& c : cases) {
    SCOPED_TRACE(c.what);
    fs::path odd = c.make();
    for (bool existing : {false, true}) {
      fs::remove(out);
      if (existing) std::ofstream(out) << "keep me";
      std::vector<std::string> args = {out.string(), s0.string(), s1.string(), odd.string()};
      if (existing) args.push_back("--overwrite");
      int rc = merge(args, dir / "bad.log");
      std::string log = slurp(dir / "bad.log");
      EXPECT_EQ(rc, 2) << log;
      EXPECT_NE(log.find(c.message), std::string::npos) << log;
      if (existing)
        EXPECT_EQ(slurp(out), "keep me");
      else
        EXPECT_FALSE(fs::exists(out));
    }
  }
  // The shards of another sweep name the file too with --config.
  fs::path other_cfg = write_config(dir, "ref2");
  fs::remove(out);
  int rc = merge({"--config", other_cfg.string(), out.string(), s0.string()}, dir / "cfg.log");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(slurp(dir / "cfg.log").find("ref.shard0of2.h5: error: was not produced by"), std::string::npos)
      << slurp(dir / "cfg.log");

  // OUT exists: untouched without --overwrite; OUT may not be an input.
  std::ofstream(out) << "keep me";
  rc = merge({out.string(), s0.string(), s1.string()}, dir / "exists.log");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(slurp(dir / "exists.log").find("already exists; pass --overwrite"), std::string::npos);
  EXPECT_EQ(slurp(out), "keep me");
  rc = merge({s0.string(), s0.string(), s1.string(), "--overwrite"}, dir / "self.log");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(slurp(dir / "self.log").find("is an input of this run"), std::string::npos) << slurp(dir / "self.log");
  EXPECT_EQ(count_points(s0), kPoints / 2);
  // Usage errors.
  EXPECT_EQ(merge({out.string()}, dir / "usage.log"), 2);
  EXPECT_EQ(merge({"--shards", "2", out.string(), s0.string()}, dir / "usage.log"), 2);
  EXPECT_EQ(slurp(out), "keep me");
  // And with --overwrite it is replaced by the merge.
  rc = merge({out.string(), s0.string(), s1.string(), "--overwrite"}, dir / "ok.log");
  EXPECT_EQ(rc, 0) << slurp(dir / "ok.log");
  expect_each_point_once(out, kPoints);
}

TEST(Merge, DryRunPrintsThePathsOfAConfig) {
  auto dir = work_dir();
  fs::path cfg = write_config(dir, "paths");
  fs::path log = dir / "dry.log";
  ASSERT_EQ(merge({"--config", cfg.string(), "--shards", "2", "--dry-run"}, log), 0) << slurp(log);
  std::string expect = "name: paths\noutput: " + (dir / "paths.h5").string() + "\ninput: " +
                       shard_file(dir, "paths", 0, 2).string() + "\ninput: " + shard_file(dir, "paths", 1, 2).string() +
                       "\n";
  EXPECT_EQ(slurp(log), expect);
  EXPECT_FALSE(fs::exists(dir / "paths.h5"));
}
