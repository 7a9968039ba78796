// SPDX-License-Identifier: MIT
// Config parsing: the canonical forms expand as documented; every class of
// mistake gives an error naming the file, line, column and key.
#include "app/experiments.hpp"
#include "core/config.hpp"

#include <gtest/gtest.h>

#include <string>

using numlab::ConfigError;
// The config parser against this build's experiment kinds.
numlab::RunConfig parse_config(std::string const& text, std::string const& path) {
  return numlab::parse_config(text, path, numlab::builtin_experiments());
}

namespace {

const char* kSpecExample = R"(name: linsolve_sweep
kind: linsolve                      # linsolve | attention
output: results/linsolve_sweep.h5
warmup: 1
repetitions: 5
sweep:                              # optional; product: cartesian; zip: equal-length lists
  product: {N: [100, 500, 2000], density: [0.01, 0.05, 0.1]}
matrix: {generator: random_sparse, dominance: strict, seed: 42}
methods:
  - gauss_elim
  - {name: gauss_seidel, variant: sequential, tol: 1.0e-10, max_iter: 2000}
  - {name: gauss_seidel, variant: multicolor}
  - reference
save_outputs: false
)";

// Replaces `from` by `to` once in the SPEC example, to make one mistake.
std::string with(std::string const& from, std::string const& to) {
  std::string s = kSpecExample;
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return s.replace(pos, from.size(), to);
}

ConfigError error_of(std::string const& text) {
  try {
    parse_config(text, "cfg.yaml");
  } catch (ConfigError const& e) {
    return e;
  }
  ADD_FAILURE() << "no ConfigError for:\n" << text;
  return ConfigError("", 0, 0, "", "");
}

}  // namespace

TEST(Config, SpecExampleExpandsToEveryPoint) {
  auto cfg = parse_config(kSpecExample, "cfg.yaml");
  EXPECT_EQ(cfg.name, "linsolve_sweep");
  EXPECT_EQ(cfg.kind, "linsolve");
  EXPECT_EQ(cfg.settings.warmup, 1);
  EXPECT_EQ(cfg.settings.repetitions, 5);
  ASSERT_EQ(cfg.points.size(), 9u * 4u);
  // First axis outermost, methods innermost; indices are positions.
  EXPECT_EQ(std::get<std::int64_t>(cfg.points[0].problem.at("N")), 100);
  EXPECT_DOUBLE_EQ(std::get<double>(cfg.points[4].problem.at("density")), 0.05);
  EXPECT_EQ(cfg.points[1].method, "gauss_seidel");
  EXPECT_EQ(std::get<std::string>(cfg.points[1].options.at("variant")), "sequential");
  EXPECT_EQ(std::get<std::int64_t>(cfg.points[1].options.at("max_iter")), 2000);
  // Defaults are filled in so every stored point is complete.
  EXPECT_EQ(std::get<std::int64_t>(cfg.points[2].options.at("max_iter")), 1000);
  EXPECT_EQ(std::get<std::string>(cfg.points[0].problem.at("dominance")), "strict");
  for (std::size_t i = 0; i < cfg.points.size(); ++i) EXPECT_EQ(cfg.points[i].index, i);
  EXPECT_EQ(cfg.sweep_axes, (std::vector<std::string>{"N", "density"}));
}

TEST(Config, ZipAndProductCombine) {
  auto cfg = parse_config(with("product: {N: [100, 500, 2000], density: [0.01, 0.05, 0.1]}",
                               "product: {dominance_factor: [2.0, 1.0]}\n  zip: {N: [10, 20, 30], density: [0.5, 0.4, 0.3]}"),
                          "cfg.yaml");
  ASSERT_EQ(cfg.points.size(), 2u * 3u * 4u);
  EXPECT_EQ(std::get<std::int64_t>(cfg.points[4].problem.at("N")), 20);
  EXPECT_DOUBLE_EQ(std::get<double>(cfg.points[4].problem.at("density")), 0.4);
}

TEST(Config, MethodOptionAxisDoesNotRepeatOtherMethods) {
  auto cfg = parse_config(with("product: {N: [100, 500, 2000], density: [0.01, 0.05, 0.1]}",
                               "product: {omega: [1.0, 1.5]}\n  zip: {N: [10, 20], density: [0.5, 0.4]}"),
                          "cfg.yaml");
  // per problem: gauss_elim once, two GS entries x 2 omegas, reference once
  EXPECT_EQ(cfg.points.size(), 2u * (1 + 2 * 2 + 1));
}

