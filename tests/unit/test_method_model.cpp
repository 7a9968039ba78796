// SPDX-License-Identifier: MIT
// The typed method model: options declared once (core/options.hpp) drive the schema, the typed
// struct and the attributes; kernel selection (attention/kernel_select.hpp) names what runs and
// refuses what cannot; the JSON of --list and --dry-run is what the run sees; every point
// records the kernel that ran.
#include "app/experiments.hpp"
#include "app/machine_output.hpp"
#include "attention/flash_backward.hpp"
#include "attention/kernel_select.hpp"
#include "attention/methods/method_options.hpp"
#include "core/config.hpp"
#include "core/options.hpp"
#include "driver_helpers.hpp"
#include "linsolve/methods/gauss_elim.hpp"
#include "linsolve/methods/gauss_seidel.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace na = numlab::attention;
namespace nl = numlab::linsolve;
using namespace numlab_test;

namespace {

ParamSpec const& spec(Schema const& s, std::string const& key) {
  auto const* p = s.find(key);
  if (!p) throw std::runtime_error("no key " + key);
  return *p;
}

}  // namespace

TEST(Options, SchemaComesFromTheStructDefaultsAndRanges) {
  Schema const s = schema_of<nl::GaussSeidelMethodOptions>();
  ASSERT_EQ(s.params.size(), 11u);
  EXPECT_EQ(std::get<std::string>(*spec(s, "variant").default_value), "sequential");
  EXPECT_EQ(spec(s, "kernel").choices,
            (std::vector<std::string>{"auto", "one_thread", "level_launch", "level_team"}));  // variant sequential's
  EXPECT_EQ(spec(s, "variant").type, ParamType::choice);
  EXPECT_EQ(spec(s, "variant").choices, (std::vector<std::string>{"sequential", "multicolor", "kokkos_kernels"}));
  EXPECT_EQ(spec(s, "variant").choice_docs.size(), 3u);
  EXPECT_EQ(std::get<double>(*spec(s, "omega").default_value), 1.0);
  EXPECT_EQ(spec(s, "omega").expected(), "a number in (0, 2)");
  EXPECT_EQ(std::get<std::int64_t>(*spec(s, "max_iter").default_value), 1000);
  EXPECT_EQ(std::get<bool>(*spec(s, "spectral_radius").default_value), true);
  // Changing the struct's default changes the schema: nothing else holds it.
  EXPECT_EQ(std::get<double>(*spec(s, "tol").default_value), nl::GaussSeidelOptions{}.tol);
  // Integer fields cannot be asked for more than they hold.
  Schema const g = schema_of<nl::GaussElimOptions>();
  EXPECT_EQ(spec(g, "block_size").max, double(1 << 20));
  EXPECT_EQ(std::get<std::string>(*spec(g, "panel_kernel").default_value), "auto");
  EXPECT_NE(g.find("max_dense_gib"), nullptr);  // from DenseOptions
}

TEST(Options, ParamsRoundTripThroughTheStruct) {
  nl::GaussSeidelMethodOptions o;
  o.variant = nl::GsVariant::multicolor;
  o.direction = nl::SweepDirection::symmetric;
  o.omega = 1.25;
  o.max_iter = 77;
  o.spectral_radius = false;
  ParamMap m = to_params(o);
  EXPECT_EQ(std::get<std::string>(m.at("variant")), "multicolor");
  EXPECT_EQ(std::get<std::string>(m.at("direction")), "symmetric");
  EXPECT_EQ(std::get<std::int64_t>(m.at("max_iter")), 77);
  auto back = options_from<nl::GaussSeidelMethodOptions>(m);
  EXPECT_EQ(back.variant, nl::GsVariant::multicolor);
  EXPECT_EQ(back.direction, nl::SweepDirection::symmetric);
  EXPECT_EQ(back.omega, 1.25);
  EXPECT_EQ(back.max_iter, 77);
  EXPECT_FALSE(back.spectral_radius);
  EXPECT_EQ(to_params(back), m);
}

TEST(Options, AnUnknownChoiceIsALogicErrorNotADefault) {
  ParamMap m = to_params(na::FlashBwdOptions{});
  m["dq"] = std::string("sideways");
  EXPECT_THROW(options_from<na::FlashBwdOptions>(m), std::logic_error);
  m = to_params(na::FlashBwdOptions{});
  m.erase("kernel");
  EXPECT_THROW(options_from<na::FlashBwdOptions>(m), std::exception);
}

