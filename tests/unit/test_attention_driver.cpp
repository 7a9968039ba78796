// SPDX-License-Identifier: MIT
// The attention experiment end to end through `numlab`: every method on an
// awkward shape checked against fp64 and read back from HDF5; the memory each
// method records grows as the lab says it should.
#include "driver_helpers.hpp"

#include <cmath>
#include <map>

TEST(AttentionDriver, SmokeConfigMeetsAccuracyAndIsReadBack) {
  auto dir = work_dir();
  fs::path out = dir / "attn_smoke.h5";
  int rc = run({"configs/attn_smoke.yaml", "-o", out.string(), "--overwrite"}, dir / "attn_smoke.log");
  ASSERT_EQ(rc, 0) << slurp(dir / "attn_smoke.log");
  auto pts = results::read_points(out.string(), true);
  ASSERT_EQ(pts.size(), 2u * 6u);
  for (auto const& p : pts) {
    auto const& a = p.attributes;
    std::string method = std::get<std::string>(a.at("method"));
    SCOPED_TRACE(p.group + " " + method);
    EXPECT_EQ(std::get<std::string>(a.at("status")), "ok");
    EXPECT_EQ(std::get<std::int64_t>(a.at("N")), 113);
    EXPECT_EQ(std::get<std::int64_t>(a.at("N_kv")), 150);
    bool backward = method.find("_bwd") != std::string::npos;
    // fp32 against fp64: a few hundred ulps of accumulated rounding at most.
    if (!backward) {
      EXPECT_LT(std::get<double>(a.at("O_rel_fro_error")), 1e-5);
      EXPECT_GT(std::get<double>(a.at("forward_tflops")), 0.0);
      EXPECT_EQ(p.arrays.at("O").size(), 2u * 2u * 113u * 32u);
    } else {
      for (char const* g : {"dQ", "dK", "dV"}) EXPECT_LT(std::get<double>(a.at(std::string(g) + "_rel_fro_error")), 1e-4) << g;
      EXPECT_EQ(p.arrays.at("dK").size(), 2u * 2u * 150u * 32u);
    }
    EXPECT_GT(std::get<std::int64_t>(a.at("peak_device_bytes")), 0);
  }
}

TEST(AttentionDriver, PeakMemoryGrowthLaws) {
  auto dir = work_dir();
  fs::path cfg = dir / "attn_mem.yaml";
  std::ofstream(cfg) << "name: attn_mem\nkind: attention\nwarmup: 0\nrepetitions: 1\nreference: false\n"
                        "sweep: {product: {N: [256, 1024]}}\nshape: {B: 1, H: 2, D: 32}\n"
                        "methods: [standard, {name: tiled, tile_q: 32, tile_k: 32}, {name: flash, tile_q: 32, tile_k: 32}]\n";
  fs::path out = dir / "attn_mem.h5";
  int rc = run({cfg.string(), "-o", out.string(), "--overwrite"}, dir / "attn_mem.log");
  ASSERT_EQ(rc, 0) << slurp(dir / "attn_mem.log");
  std::map<std::string, std::map<std::int64_t, double>> peak;
  for (auto const& p : results::read_points(out.string()))
    peak[std::get<std::string>(p.attributes.at("method"))][std::get<std::int64_t>(p.attributes.at("N"))] =
        double(std::get<std::int64_t>(p.attributes.at("peak_device_bytes")));
  // N grows 4x: standard's S and P grow 16x; flash holds only O and L (4x);
  // tiled's score blocks grow with N (4x), far below standard.
  double standard = peak["standard"][1024] / peak["standard"][256];
  double flash = peak["flash"][1024] / peak["flash"][256];
  EXPECT_GT(standard, 10.0);
  EXPECT_NEAR(flash, 4.0, 0.5);
  // flash: exactly O (N D floats per head) and L (N floats per head), nothing N^2.
  EXPECT_EQ(peak["flash"][1024], 1.0 * 2 * 1024 * (32 + 1) * sizeof(float));
  EXPECT_LT(peak["tiled"][1024], peak["standard"][1024] / 4);
  EXPECT_NEAR(peak["tiled"][1024] / peak["tiled"][256], 4.0, 1.0);
}