TEST(Config, UnknownTopLevelKeyNamesLineAndSuggests) {
  auto e = error_of(with("warmup: 1", "warmpu: 1"));
  EXPECT_EQ(e.line, 4);
  EXPECT_EQ(e.column, 1);
  EXPECT_EQ(e.key, "warmpu");
  EXPECT_NE(std::string(e.what()).find("cfg.yaml:4:1"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("did you mean 'warmup'"), std::string::npos) << e.what();
}

TEST(Config, WrongTypeSaysWhatWasExpected) {
  auto e = error_of(with("repetitions: 5", "repetitions: five"));
  EXPECT_EQ(e.line, 5);
  EXPECT_EQ(e.key, "repetitions");
  EXPECT_NE(std::string(e.what()).find("expected an integer in [1, 100000], got 'five'"), std::string::npos)
      << e.what();
  e = error_of(with("save_outputs: false", "save_outputs: maybe"));
  EXPECT_EQ(e.line, 14);
  EXPECT_NE(std::string(e.what()).find("expected true or false"), std::string::npos) << e.what();
}

TEST(Config, OutOfRangeValueInSweepAxis) {
  auto e = error_of(with("density: [0.01, 0.05, 0.1]", "density: [0.01, 1.5, 0.1]"));
  EXPECT_EQ(e.line, 7);
  EXPECT_EQ(e.key, "sweep.product.density[1]");
  EXPECT_NE(std::string(e.what()).find("expected a number in (0, 1], got '1.5'"), std::string::npos) << e.what();
}

TEST(Config, UnknownMethodAndOption) {
  auto e = error_of(with("  - reference", "  - referense"));
  EXPECT_EQ(e.line, 13);
  EXPECT_NE(std::string(e.what()).find("did you mean 'reference'"), std::string::npos) << e.what();
  e = error_of(with("variant: multicolor}", "variant: multicolor, omgea: 1.2}"));
  EXPECT_EQ(e.line, 12);
  EXPECT_EQ(e.key, "omgea");
  EXPECT_NE(std::string(e.what()).find("did you mean 'omega'"), std::string::npos) << e.what();
  e = error_of(with("variant: multicolor}", "variant: multicolour}"));
  EXPECT_NE(std::string(e.what()).find("one of sequential, multicolor, kokkos_kernels"), std::string::npos)
      << e.what();
  e = error_of(with("tol: 1.0e-10", "tol: -1"));
  EXPECT_EQ(e.key, "methods[1].tol");
}

TEST(Config, StructuralMistakes) {
  auto e = error_of(with("density: [0.01, 0.05, 0.1]}", "density: [0.01, 0.05]}\n  zip: {seed: [1, 2], omega: [1.0]}"));
  EXPECT_NE(std::string(e.what()).find("equal lengths"), std::string::npos) << e.what();
  e = error_of(with("generator: random_sparse,", "generator: random_sparse, N: 10,"));
  EXPECT_NE(std::string(e.what()).find("both as a fixed value and as a sweep axis"), std::string::npos) << e.what();
  e = error_of(with("product: {N: [100, 500, 2000], density: [0.01, 0.05, 0.1]}", "product: {density: [0.1]}"));
  EXPECT_NE(std::string(e.what()).find("needs N"), std::string::npos) << e.what();
  e = error_of(with("kind: linsolve", "kind: linsolver"));
  EXPECT_EQ(e.line, 2);
  EXPECT_NE(std::string(e.what()).find("one of linsolve"), std::string::npos) << e.what();
  e = error_of(with("methods:\n  - gauss_elim\n", "methods: []\n  - gauss_elim\n"));
  EXPECT_GT(e.line, 0);
  e = error_of(with("product: {N: [100, 500, 2000],", "product: {N: 5,"));
  EXPECT_EQ(e.line, 7);
  EXPECT_NE(std::string(e.what()).find("expected a non-empty list"), std::string::npos) << e.what();
}

TEST(Config, InvalidYamlReportsTheLine) {
  auto e = error_of(with("repetitions: 5", "repetitions: [5"));
  EXPECT_GE(e.line, 5);
  EXPECT_NE(std::string(e.what()).find("invalid YAML"), std::string::npos) << e.what();
}

TEST(Config, MatrixMarketNeedsAPath) {
  auto e = error_of(with("generator: random_sparse", "generator: matrix_market"));
  EXPECT_EQ(e.line, 8);
  EXPECT_NE(std::string(e.what()).find("needs matrix.path"), std::string::npos) << e.what();
}