TEST(Options, ConfigValidationUsesTheSameTable) {
  // A choice outside the enum's names is a config error with the names and a hint.
  try {
    parse_config("name: t\nkind: attention\nshape: {N: 8, D: 8}\nmethods: [{name: flash, kernel: registr_tiled}]\n",
                 "t.yaml", builtin_experiments());
    FAIL() << "accepted an unknown kernel";
  } catch (ConfigError const& e) {
    EXPECT_EQ(e.key, "methods[0].kernel");
    EXPECT_EQ(e.line, 4);
    std::string w = e.what();
    EXPECT_NE(w.find("one of auto, team_scratch, register_tiled, wgmma_sm90, mma_sm80"), std::string::npos) << w;
    EXPECT_NE(w.find("did you mean 'register_tiled'"), std::string::npos) << w;
  }
}

TEST(KernelSelect, HostForwardIsTeamScratchAndRefusesTheGpuKernels) {
  using Exec = Kokkos::DefaultHostExecutionSpace;
  na::AttentionShape s;
  s.N = s.N_kv = 100;
  s.D = 64;
  na::TileSizes const own = na::default_forward_tiles<Exec, float>(64, na::FlashFwdTag{}, /*team_scratch=*/true);
  auto sel = na::select_flash_forward<Exec, float>(s, na::FlashFwdKernel::automatic, {0, 0});
  EXPECT_EQ(sel.kernel, na::FlashFwdKernel::team_scratch);
  EXPECT_EQ(sel.tiles.tile_q, own.tile_q);  // the host heuristic (tile_size.hpp)
  EXPECT_EQ(sel.tiles.tile_k, own.tile_k);
  EXPECT_FALSE(sel.variant.empty());
  sel = na::select_flash_forward<Exec, float>(s, na::FlashFwdKernel::automatic, {32, 16});
  EXPECT_EQ(sel.tiles.tile_q, 32);
  EXPECT_EQ(sel.tiles.tile_k, 16);
  // One tile given: the other is the kernel's own.
  sel = na::select_flash_forward<Exec, float>(s, na::FlashFwdKernel::automatic, {32, 0});
  EXPECT_EQ(sel.tiles.tile_q, 32);
  EXPECT_EQ(sel.tiles.tile_k, own.tile_k);
  try {
    na::select_flash_forward<Exec, float>(s, na::FlashFwdKernel::register_tiled, {0, 0});
    FAIL();
  } catch (std::invalid_argument const& e) {
    EXPECT_NE(std::string(e.what()).find("GPU backend"), std::string::npos) << e.what();
  }
  try {
    na::select_flash_forward<Exec, float>(s, na::FlashFwdKernel::wgmma_sm90, {0, 0});
    FAIL();
  } catch (std::invalid_argument const& e) {
    EXPECT_NE(std::string(e.what()).find("cuda_native"), std::string::npos) << e.what();
  }
  EXPECT_THROW((na::select_flash_forward<Exec, float>(s, na::FlashFwdKernel::automatic, {-1, 64})),
               std::invalid_argument);
}

TEST(KernelSelect, BackwardDefaultsAndConstraints) {
  using Exec = Kokkos::DefaultHostExecutionSpace;
  na::AttentionShape s;
  s.N = s.N_kv = 100;
  s.D = 64;
  auto sel = na::select_flash_backward<Exec, float>(s, na::FlashBwdKernel::automatic, {0, 0});
  EXPECT_EQ(sel.kernel, na::FlashBwdKernel::team_scratch);
  EXPECT_EQ(sel.tiles.tile_q, na::kDefaultBackwardTiles.tile_q);
  EXPECT_EQ(sel.tiles.tile_k, na::kDefaultBackwardTiles.tile_k);
  EXPECT_THROW((na::select_flash_backward<Exec, float>(s, na::FlashBwdKernel::register_tiled, {0, 0})),
               std::invalid_argument);
  EXPECT_THROW((na::select_flash_backward<Exec, float>(s, na::FlashBwdKernel::mma_sm80, {0, 0})),
               std::invalid_argument);
  // The constraints, each branch.
  EXPECT_NE((na::register_tiled_backward_constraint<Exec, double>(64, {0, 0})).find("GPU"), std::string::npos);
  EXPECT_NE((na::kernel_backend_constraint(na::FlashBwdKernel::team_scratch, true)).find("mma_sm80"), std::string::npos);
  EXPECT_TRUE(na::kernel_backend_constraint(na::FlashBwdKernel::automatic, true).empty());
  EXPECT_TRUE(na::kernel_backend_constraint(na::FlashFwdKernel::register_tiled, false).empty());
}

