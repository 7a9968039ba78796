// SPDX-License-Identifier: MIT
// HDF5 round trip: what the driver writes is what a reader gets back.
#include "core/hdf5.hpp"
#include "core/point_writer.hpp"
#include "core/results_file.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace numlab;

namespace {
struct ScratchDir {
  fs::path path = fs::temp_directory_path() / ("numlab_test_" + std::to_string(::getpid()));
  ScratchDir() { fs::create_directories(path); }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string temp_file(std::string const& name) {
  static ScratchDir dir;
  return (dir.path / name).string();
}
}  // namespace

TEST(ResultsFile, RoundTripOfAttributesAndArrays) {
  std::string path = temp_file("roundtrip.h5");
  fs::remove(path);
  results::create(path, {{"numlab_version", std::string("0.1.0")}, {"config_text", std::string("name: x\nkind: y\n")}});

  PointSpec pt;
  pt.index = 17;
  pt.method = "gauss_seidel";
  pt.problem = {{"N", std::int64_t(500)}, {"density", 0.05}, {"dominance", std::string("strict")}};
  pt.options = {{"omega", 1.25}, {"spectral_radius", true}};
  PointResult r;
  r.status = "converged";
  r.metrics = {{"iterations", std::int64_t(12)}, {"rel_error", 3.5e-12}, {"solve_seconds_median", 0.0123}};
  r.arrays["residual_history"] = {1.0, 0.1, 1e-3, std::nan("")};
  std::vector<double> big(100000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = std::sin(double(i));
  r.arrays["x"] = big;
  results::PointWriter writer(path);
  writer.append(pt, r);

  PointSpec pt2 = pt;
  pt2.index = 3;
  pt2.method = "gauss_elim";
  PointResult r2;
  r2.status = "failed";
  r2.reason = "out of memory";
  writer.append(pt2, r2);
  EXPECT_EQ(writer.pending(), 2u);
  // Both points are readable before the pack (from the parts) and after it (from the file).
  for (int packed : {0, 1}) {
    SCOPED_TRACE(packed ? "packed" : "in parts");
    if (packed) {
      EXPECT_EQ(writer.pack(), 2u);
    }
    EXPECT_EQ(fs::exists(results::parts_dir(path)), !packed);

  auto root = results::read_root(path);
  EXPECT_EQ(std::get<std::int64_t>(root.at("schema_version")), kSchemaVersion);
  EXPECT_EQ(std::get<std::string>(root.at("config_text")), "name: x\nkind: y\n");

  auto points = results::read_points(path, true);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].group, "p000003");  // ordered by index
  EXPECT_EQ(std::get<std::string>(points[0].attributes.at("reason")), "out of memory");
  auto const& p = points[1];
  EXPECT_EQ(p.group, "p000017");
  EXPECT_EQ(std::get<std::int64_t>(p.attributes.at("N")), 500);
  EXPECT_EQ(std::get<double>(p.attributes.at("density")), 0.05);
  EXPECT_EQ(std::get<std::string>(p.attributes.at("dominance")), "strict");
  EXPECT_EQ(std::get<bool>(p.attributes.at("spectral_radius")), true);
  EXPECT_EQ(std::get<std::string>(p.attributes.at("method")), "gauss_seidel");
  EXPECT_EQ(std::get<std::string>(p.attributes.at("status")), "converged");
  EXPECT_EQ(std::get<std::int64_t>(p.attributes.at("iterations")), 12);
  EXPECT_EQ(std::get<double>(p.attributes.at("rel_error")), 3.5e-12);
  EXPECT_EQ(std::get<std::string>(p.attributes.at("point_key")), pt.key());
  auto const& h = p.arrays.at("residual_history");
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[2], 1e-3);
  EXPECT_TRUE(std::isnan(h[3]));
  EXPECT_EQ(p.arrays.at("x"), big);  // bit-exact through chunking + deflate

