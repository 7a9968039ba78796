// SPDX-License-Identifier: MIT
// The attention experiment end to end through `numlab`: every method on an
// awkward shape checked against fp64 and read back from HDF5; the memory each
// method records grows as the lab says it should.
#include "core/hdf5.hpp"
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
  std::map<std::int64_t, std::int64_t> tiled_teams;
  for (auto const& p : results::read_points(out.string())) {
    auto const method = std::get<std::string>(p.attributes.at("method"));
    auto const N = std::get<std::int64_t>(p.attributes.at("N"));
    peak[method][N] = double(std::get<std::int64_t>(p.attributes.at("peak_device_bytes")));
    if (method == "tiled") tiled_teams[N] = std::get<std::int64_t>(p.attributes.at("concurrent_teams"));
  }
  // N grows 4x: standard's S and P grow 16x; flash holds only O and L (4x).
  double standard = peak["standard"][1024] / peak["standard"][256];
  double flash = peak["flash"][1024] / peak["flash"][256];
  EXPECT_GT(standard, 10.0);
  EXPECT_NEAR(flash, 4.0, 0.5);
  // flash: exactly O (N D floats per head) and L (N floats per head), nothing N^2.
  auto o_and_l = [](double N) { return 2 * N * (32 + 1) * sizeof(float); };
  EXPECT_EQ(peak["flash"][1024], o_and_l(1024));
  // tiled: O, L and a score block of tile_q x N_kv for each of the G teams in flight, G <= the
  // league (B H N / tile_q teams); one team per thread on the host, hundreds on a GPU.
  for (std::int64_t N : {256, 1024}) {
    SCOPED_TRACE("N=" + std::to_string(N));
    std::int64_t const G = tiled_teams[N];
    EXPECT_GE(G, 1);
    EXPECT_LE(G, 2 * N / 32);
    EXPECT_EQ(peak["tiled"][N], o_and_l(double(N)) + double(G) * 32 * double(N) * sizeof(float));
  }
  // Below N^2 only while fewer teams than the league are in flight: always on the host (one per
  // thread); on a GPU, whose hundreds of resident teams cover this small league, at larger N.
  if (tiled_teams[1024] * 4 <= 2 * 1024 / 32) {
    EXPECT_LT(peak["tiled"][1024], peak["standard"][1024] / 4);
  }
}

// Bring your own data: Q, K, V, dO from an HDF5 file; O and the gradients come
// back with save_outputs and match a direct fp64 computation on those inputs.
TEST(AttentionDriver, InputsFromHdf5AreUsedAndOutputsSaved) {
  auto dir = work_dir();
  int const B = 1, H = 2, N = 7, Nkv = 9, D = 4;
  std::vector<double> q(B * H * N * D), k(B * H * Nkv * D), v(B * H * Nkv * D), dO(B * H * N * D);
  auto fill = [](std::vector<double>& x, double a) {
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(a * double(i + 1));
  };
  fill(q, 0.37);
  fill(k, 0.91);
  fill(v, 1.73);
  fill(dO, 2.11);
  fs::path in = dir / "qkv.h5";
  {
    h5::Handle f = h5::create_file(in.string());
    h5::write_dataset(f.get(), "Q", q.data(), {B, H, N, D});
    h5::write_dataset(f.get(), "K", k.data(), {B, H, Nkv, D});
    h5::write_dataset(f.get(), "V", v.data(), {B, H, Nkv, D});
    h5::write_dataset(f.get(), "dO", dO.data(), {B, H, N, D});
  }
  fs::path cfg = dir / "byod.yaml";
  std::ofstream(cfg) << "name: byod\nkind: attention\nwarmup: 0\nrepetitions: 1\ndtype: float64\n"
                        "inputs: {path: qkv.h5}\nmethods: [flash, flash_bwd]\nsave_outputs: true\n";
  fs::path out = dir / "byod.h5";
  int rc = run({cfg.string(), "-o", out.string(), "--overwrite"}, dir / "byod.log");
  ASSERT_EQ(rc, 0) << slurp(dir / "byod.log");

  // Direct fp64 attention on the file's data: O = softmax(Q K^T / sqrt(D)) V.
  std::vector<double> o_ref(q.size());
  for (int h = 0; h < H; ++h)
    for (int i = 0; i < N; ++i) {
      std::vector<double> s(Nkv);
      double m = -1e300, l = 0;
      for (int j = 0; j < Nkv; ++j) {
        s[j] = 0;
        for (int d = 0; d < D; ++d) s[j] += q[(h * N + i) * D + d] * k[(h * Nkv + j) * D + d];
        s[j] /= std::sqrt(double(D));
        m = std::max(m, s[j]);
      }
      for (int j = 0; j < Nkv; ++j) l += std::exp(s[j] - m);
      for (int d = 0; d < D; ++d) {
        double acc = 0;
        for (int j = 0; j < Nkv; ++j) acc += std::exp(s[j] - m) / l * v[(h * Nkv + j) * D + d];
        o_ref[(h * N + i) * D + d] = acc;
      }
    }
  auto pts = results::read_points(out.string(), true);
  ASSERT_EQ(pts.size(), 2u);
  auto const& fwd = pts[0];
  EXPECT_EQ(std::get<std::int64_t>(fwd.attributes.at("N_kv_run")), Nkv);
  auto const& o = fwd.arrays.at("O");
  ASSERT_EQ(o.size(), o_ref.size());
  for (std::size_t i = 0; i < o.size(); ++i) EXPECT_NEAR(o[i], o_ref[i], 1e-13) << i;
  EXPECT_LT(std::get<double>(fwd.attributes.at("O_rel_fro_error")), 1e-14);
  auto const& bwd = pts[1];
  EXPECT_EQ(bwd.arrays.at("dK").size(), std::size_t(B * H * Nkv * D));
  EXPECT_LT(std::get<double>(bwd.attributes.at("dV_rel_fro_error")), 1e-13);

  // The points record the file's shape.
  EXPECT_EQ(std::get<std::int64_t>(fwd.attributes.at("H")), H);
  EXPECT_EQ(std::get<std::int64_t>(fwd.attributes.at("N")), N);

  // A config shape that contradicts the file is a config error (exit 2), the output untouched.
  std::ofstream(cfg) << "name: byod\nkind: attention\nwarmup: 0\nrepetitions: 1\nshape: {D: 8}\n"
                        "inputs: {path: qkv.h5}\nmethods: [flash]\n";
  rc = run({cfg.string(), "-o", out.string(), "--overwrite"}, dir / "byod2.log");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(slurp(dir / "byod2.log").find("shape.D = 8 in the config but 4 in the inputs file"), std::string::npos)
      << slurp(dir / "byod2.log");
  EXPECT_EQ(results::read_points(out.string()).size(), 2u);
}