// The GPU branch of the selection, where the default space is a GPU (a CUDA build): auto takes
// the register-tiled kernels at their own tiles for fp32 at D 64 / 128, team_scratch elsewhere.
TEST(KernelSelect, GpuAutoTakesTheRegisterTiledKernels) {
  using Exec = Kokkos::DefaultExecutionSpace;
  if constexpr (na::detail::is_host_exec_v<Exec>) {
    GTEST_SKIP() << "the default execution space is a host space";
  } else {
    na::AttentionShape s;
    s.N = s.N_kv = 256;
    for (int D : {64, 128}) {
      s.D = D;
      auto f = na::select_flash_forward<Exec, float>(s, na::FlashFwdKernel::automatic, {0, 0});
      EXPECT_EQ(f.kernel, na::FlashFwdKernel::register_tiled) << D;
      EXPECT_EQ(f.tiles.tile_q, na::detail::FlashFwdGpuGeometry::Br);
      auto b = na::select_flash_backward<Exec, float>(s, na::FlashBwdKernel::automatic, {0, 0});
      EXPECT_EQ(b.kernel, na::FlashBwdKernel::register_tiled) << D;
      EXPECT_EQ(b.tiles.tile_q, na::flash_bwd_gpu_tiles(D).tile_q);
      EXPECT_EQ(b.tiles.tile_k, na::flash_bwd_gpu_tiles(D).tile_k);
      EXPECT_GT(b.dq_tiles.tile_q, 0);
      // Other tiles, fp64 or another head dim: team_scratch; forced register_tiled refuses them.
      EXPECT_EQ((na::select_flash_forward<Exec, float>(s, na::FlashFwdKernel::automatic, {32, 32})).kernel,
                na::FlashFwdKernel::team_scratch);
      EXPECT_EQ((na::select_flash_backward<Exec, double>(s, na::FlashBwdKernel::automatic, {0, 0})).kernel,
                na::FlashBwdKernel::team_scratch);
      EXPECT_THROW((na::select_flash_forward<Exec, float>(s, na::FlashFwdKernel::register_tiled, {32, 32})),
                   std::invalid_argument);
    }
    s.D = 32;
    EXPECT_EQ((na::select_flash_forward<Exec, float>(s, na::FlashFwdKernel::automatic, {0, 0})).kernel,
              na::FlashFwdKernel::team_scratch);
  }
}

TEST(MachineOutput, ListJsonHasEveryKindMethodOptionAndKernel) {
  auto j = list_json(builtin_experiments());
  ASSERT_EQ(j["kinds"].size(), builtin_experiments().size());
  bool saw_flash = false;
  for (auto const& k : j["kinds"]) {
    auto const* e = find_experiment(builtin_experiments(), k["kind"].get<std::string>());
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(k["methods"].size(), e->methods().size());
    EXPECT_EQ(k["problem"].size(), e->problem_schema().params.size());
    for (auto const& m : k["methods"]) {
      auto const* def = e->find_method(m["name"].get<std::string>());
      ASSERT_NE(def, nullptr);
      ASSERT_EQ(m["options"].size(), def->options.params.size());
      for (std::size_t i = 0; i < def->options.params.size(); ++i)
        EXPECT_EQ(m["options"][i]["key"].get<std::string>(), def->options.params[i].key);
      if (m["name"] == "flash" && k["kind"] == "attention") {
        saw_flash = true;
        // Every value of the kernel enum but auto, with its backends and doc split from the names' doc.
        std::size_t i = 0;
        for (auto const& n : EnumNames<na::FlashFwdKernel>::values) {
          if (n.value == na::FlashFwdKernel::automatic) continue;
          ASSERT_LT(i, m["kernels"].size());
          EXPECT_EQ(m["kernels"][i]["name"], n.name);
          std::string const doc = n.doc;
          EXPECT_EQ(m["kernels"][i]["backends"].get<std::string>() + ": " + m["kernels"][i]["doc"].get<std::string>(), doc);
          ++i;
        }
        EXPECT_EQ(m["kernels"].size(), i);
      }
    }
  }
  EXPECT_TRUE(saw_flash);
  EXPECT_NE(j["settings"].size(), 0u);
}