  auto keys = results::point_keys(path);
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_TRUE(keys.count(pt.key()));
  }
  EXPECT_EQ(fs::directory_iterator(fs::path(path).parent_path()) != fs::directory_iterator(), true);
  for (auto const& e : fs::directory_iterator(fs::path(path).parent_path()))
    EXPECT_EQ(e.path().string().find("roundtrip.h5."), std::string::npos) << "left behind: " << e.path();
}

TEST(ResultsFile, NotAnHdf5FileIsAClearError) {
  std::string path = temp_file("not_hdf5.h5");
  { std::ofstream(path) << "hello"; }
  try {
    results::read_points(path);
    FAIL() << "no error";
  } catch (std::exception const& e) {
    EXPECT_NE(std::string(e.what()).find("not_hdf5.h5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not an HDF5 file"), std::string::npos) << e.what();
  }
}

namespace {
PointSpec point(std::size_t index, std::int64_t seed) {
  PointSpec pt;
  pt.index = index;
  pt.method = "gauss_elim";
  pt.problem = {{"N", std::int64_t(10)}, {"seed", seed}};
  return pt;
}
PointResult result(std::string status, std::size_t n = 1000) {
  PointResult r;
  r.status = std::move(status);
  r.arrays["x"] = std::vector<double>(n, 1.5);
  return r;
}
std::string status_of(std::vector<StoredPoint> const& pts, std::string const& group) {
  for (auto const& p : pts)
    if (p.group == group) return to_string(p.attributes.at("status"));
  return "absent";
}
struct Stat {
  ino_t ino;
  off_t size;
  timespec mtime;
};
Stat stat_of(std::string const& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return {st.st_ino, st.st_size, st.st_mtim};
}
}  // namespace

// The flat per-point cost: appending never rewrites (or even opens for writing) the file itself;
// each point is its own part, and the file changes once, at pack().
TEST(ResultsFile, AppendWritesOnlyThePointAndPackMovesThePartsIn) {
  std::string path = temp_file("flat.h5");
  fs::remove(path);
  results::create(path, {{"kind", std::string("linsolve")}});
  Stat const before = stat_of(path);
  results::PointWriter w(path);
  for (std::size_t i = 0; i < 5; ++i) w.append(point(i, std::int64_t(i)), result("solved", 20000));
  Stat const during = stat_of(path);
  EXPECT_EQ(during.ino, before.ino);
  EXPECT_EQ(during.size, before.size);
  EXPECT_EQ(during.mtime.tv_sec, before.mtime.tv_sec);
  EXPECT_EQ(during.mtime.tv_nsec, before.mtime.tv_nsec);
  EXPECT_EQ(results::committed_parts(path).size(), 5u);
  EXPECT_EQ(results::read_points(path).size(), 5u);
  EXPECT_EQ(w.pack(), 5u);
  EXPECT_FALSE(fs::exists(results::parts_dir(path)));
  EXPECT_GT(stat_of(path).size, 5 * 20000 * 8 / 20);  // the arrays are in the file now (deflated)
  auto pts = results::read_points(path, true);
  ASSERT_EQ(pts.size(), 5u);
  EXPECT_EQ(pts[4].arrays.at("x"), std::vector<double>(20000, 1.5));
  EXPECT_EQ(w.pack(), 0u);
}

