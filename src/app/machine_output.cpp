// SPDX-License-Identifier: MIT
#include "app/machine_output.hpp"

#include "core/blas_info.hpp"
#include "core/host_threads.hpp"
#include "core/param_json.hpp"
#include "numlab_config.hpp"

#include <Kokkos_Core.hpp>
#include <fmt/format.h>

#include <cmath>

namespace numlab {

namespace {

using nlohmann::json;

char const* type_name(ParamType t) {
  switch (t) {
    case ParamType::integer: return "integer";
    case ParamType::real: return "real";
    case ParamType::boolean: return "boolean";
    case ParamType::string: return "string";
    case ParamType::choice: return "choice";
  }
  return "?";
}

json spec_json(ParamSpec const& p) {
  json j;
  j["key"] = p.key;
  j["type"] = type_name(p.type);
  j["doc"] = p.doc;
  j["expected"] = p.expected();
  j["section"] = p.section;
  j["default"] = p.default_value ? to_json(*p.default_value) : json(nullptr);
  j["required"] = !p.default_value && !p.optional;
  if (p.type == ParamType::integer || p.type == ParamType::real) {
    j["min"] = std::isfinite(p.min) ? json(p.min) : json(nullptr);
    j["max"] = std::isfinite(p.max) ? json(p.max) : json(nullptr);
    j["min_exclusive"] = p.min_exclusive;
    j["max_exclusive"] = p.max_exclusive;
  }
  if (p.type == ParamType::choice) {
    json c = json::array();
    for (std::size_t i = 0; i < p.choices.size(); ++i)
      c.push_back({{"name", p.choices[i]}, {"doc", i < p.choice_docs.size() ? p.choice_docs[i] : ""}});
    j["choices"] = c;
  }
  return j;
}

json schema_json(Schema const& s) {
  json a = json::array();
  for (auto const& p : s.params) a.push_back(spec_json(p));
  return a;
}

}  // namespace

json list_json(ExperimentList const& kinds) {
  json j;
  j["numlab_version"] = NUMLAB_VERSION;
  j["kokkos_version"] =
      fmt::format("{}.{}.{}", KOKKOS_VERSION / 10000, KOKKOS_VERSION / 100 % 100, KOKKOS_VERSION % 100);
  j["kokkos_default_execution_space"] = Kokkos::DefaultExecutionSpace::name();
  HostThreads const t = host_threads();
  j["kokkos_backends_enabled"] = t.backends;
  j["host_threads"] = {{"execution_space", t.host_space}, {"threads", t.threads}, {"cpus_available", t.cpus_available},
                       {"omp_proc_bind", t.proc_bind}, {"omp_places", t.places}, {"gomp_spincount", t.spin_count}, {"numlab_defaults", t.defaults_applied},
                       {"description", describe(t)}};
  BlasInfo const blas = blas_info();
  j["blas"] = {{"library", blas.library}, {"threading", blas.threading}, {"threads", blas.threads}};
  j["settings"] = schema_json(settings_schema());
  json ks = json::array();
  for (auto const* e : kinds) {
    json k;
    k["kind"] = e->kind();
    k["doc"] = e->doc();
    k["backends"] = e->backends();
    k["problem"] = schema_json(e->problem_schema());
    json ms = json::array();
    for (auto const& m : e->methods()) {
      json mj;
      mj["name"] = m.name;
      mj["doc"] = m.doc;
      mj["options"] = schema_json(m.options);
      json kj = json::array();
      for (auto const& kd : m.kernels) kj.push_back({{"name", kd.name}, {"backends", kd.backends}, {"doc", kd.doc}});
      mj["kernels"] = kj;
      ms.push_back(mj);
    }
    k["methods"] = ms;
    ks.push_back(k);
  }
  j["kinds"] = ks;
  return j;
}

json dry_run_json(RunConfig const& cfg, std::vector<PointSpec const*> const& points, std::string const& output,
                  int shard_index, int shard_count) {
  json j;
  j["config"] = cfg.path;
  j["kind"] = cfg.kind;
  j["name"] = cfg.name;
  j["output"] = output;
  j["backend"] = cfg.settings.backend;
  j["warmup"] = cfg.settings.warmup;
  j["repetitions"] = cfg.settings.repetitions;
  j["save_outputs"] = cfg.settings.save_outputs;
  j["sweep_axes"] = cfg.sweep_axes;
  j["total_points"] = cfg.points.size();
  j["shard"] = {{"index", shard_index}, {"count", shard_count}};
  j["notes"] = cfg.notes;
  json ps = json::array();
  for (auto const* p : points) {
    json pj;
    pj["index"] = p->index;
    pj["method"] = p->method;
    pj["problem"] = to_json(p->problem);
    pj["options"] = to_json(p->options);
    pj["derived"] = to_json(cfg.experiment->derived(*p));
    pj["attributes"] = to_json(p->attributes());
    pj["point_key"] = p->key();
    ps.push_back(pj);
  }
  j["points"] = ps;
  return j;
}

}  // namespace numlab
