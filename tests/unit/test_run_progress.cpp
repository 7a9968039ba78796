// SPDX-License-Identifier: MIT
// The run's own output (issue 15): the ETA weighs points by their estimated cost (FLOPs, nnz x
// sweeps), and the summary table fits 100 columns in human units, non-ASCII names included.
#include "app/summary_table.hpp"
#include "core/cost_eta.hpp"
#include "linsolve/point_cost.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

namespace {

using namespace numlab;

// Points whose time is 0.01 s + 1e-9 s/FLOP: once a costly point has run the ETA of the rest is
// within 2% of the truth, where counting points is off by 100x.
TEST(CostEta, WeighsThePointsLeftByTheirCost) {
  std::vector<double> costs = {1e6, 1e8, 1e9, 1e10, 1e10};
  auto time_of = [](double c) { return 0.01 + 1e-9 * c; };
  CostWeightedEta eta(costs, 1e-10);  // a prior 10x too fast
  EXPECT_LT(eta.remaining_seconds(), 0);  // nothing known yet
  eta.finished(0, time_of(costs[0]));
  eta.finished(1, time_of(costs[1]));
  double const truth = time_of(1e9) + 2 * time_of(1e10);  // 21.03 s
  double const by_count = (time_of(costs[0]) + time_of(costs[1])) / 2 * 3;  // 0.18 s
  EXPECT_GT(truth / by_count, 100);
  EXPECT_GT(eta.remaining_seconds(), 0.4 * truth);  // the prior still weighs as much as the 1e8 point
  EXPECT_LT(eta.remaining_seconds(), truth);
  eta.finished(2, time_of(costs[2]));
  EXPECT_NEAR(eta.remaining_seconds(), 2 * time_of(1e10), 0.02 * 2 * time_of(1e10));
  EXPECT_NEAR(eta.overhead_seconds(), time_of(1e6), 1e-12);
  EXPECT_NEAR(eta.seconds_per_cost(), 1e-9, 0.02e-9);
}

// The lab's linear-systems sweep as it ran on the 2-core host: N = 100 points whose times are
// overhead (a Gauss-Seidel at 1e4 FLOPs slower than GE at 7e5), then GE at N = 2000 (5.3e9
// FLOPs, 1.5 s). The small points keep the rate at the prior (no ETA of hours, none of 0:00).
TEST(CostEta, OverheadBoundPointsKeepThePriorRate) {
  double const prior = 1e-9 / 2;  // 2 threads
  CostWeightedEta eta({6.7e5, 1.4e4, 1.4e4, 1.4e4, 6.7e5, 5.3e9}, prior);
  for (auto [k, t] : {std::pair<std::size_t, double>{0, 0.0554}, {1, 0.0185}, {2, 0.062}, {3, 0.108}, {4, 0.0526}})
    eta.finished(k, t);
  EXPECT_NEAR(eta.seconds_per_cost(), prior, 0.2 * prior);  // 5.4e-10
  double const left = eta.remaining_seconds();  // 0.0185 + 5.3e9 x 5e-10 = 2.67 s
  EXPECT_GT(left, 1.0);
  EXPECT_LT(left, 10.0);
}

TEST(CostEta, UnknownCostsCountAsTheAverage) {
  CostWeightedEta eta({2.0, 0.0, 4.0}, 0.0);  // the unknown middle one counts as 3
  eta.finished(0, 1.0);
  eta.finished(2, 3.0);  // a = 1, b = (2 x 0 + 4 x 2) / (4 + 16) = 0.4
  EXPECT_NEAR(eta.remaining_seconds(), 1.0 + 3 * 0.4, 1e-12);
}

PointSpec linsolve_point(std::string method, ParamMap problem, ParamMap options = {}) {
  PointSpec p;
  p.method = std::move(method);
  p.problem = std::move(problem);
  p.options = std::move(options);
  return p;
}

TEST(PointCost, DenseIsTwoThirdsNCubedAndGaussSeidelNnzTimesSweeps) {
  ParamMap prob = {{"generator", std::string("random_sparse")}, {"N", std::int64_t(2000)}, {"density", 0.01}};
  EXPECT_DOUBLE_EQ(linsolve::estimated_point_cost(linsolve_point("gauss_elim", prob), 2.0), 2.0 / 3.0 * 8e9);
  // factor 2: the residual halves per sweep at worst -> ceil(log(1e-10) / log(0.5)) = 34 sweeps.
  ParamMap gs = {{"tol", 1e-10}, {"max_iter", std::int64_t(2000)}, {"spectral_radius", false}};
  double const nnz = 2000 + 0.01 * 2000 * 2000;
  EXPECT_DOUBLE_EQ(linsolve::estimated_point_cost(linsolve_point("gauss_seidel", prob, gs), 2.0), 2 * nnz * 34);
  // Not dominant: the iteration limit.
  EXPECT_DOUBLE_EQ(linsolve::estimated_point_cost(linsolve_point("gauss_seidel", prob, gs), 0.5), 2 * nnz * 2000);
  // Poisson on a 100 x 100 grid: rho = cos^2(pi / 101), ln(1e-6) / ln(rho) = 14278 sweeps.
  ParamMap poisson = {{"generator", std::string("poisson2d")}, {"N", std::int64_t(10000)}};
  double const sweeps = linsolve::estimated_gs_sweeps(poisson, 0, 1e-6, 1e5);
  EXPECT_NEAR(sweeps, std::ceil(std::log(1e-6) / std::log(std::pow(std::cos(M_PI / 101), 2))), 0.5);
  EXPECT_NEAR(sweeps, 14278, 1);
  // GE at N = 2000 against the dominant GS at N = 2000: the ETA must not count them alike.
  EXPECT_GT(linsolve::estimated_point_cost(linsolve_point("gauss_elim", prob), 2.0) /
                linsolve::estimated_point_cost(linsolve_point("gauss_seidel", prob, gs), 2.0),
            1000);
}

TEST(SummaryTable, HumanUnits) {
  EXPECT_EQ(human_metric("forward_seconds_median", 0.00123), "1.23 ms");
  EXPECT_EQ(human_metric("solve_seconds_median", 4.56e-5), "45.6 us");
  EXPECT_EQ(human_metric("wall_seconds", 12.5), "12.5 s");
  EXPECT_EQ(human_metric("peak_device_bytes", std::int64_t(12) << 20), "12 MiB");
  EXPECT_EQ(human_metric("peak_device_bytes", 1.5 * (1 << 30)), "1.5 GiB");
  EXPECT_EQ(human_metric("peak_device_bytes", std::int64_t(512)), "512 B");
  EXPECT_EQ(human_metric("rel_error", 1.234e-7), "1.2e-07");
  EXPECT_EQ(human_metric("iterations", std::int64_t(34)), "34");
  EXPECT_EQ(short_metric_header("forward_seconds_median"), "fwd");
  EXPECT_EQ(short_metric_header("peak_device_bytes"), "peak mem");
  EXPECT_EQ(short_metric_header("dQ_rel_fro_error"), "dQ err");
}

StoredPoint attention_point(int index, std::string method, double fwd, double bwd) {
  StoredPoint p;
  p.attributes = {{"point_index", std::int64_t(index)},
                  {"N", std::int64_t(16384)},
                  {"tile_q", std::int64_t(128)},
                  {"tile_k", std::int64_t(256)},
                  {"method", method},
                  {"status", std::string("ok")},
                  {"forward_seconds_median", fwd},
                  {"peak_device_bytes", std::int64_t(3) << 30},
                  {"O_rel_fro_error", 3.2e-7},
                  {"forward_tflops", 12.3}};
  if (bwd > 0) {
    p.attributes["backward_seconds_median"] = bwd;
    p.attributes["dQ_rel_fro_error"] = 1.1e-6;
    p.attributes["backward_tflops"] = 8.25;
  }
  return p;
}

std::vector<std::string> lines_of(std::string const& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The attention sweep's columns at the lab's widest values: 111 columns before, now <= 100, with
// the TF/s columns left out and named.
TEST(SummaryTable, FitsOneHundredColumnsAndSaysWhatItLeftOut) {
  std::vector<StoredPoint> pts = {attention_point(0, "standard", 0.123, 0),
                                  attention_point(107, "flash_bwd", 2.5e-4, 1.75)};
  std::vector<std::string> metrics = {"forward_seconds_median", "backward_seconds_median", "peak_device_bytes",
                                      "O_rel_fro_error",        "dQ_rel_fro_error",        "forward_tflops",
                                      "backward_tflops"};
  std::string const t = format_summary(pts, {"N", "tile_k", "tile_q"}, {}, metrics);
  auto const lines = lines_of(t);
  ASSERT_GE(lines.size(), 4u);
  for (auto const& l : lines) EXPECT_LE(display_width(l), 100u) << l;
  EXPECT_NE(lines[0].find("peak mem"), std::string::npos) << t;
  EXPECT_NE(lines[0].find("dQ err"), std::string::npos) << t;
  EXPECT_NE(lines[2].find("123 ms"), std::string::npos) << t;
  EXPECT_NE(lines[3].find("250 us"), std::string::npos) << t;
  EXPECT_NE(lines[3].find("1.75 s"), std::string::npos) << t;
  EXPECT_NE(lines[3].find("3 GiB"), std::string::npos) << t;
  EXPECT_NE(lines.back().find("left out to fit 100 columns"), std::string::npos) << t;
  EXPECT_NE(lines.back().find("TF/s"), std::string::npos) << t;
  // With room, nothing is left out.
  std::string const wide = format_summary(pts, {"N", "tile_k", "tile_q"}, {}, metrics, 200);
  EXPECT_EQ(wide.find("left out"), std::string::npos) << wide;
  EXPECT_NE(wide.find("12.3"), std::string::npos) << wide;
}

TEST(SummaryTable, NonAsciiNamesAlignByDisplayWidth) {
  StoredPoint a = attention_point(0, "standard", 0.001, 0), b = attention_point(1, "flash_ümlaut_注意", 0.002, 0);
  std::string const t = format_summary({a, b}, {"N"}, {}, {"forward_seconds_median"});
  auto const lines = lines_of(t);
  ASSERT_EQ(lines.size(), 4u) << t;
  EXPECT_NE(t.find("flash_ümlaut_注意"), std::string::npos);
  // The time column ends at the same display column on both rows.
  EXPECT_EQ(display_width(lines[2]), display_width(lines[3])) << t;
  EXPECT_EQ(display_width("注意ü"), 5u);  // CJK: two columns each
}

}  // namespace