// The JSON against what a real run writes: every point's key and parameter attributes, and the
// derived values.
TEST(MachineOutput, DryRunJsonIsWhatTheRunSees) {
  auto dir = work_dir();
  fs::path cfg = dir / "dry_vs_run.yaml";
  std::ofstream(cfg) << "name: dry_vs_run\nkind: linsolve\nwarmup: 0\nrepetitions: 1\n"
                        "sweep: {product: {N: [10, 20]}}\nmatrix: {dominance: weak}\n"
                        "methods: [gauss_elim, {name: gauss_seidel, omega: 1.5}]\n";
  ASSERT_EQ(run({cfg.string(), "--dry-run", "--format", "json"}, dir / "dry_vs_run.json"), 0);
  auto j = nlohmann::json::parse(slurp(dir / "dry_vs_run.json"));
  fs::path out = dir / "dry_vs_run.h5";
  ASSERT_EQ(run({cfg.string(), "-o", out.string(), "--overwrite", "-q"}, dir / "dry_vs_run.log"), 0)
      << slurp(dir / "dry_vs_run.log");
  auto pts = results::read_points(out.string());
  ASSERT_EQ(j["points"].size(), 4u);
  ASSERT_EQ(pts.size(), 4u);
  EXPECT_EQ(j["total_points"], 4);
  for (auto const& p : pts) {
    auto const& a = p.attributes;
    auto const idx = std::size_t(std::get<std::int64_t>(a.at("point_index")));
    auto const& jp = j["points"][idx];
    EXPECT_EQ(jp["index"].get<std::size_t>(), idx);
    EXPECT_EQ(jp["point_key"].get<std::string>(), std::get<std::string>(a.at("point_key")));
    for (auto const& [k, v] : jp["attributes"].items()) {
      ASSERT_TRUE(a.count(k)) << k;
      if (v.is_string()) EXPECT_EQ(v.get<std::string>(), std::get<std::string>(a.at(k))) << k;
      else if (v.is_boolean()) EXPECT_EQ(v.get<bool>(), std::get<bool>(a.at(k))) << k;
      else EXPECT_DOUBLE_EQ(v.get<double>(), get_real(a, k)) << k;
    }
    EXPECT_DOUBLE_EQ(jp["derived"]["dominance_factor_effective"].get<double>(), 1.0);  // weak
    EXPECT_DOUBLE_EQ(get_real(a, "dominance_factor_effective"), 1.0);
  }
  EXPECT_DOUBLE_EQ(j["points"][1]["options"]["omega"].get<double>(), 1.5);
}

TEST(MethodModel, EveryPointRecordsTheKernelThatRan) {
  auto dir = work_dir();
  fs::path cfg = dir / "kernels.yaml";
  std::ofstream(cfg) << "name: kernels\nkind: attention\nwarmup: 0\nrepetitions: 1\n"
                        "shape: {B: 1, H: 1, N: 40, D: 16}\n"
                        "methods: [{name: standard, kernel: team_scratch}, tiled, flash, {name: flash, tile_q: 16, tile_k: 8}, tiled_bwd, "
                        "{name: flash_bwd, kernel: team_scratch}]\n";
  fs::path out = dir / "kernels.h5";
  ASSERT_EQ(run({cfg.string(), "-o", out.string(), "--overwrite", "-q"}, dir / "kernels.log"), 0)
      << slurp(dir / "kernels.log");
  auto pts = results::read_points(out.string());
  ASSERT_EQ(pts.size(), 6u);
  for (auto const& p : pts) {
    auto const& a = p.attributes;
    SCOPED_TRACE(to_string(a.at("method")));
    EXPECT_EQ(std::get<std::string>(a.at("kernel_run")), "team_scratch");
    EXPECT_FALSE(std::get<std::string>(a.at("kernel_variant")).empty());
    EXPECT_GT(std::get<std::int64_t>(a.at("tile_q_run")), 0);
  }
  // The tiles given are the tiles run; 0 x 0 (the default) runs the backend's own (host: 128 x 128).
  na::TileSizes const own =
      na::default_forward_tiles<Kokkos::DefaultExecutionSpace, float>(16, na::FlashFwdTag{}, /*team_scratch=*/true);
  EXPECT_EQ(std::get<std::int64_t>(pts[2].attributes.at("tile_q_run")), own.tile_q);
  EXPECT_EQ(std::get<std::int64_t>(pts[2].attributes.at("tile_k_run")), own.tile_k);
  EXPECT_EQ(std::get<std::int64_t>(pts[3].attributes.at("tile_q_run")), 16);
  EXPECT_EQ(std::get<std::int64_t>(pts[3].attributes.at("tile_k_run")), 8);
  EXPECT_EQ(std::get<std::int64_t>(pts[4].attributes.at("tile_q_run")), na::kDefaultBackwardTiles.tile_q);
}

TEST(MethodModel, DryRunJsonFromTheBinaryParses) {
  auto dir = work_dir();
  ASSERT_EQ(run({"configs/smoke.yaml", "--dry-run", "--format", "json"}, dir / "dry.json"), 0)
      << slurp(dir / "dry.json");
  auto j = nlohmann::json::parse(slurp(dir / "dry.json"));
  auto cfg = load_config(std::string(NUMLAB_SOURCE_DIR) + "/configs/smoke.yaml", builtin_experiments());
  EXPECT_EQ(j["points"].size(), cfg.points.size());
  ASSERT_EQ(run({"--list", "--format", "json"}, dir / "list.json"), 0);
  auto l = nlohmann::json::parse(slurp(dir / "list.json"));
  EXPECT_EQ(l["kinds"].size(), builtin_experiments().size());
  // --format json without --list / --dry-run is a usage error.
  EXPECT_EQ(run({"configs/smoke.yaml", "--format", "json"}, dir / "bad.log"), 2);
}