// After kill -9 the parts stay: a reader sees them, the next writer packs them first; a pack killed
// after its rename (parts still there) packs the same points again, no duplicates, no loss.
TEST(ResultsFile, PartsOfAKilledRunAreReadAndPackedByTheNextWriter) {
  std::string path = temp_file("killed.h5");
  fs::remove_all(results::parts_dir(path));
  fs::remove(path);
  results::create(path, {{"kind", std::string("linsolve")}});
  {
    results::PointWriter w(path);
    w.append(point(0, 1), result("solved"));
    w.append(point(1, 2), result("failed"));
    // no pack: the process "dies" here
  }
  // A temporary of a writer killed mid-part is neither read nor kept.
  { std::ofstream(results::parts_dir(path) + "/p000002.h5.tmp.99999") << "half a point"; }
  EXPECT_EQ(results::read_points(path).size(), 2u);
  // A pack that renamed the file but died before removing its parts.
  fs::path const saved = fs::path(path).parent_path() / "killed_saved_parts";
  fs::remove_all(saved);
  fs::copy(results::parts_dir(path), saved);
  {
    results::PointWriter w(path);  // packs the two, removes the temporary
    EXPECT_FALSE(fs::exists(results::parts_dir(path)));
    EXPECT_EQ(results::read_points(path).size(), 2u);
  }
  fs::copy(saved, results::parts_dir(path));
  fs::remove(results::parts_dir(path) + "/p000002.h5.tmp.99999");
  EXPECT_EQ(results::read_points(path).size(), 2u);
  {
    results::PointWriter w(path);
    // --retry-failed: the same point again replaces its failed copy when packed.
    w.append(point(1, 2), result("solved"));
    EXPECT_EQ(status_of(results::read_points(path), "p000001"), "solved");
    w.pack();
  }
  auto pts = results::read_points(path);
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_EQ(status_of(pts, "p000000"), "solved");
  EXPECT_EQ(status_of(pts, "p000001"), "solved");
  fs::remove_all(saved);
}

// Parts name their file: those of another file of the same name are never read as this one's.
// The replaced file's (--overwrite) are deleted; any other file's (OUT moved or deleted by hand
// after a kill -9: the parts may be its only copy of those points) are moved aside, with a note.
TEST(ResultsFile, PartsOfAnotherFileOfTheSameNameAreNeverReadOrLost) {
  std::string path = temp_file("reused.h5");
  fs::remove_all(results::parts_dir(path));
  fs::remove_all(path + ".orphaned-parts");
  for (bool replaced : {true, false}) {
    SCOPED_TRACE(replaced ? "replaced by --overwrite" : "moved away");
    results::create(path, {{"kind", std::string("linsolve")}});
    {
      results::PointWriter w(path);
      w.append(point(0, 1), result("solved"));
      w.append(point(1, 2), result("solved"));
    }  // killed: not packed
    std::string const old_id = results::file_id(path);
    results::create(path, {{"kind", std::string("linsolve")}});  // a new file, a new id
    EXPECT_NE(results::file_id(path), old_id);
    EXPECT_EQ(results::read_points(path).size(), 0u);
    EXPECT_TRUE(fs::exists(results::parts_dir(path)));
    results::PointWriter w(path, replaced ? old_id : "");
    EXPECT_FALSE(fs::exists(results::parts_dir(path)));
    auto const notes = w.take_notes();
    EXPECT_EQ(notes.size(), replaced ? 0u : 1u);
    std::size_t aside = 0;
    if (fs::exists(path + ".orphaned-parts"))
      for ([[maybe_unused]] auto const& e : fs::directory_iterator(path + ".orphaned-parts")) ++aside;
    EXPECT_EQ(aside, replaced ? 0u : 2u);
    EXPECT_EQ(w.pack(), 0u);
    EXPECT_EQ(results::read_points(path).size(), 0u);
  }
}

// A file written before file_id gets one before its first part (else any other id-less file of
// that name would match its parts).
TEST(ResultsFile, AFileWithoutFileIdGetsOneBeforeItsFirstPart) {
  std::string path = temp_file("old.h5");
  fs::remove_all(results::parts_dir(path));
  {
    h5::Handle f = h5::create_file(path);
    h5::write_attribute(f.get(), "kind", std::string("linsolve"));
    h5::create_group(f.get(), "points").close();
  }
  EXPECT_EQ(results::file_id(path), "");
  results::PointWriter w(path);
  EXPECT_EQ(results::file_id(path).size(), 32u);
  w.append(point(0, 1), result("solved"));
  EXPECT_EQ(results::read_points(path).size(), 1u);
  EXPECT_EQ(results::committed_parts(path).size(), 1u);
}

