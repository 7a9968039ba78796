// SPDX-License-Identifier: MIT
// What an experiment kind (linsolve, attention, ...) provides to the driver:
// its problem keys, its methods with their options, and how to run a point.
// The driver knows nothing else about it.
#pragma once

#include "core/param.hpp"
#include "core/schema.hpp"

#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace numlab {

// Settings shared by every point of a run.
struct RunSettings {
  int warmup = 1;            // untimed runs before the timed ones; the first doubles as the check
  int repetitions = 5;       // timed runs; metrics report their median
  bool save_outputs = false; // store solution arrays (x, O, dQ, ...) in the point's group
  std::string backend = "default";
  std::string config_dir;  // relative input paths are looked up here first
};

// A named kernel of a method (the values of its `kernel` option other than auto).
struct KernelDef {
  std::string name;
  std::string backends;  // where it runs, e.g. "cuda (Kokkos), fp32, D 64/128"
  std::string doc;
};

struct MethodDef {
  std::string name;
  std::string doc;
  Schema options;                 // keys accepted in the method's entry of `methods:` (from Method::Options)
  std::vector<KernelDef> kernels;  // empty: one implementation per backend
};

// One point of a sweep: a problem instance and one method with its options.
struct PointSpec {
  std::size_t index = 0;  // position in the expanded sweep: stable across shards and resumes
  std::string method;
  ParamMap problem;  // complete (defaults filled in)
  ParamMap options;  // complete method options

  // Everything that identifies the point, as written to HDF5 attributes.
  ParamMap attributes() const;
  std::string key() const { return canonical_key(attributes()); }
};

struct PointResult {
  std::string status;  // e.g. converged, diverged, singular, solved, failed, skipped
  std::string reason;  // why, for failed / skipped / diverged
  ParamMap metrics;    // scalar metrics, named with units (solve_seconds_median, rel_error, ...)
  std::map<std::string, std::vector<double>> arrays;  // datasets (times_seconds, residual_history, x, ...)
  std::map<std::string, std::vector<std::size_t>> array_shapes;  // row-major dims of N-D arrays (default 1-D)
};

// Inputs generated once and shared by all the methods of a problem.
class ProblemInstance {
 public:
  virtual ~ProblemInstance() = default;
};

// Thrown by Experiment::validate for a bad combination; the config loader adds
// the file and line of `key`.
struct KeyError : std::runtime_error {
  std::string key;
  KeyError(std::string k, std::string const& msg) : std::runtime_error(msg), key(std::move(k)) {}
};

class Experiment {
 public:
  virtual ~Experiment() = default;
  virtual std::string kind() const = 0;
  virtual std::string doc() const = 0;
  // Problem keys; ParamSpec::section names the config section holding each.
  virtual Schema const& problem_schema() const = 0;
  virtual std::vector<MethodDef> const& methods() const = 0;
  // Values accepted by `backend:` in this build.
  virtual std::vector<std::string> backends() const = 0;
  // The backend a value of `backend:` names (an old name -> its new one, with a note for the user).
  virtual std::string resolve_backend(std::string const& name, std::vector<std::string>& /*notes*/) const {
    return name;
  }
  // Completes a problem from its inputs (e.g. the shape of an input file) before validation;
  // `given`: the keys the config gave (the others hold defaults). Throws KeyError on a conflict.
  virtual void resolve_problem(ParamMap& /*problem*/, std::set<std::string> const& /*given*/,
                               std::string const& /*config_dir*/) const {}
  // Completes a problem from the config's methods (the names in its `methods:` list), after
  // resolve_problem: a key whose `auto` depends on which methods the sweep runs.
  virtual void resolve_methods(ParamMap& /*problem*/, std::vector<std::string> const& /*methods*/) const {}
  // Cross-key checks on a complete point; throw KeyError.
  virtual void validate(PointSpec const&) const {}
  // Checks that also depend on the run's settings (e.g. a dtype only some backend
  // runs); throw KeyError.
  virtual void validate_settings(PointSpec const&, RunSettings const&) const {}
  virtual std::unique_ptr<ProblemInstance> make_problem(ParamMap const& problem, RunSettings const&) = 0;
  virtual PointResult run(ProblemInstance&, PointSpec const&, RunSettings const&) = 0;
  // Values a point's parameters imply (e.g. the effective dominance factor): shown by --dry-run
  // and written with the point's metrics.
  virtual ParamMap derived(PointSpec const&) const { return {}; }
  // Metrics shown in the end-of-run summary table, in order of importance (the table drops the
  // last ones first when it would be wider than a terminal).
  virtual std::vector<std::string> summary_metrics() const { return {}; }
  // A point's estimated cost, in FLOPs (nnz x estimated iterations for an iterative solver): the
  // progress line's ETA weighs the points by it. 0: unknown (weighed as an average point).
  virtual double estimated_cost(PointSpec const&) const { return 0; }

  MethodDef const* find_method(std::string const& name) const;
};

// The experiment kinds a front end offers (app/experiments.cpp lists those of this build).
using ExperimentList = std::vector<Experiment*>;
Experiment* find_experiment(ExperimentList const& kinds, std::string const& kind);

}  // namespace numlab
