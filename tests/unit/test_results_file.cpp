// SPDX-License-Identifier: MIT
// HDF5 round trip: what the driver writes is what a reader gets back.
#include "core/results_file.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
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
  results::append_point(path, pt, r);

  PointSpec pt2 = pt;
  pt2.index = 3;
  pt2.method = "gauss_elim";
  PointResult r2;
  r2.status = "failed";
  r2.reason = "out of memory";
  results::append_point(path, pt2, r2);
  EXPECT_FALSE(fs::exists(path + ".tmp"));

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

TEST(ResultsFile, NotAnHdf5FileIsAClearError) {
  std::string path = temp_file("not_hdf5.h5");
  { std::ofstream(path) << "hello"; }
  try {
    results::read_points(path);
    FAIL() << "no error";
  } catch (std::exception const& e) {
    EXPECT_NE(std::string(e.what()).find("not_hdf5.h5"), std::string::npos) << e.what();
  }
}