// A long sweep never piles up parts: they are packed once they outnumber pack_every and the points
// OUT holds (every append's cost stays the point's own, amortised).
TEST(ResultsFile, PartsArePackedBeforeTheyPileUp) {
  std::string path = temp_file("many.h5");
  fs::remove_all(results::parts_dir(path));
  results::create(path, {{"kind", std::string("linsolve")}});
  results::PointWriter w(path, "", 4);
  std::size_t most = 0;
  for (std::size_t i = 0; i < 30; ++i) {
    w.append(point(i, std::int64_t(i)), result("solved", 10));
    most = std::max(most, results::committed_parts(path).size());
  }
  // Packs at 4 pending (OUT 0), then 4 (OUT 4), 8 (OUT 8), 16 (OUT 16): never more than 16 parts.
  EXPECT_LE(most, 16u);
  EXPECT_GE(most, 4u);
  EXPECT_EQ(results::read_points(path).size(), 30u);
  w.pack();
  EXPECT_EQ(results::read_points(path).size(), 30u);
  EXPECT_FALSE(fs::exists(results::parts_dir(path)));
}

// Readers given a symlink find the parts and the lock beside the file it names.
TEST(ResultsFile, ASymlinkedFileIsReadWithItsParts) {
  std::string path = temp_file("target.h5"), link = temp_file("link.h5");
  fs::remove_all(results::parts_dir(path));
  fs::remove(link);
  results::create(path, {{"kind", std::string("linsolve")}});
  fs::create_symlink(path, link);
  results::PointWriter w(path);
  w.append(point(0, 1), result("solved"));
  EXPECT_EQ(results::parts_dir(link), results::parts_dir(path));
  EXPECT_EQ(results::read_points(link).size(), 1u);
  EXPECT_EQ(results::committed_parts(link).size(), 1u);
}

// pack() refuses to pack into a file that is no longer the one it opened.
TEST(ResultsFile, PackRefusesAReplacedFile) {
  std::string path = temp_file("swapped.h5");
  fs::remove_all(results::parts_dir(path));
  results::create(path, {{"kind", std::string("linsolve")}});
  results::PointWriter w(path);
  w.append(point(0, 1), result("solved"));
  results::create(path, {{"kind", std::string("linsolve")}});
  EXPECT_THROW(w.pack(), std::runtime_error);
  EXPECT_EQ(results::read_points(path).size(), 0u);
}

TEST(ResultsFile, AnotherPointAtAStoredIndexIsRefusedAndNothingChanges) {
  std::string path = temp_file("clash.h5");
  fs::remove_all(results::parts_dir(path));
  results::create(path, {{"kind", std::string("linsolve")}});
  results::PointWriter w(path);
  w.append(point(3, 1), result("solved"));
  EXPECT_THROW(w.append(point(3, 2), result("solved")), std::runtime_error);
  w.pack();
  results::PointWriter w2(path);  // the stored points of the file itself are checked too
  EXPECT_THROW(w2.append(point(3, 7), result("solved")), std::runtime_error);
  auto pts = results::read_points(path);
  ASSERT_EQ(pts.size(), 1u);
  EXPECT_EQ(to_string(pts[0].attributes.at("point_key")), point(3, 1).key());
}

// HDF5's errors keep their reason: errno's text for a failed system call.
TEST(ResultsFile, Hdf5ErrorsSayWhy) {
  try {
    h5::create_file("/nonexistent-folder/x.h5");
    FAIL() << "no error";
  } catch (h5::Hdf5Error const& e) {
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
  }
  // A disk that is full: /dev/full takes the open and fails every write with ENOSPC.
  if (fs::exists("/dev/full")) {
    try {
      h5::Handle f = h5::create_file("/dev/full");
      h5::Handle g = h5::create_group(f.get(), "points");
      h5::write_dataset(g.get(), "x", std::vector<double>(1 << 20, 1.0));
      h5::check(H5Fflush(f.get(), H5F_SCOPE_GLOBAL), "H5Fflush");
      FAIL() << "no error";
    } catch (h5::Hdf5Error const& e) {
      EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos) << e.what();
    }
  }
}
