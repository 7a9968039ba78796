// SPDX-License-Identifier: MIT
// The baselines of issue 14 end to end through the numlab binary: the methods standard (kernel
// auto = blas) and standard_bwd record the kernel that ran; vs_standard auto resolves from the
// config's methods; and the recorded <X>_*_vs_standard metrics equal a direct computation from
// the saved outputs (the standard / standard_bwd points' O, L, dQ, dK, dV are the baseline: they
// run the same kernels on the same inputs in the same dtype).
#include "driver_helpers.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

using namespace numlab_test;

namespace {

// max |x - r| and ||x - r||_F / ||r||_F over the finite entries of r; equal entries (the -inf
// of L included) count as exact, as numlab's ErrorNorms.
std::pair<double, double> direct_errors(std::vector<double> const& x, std::vector<double> const& r) {
  EXPECT_EQ(x.size(), r.size());
  double mx = 0, d2 = 0, r2 = 0;
  for (std::size_t i = 0; i < std::min(x.size(), r.size()); ++i) {
    if (std::isfinite(r[i])) r2 += r[i] * r[i];
    if (x[i] == r[i]) continue;
    double const d = std::abs(x[i] - r[i]);
    mx = std::max(mx, d);
    d2 += d * d;
  }
  return {mx, std::sqrt(d2) / (r2 > 0 ? std::sqrt(r2) : 1.0)};
}

std::string str(ParamMap const& a, std::string const& k) { return std::get<std::string>(a.at(k)); }
double real(ParamMap const& a, std::string const& k) { return std::get<double>(a.at(k)); }

fs::path write_config(std::string const& name, std::string const& body) {
  fs::path cfg = work_dir() / (name + ".yaml");
  std::ofstream(cfg) << "name: " << name << "\nkind: attention\nwarmup: 0\nrepetitions: 1\n" << body;
  return cfg;
}

std::vector<StoredPoint> run_config(std::string const& name, std::string const& body) {
  fs::path cfg = write_config(name, body), out = work_dir() / (name + ".h5"), log = work_dir() / (name + ".log");
  EXPECT_EQ(run({cfg.string(), "-o", out.string(), "--overwrite", "-q"}, log), 0) << slurp(log);
  return results::read_points(out.string(), /*with_arrays=*/true);
}

TEST(StandardBaseline, VsStandardMetricsMatchADirectComputation) {
  // Awkward lengths, N_kv != N and causal (rows 0..6 see no key: L = -inf in every method).
  auto pts = run_config("vs_standard",
                        "shape: {B: 2, H: 2, N: 113, N_kv: 106, D: 16}\ncausal: true\ndtype: float32\n"
                        "save_outputs: true\n"
                        "methods: [standard, {name: standard, kernel: team_scratch}, "
                        "{name: tiled, tile_q: 32, tile_k: 16}, {name: flash, tile_q: 16, tile_k: 32}, "
                        "standard_bwd, {name: tiled_bwd, tile_q: 32, tile_k: 16}, "
                        "{name: flash_bwd, tile_q: 32, tile_k: 16}]\n");
  ASSERT_EQ(pts.size(), 7u);
  auto const& std_fwd = pts[0];
  auto const& std_bwd = pts[4];
  ASSERT_EQ(str(std_fwd.attributes, "method"), "standard");
  ASSERT_EQ(str(std_bwd.attributes, "method"), "standard_bwd");
  EXPECT_EQ(str(std_fwd.attributes, "kernel_run"), "blas");
  EXPECT_EQ(str(pts[1].attributes, "kernel_run"), "team_scratch");
  EXPECT_EQ(str(std_bwd.attributes, "kernel_run"), "blas");
  for (auto const& p : pts) {
    auto const& a = p.attributes;
    std::string const m = str(a, "method");
    SCOPED_TRACE(m + " " + str(a, "kernel_run"));
    EXPECT_EQ(str(a, "status"), "ok");
    EXPECT_EQ(str(a, "vs_standard"), "always");  // auto: the methods include standard
    bool const backward = m.find("_bwd") != std::string::npos;
    auto const& base = backward ? std_bwd : std_fwd;
    for (std::string x : backward ? std::vector<std::string>{"dQ", "dK", "dV"} : std::vector<std::string>{"O", "L"}) {
      SCOPED_TRACE(x);
      ASSERT_TRUE(p.arrays.count(x) && base.arrays.count(x));
      auto const [mx, fro] = direct_errors(p.arrays.at(x), base.arrays.at(x));
      // The recorded metric is computed in the run from the same values (saved as doubles).
      EXPECT_DOUBLE_EQ(real(a, x + "_max_abs_vs_standard"), mx);
      EXPECT_NEAR(real(a, x + "_rel_fro_vs_standard"), fro, 1e-12 * (1 + fro));
      if (&p == &base) {
        EXPECT_EQ(mx, 0.0);  // the baseline against itself
      } else {
        if (x != "L") {
          EXPECT_GT(fro, 0.0);  // another kernel rounds differently
        }
        EXPECT_LT(fro, 1e-5);                // ... at fp32 rounding level
      }
      // Against fp64 the baseline's own error is recorded too: the two comparisons differ.
      EXPECT_TRUE(a.count(x + "_rel_fro_error"));
    }
  }
}

TEST(StandardBaseline, VsStandardFollowsTheMethodsOrTheConfig) {
  std::string const shape = "shape: {B: 1, H: 1, N: 33, D: 8}\n";
  auto without = run_config("vs_none", shape + "methods: [flash, flash_bwd]\n");
  for (auto const& p : without) {
    EXPECT_EQ(str(p.attributes, "vs_standard"), "never");
    EXPECT_FALSE(p.attributes.count("O_rel_fro_vs_standard") || p.attributes.count("dQ_rel_fro_vs_standard"));
  }
  auto asked = run_config("vs_always", shape + "vs_standard: always\nmethods: [flash, flash_bwd]\n");
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_TRUE(asked[0].attributes.count("O_rel_fro_vs_standard") && asked[0].attributes.count("L_max_abs_vs_standard"));
  EXPECT_TRUE(asked[1].attributes.count("dK_rel_fro_vs_standard") && asked[1].attributes.count("dV_max_abs_vs_standard"));
  auto off = run_config("vs_never", shape + "vs_standard: never\nmethods: [standard, standard_bwd]\n");
  for (auto const& p : off) EXPECT_FALSE(p.attributes.count("O_rel_fro_vs_standard"));
  // Only the backward baseline among the methods: auto is always for every point.
  auto bwd = run_config("vs_bwd", shape + "methods: [flash, standard_bwd]\n");
  EXPECT_TRUE(bwd[0].attributes.count("O_rel_fro_vs_standard"));
}

TEST(StandardBaseline, BadValuesAreConfigErrors) {
  for (auto [body, needle] :
       {std::pair<std::string, std::string>{"vs_standard: maybe\nmethods: [flash]\n", "vs_standard"},
        {"methods: [{name: standard, kernel: tiled}]\n", "kernel"},
        {"methods: [{name: standard_bwd, kernel: blas}]\n", "kernel"}}) {
    fs::path cfg = write_config("bad", "shape: {B: 1, H: 1, N: 8, D: 8}\n" + body), log = work_dir() / "bad.log";
    EXPECT_EQ(run({cfg.string(), "--dry-run"}, log), 2) << body;
    std::string const text = slurp(log);
    EXPECT_NE(text.find("bad.yaml:"), std::string::npos) << text;  // file:line
    EXPECT_NE(text.find(needle), std::string::npos) << text;
  }
}

}  // namespace
