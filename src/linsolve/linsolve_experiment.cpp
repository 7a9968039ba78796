// SPDX-License-Identifier: MIT
#include "linsolve/linsolve_experiment.hpp"

#include "core/kokkos_ext/backend.hpp"
#include "core/host_memory.hpp"
#include "core/method_list.hpp"
#include "linsolve/generators.hpp"
#include "linsolve/point_cost.hpp"
#include "linsolve/matrix_market.hpp"
#include "linsolve/method_runner.hpp"
#include "linsolve/randsvd.hpp"
#include "linsolve/methods/gauss_elim.hpp"
#include "linsolve/methods/gauss_seidel.hpp"
#include "linsolve/methods/mixed_refinement.hpp"
#include "linsolve/methods/reference.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

namespace numlab::linsolve {

namespace {

// The methods of this experiment: adding one is a file in methods/ and a line here, plus the
// one-line methods/<name>.cpp that compiles its run (linsolve/method_runner.hpp).
using Methods = MethodList<GaussElimMethod, GaussSeidelMethod, ReferenceMethod, MixedRefinementMethod>;

Schema make_problem_schema() {
  Schema s;
  auto in_matrix = [](ParamSpec p) {
    p.section = "matrix";
    return p;
  };
  ParamSpec path = string_param("path", "Matrix Market file of A (generator matrix_market)", std::nullopt);
  path.optional = true;
  path.input_file = true;
  ParamSpec rhs = string_param("rhs", "Matrix Market file of b (default: b = A x_true with x_true random)", std::nullopt);
  rhs.optional = true;
  rhs.input_file = true;
  ParamSpec sol = string_param("solution", "Matrix Market file of the true x (default: none, or the random one)",
                               std::nullopt);
  sol.optional = true;
  sol.input_file = true;
  ParamSpec N = int_param("N", "unknowns (random_sparse, poisson2d: grid nx*ny with nx the largest divisor <= sqrt N)",
                          std::nullopt, 1, 2e9);
  N.optional = true;  // required unless matrix_market: checked in validate()
  ParamSpec factor = real_param("dominance_factor", "a_ii = factor * sum_j|a_ij| (overrides dominance)",
                                std::nullopt, 0, 1e12, true);
  factor.optional = true;
  // randsvd's keys have no defaults, so the other generators' points carry no such attributes.
  ParamSpec cond = real_param("cond", "2-norm condition number sigma_max / sigma_min (randsvd; required there)",
                              std::nullopt, 1.0, 1e300);
  cond.optional = true;
  ParamSpec sv = choice_param("sv_distribution",
                              "randsvd's singular values from 1 to 1/cond: geometric (default), one_small "
                              "(1, ..., 1, 1/cond), one_large (1, 1/cond, ..., 1/cond), arithmetic",
                              {"geometric", "one_small", "one_large", "arithmetic"}, std::nullopt);
  sv.optional = true;
  s.params = {
      in_matrix(choice_param("generator",
                             "how A is made (randsvd: dense, A = U diag(sigma) V with Haar U, V and cond(A) = cond)",
                             {"random_sparse", "poisson2d", "matrix_market", "randsvd"}, "random_sparse")),
      in_matrix(N),
      in_matrix(real_param("density", "expected nonzeros / N^2, off-diagonal entries drawn at random (random_sparse)", 0.01, 0.0, 1.0,
                           true, false)),
      in_matrix(choice_param("dominance", "diagonal dominance: strict (factor 2), weak (1), none (0.5)",
                             {"strict", "weak", "none"}, "strict")),
      in_matrix(factor),
      in_matrix(int_param("seed", "random seed of A and x_true", 42, 0, 9.2e18)),
      in_matrix(path),
      in_matrix(rhs),
      in_matrix(sol),
      in_matrix(cond),
      in_matrix(sv),
  };
  return s;
}

// A method's own check of its options (conflicting values -> KeyError naming the key), where it
// declares one: static void check(Options const&).
template <class M, class = void>
struct has_options_check : std::false_type {};
template <class M>
struct has_options_check<M, std::void_t<decltype(M::Options::check(std::declval<typename M::Options const&>()))>>
    : std::true_type {};

template <class Method>
void check_method_options(PointSpec const& pt) {
  if constexpr (has_options_check<Method>::value) Method::Options::check(options_from<typename Method::Options>(pt.options));
}

// randsvd's singular-value distribution: given, else geometric (MATLAB's default mode 3).
std::string effective_sv_distribution(ParamMap const& prm) {
  return has(prm, "sv_distribution") ? get_string(prm, "sv_distribution") : "geometric";
}

// Dense generators hold N x N doubles (a CSR of every entry, plus the dense copies).
constexpr std::int64_t kRandsvdMaxN = 32768;

// random_sparse's diagonal factor: dominance_factor, else the dominance level's.
double effective_dominance_factor(ParamMap const& prm) {
  return has(prm, "dominance_factor") ? get_real(prm, "dominance_factor")
                                      : dominance_factor_for(get_string(prm, "dominance"));
}

template <class ExecSpace>
std::unique_ptr<ProblemInstance> build(ExecSpace const& space, ParamMap const& prm, RunSettings const& s) {
  auto p = std::make_unique<LinsolveProblem<ExecSpace>>();
  p->space = space;
  auto const& gen = get_string(prm, "generator");
  auto seed = static_cast<std::uint64_t>(get_int(prm, "seed"));
  if (gen == "matrix_market") {
    HostCsr A = read_matrix_market(resolve_input_path(get_string(prm, "path"), s.config_dir));
    if (A.numRows() != A.numCols())
      throw std::runtime_error("Matrix Market matrix is not square: " + std::to_string(A.numRows()) + " x " +
                               std::to_string(A.numCols()));
    if (has(prm, "rhs")) {
      p->host.A = A;
      p->host.b = read_matrix_market_vector(resolve_input_path(get_string(prm, "rhs"), s.config_dir));
      if (has(prm, "solution")) p->host.x_true = read_matrix_market_vector(resolve_input_path(get_string(prm, "solution"), s.config_dir));
      if (p->host.b.extent(0) != std::size_t(A.numRows()) ||
          (p->host.x_true.extent(0) != 0 && p->host.x_true.extent(0) != std::size_t(A.numRows())))
        throw std::runtime_error("rhs / solution length does not match the matrix size");
    } else {
      p->host = with_known_solution(A, seed);
    }
  } else {
    auto N = get_int(prm, "N");
    HostCsr A;
    if (gen == "poisson2d") {
      auto [nx, ny] = poisson_grid_for(N);
      A = poisson2d(nx, ny);
    } else if (gen == "randsvd") {
      // Its host copy (8 N^2 B) and the CSR of every entry (12 N^2 B) before the first allocation.
      require_host_bytes(20.0 * double(N) * double(N), fmt::format("the {} x {} randsvd matrix", N, N));
      A = dense_to_host_csr(randsvd(space, int(N), get_real(prm, "cond"),
                                    sv_distribution_from(effective_sv_distribution(prm)), seed));
    } else {
      RandomSparseParams rp;
      rp.N = N;
      rp.density = get_real(prm, "density");
      rp.dominance_factor = effective_dominance_factor(prm);
      rp.seed = seed;
      A = random_sparse(rp);
    }
    p->host = with_known_solution(A, seed + 1);
  }
  p->diagnostics = diagnose(p->host.A);
  p->A = to_device<ExecSpace>(p->host.A);
  p->b = Vector<ExecSpace>("numlab::linsolve::b", p->host.b.extent(0));
  Kokkos::deep_copy(p->b, p->host.b);
  p->b_norm = KokkosBlas::nrm2(p->b);
  if (p->host.x_true.extent(0) > 0) {
    p->x_true = Vector<ExecSpace>("numlab::linsolve::x_true", p->host.x_true.extent(0));
    Kokkos::deep_copy(p->x_true, p->host.x_true);
    p->x_true_norm = KokkosBlas::nrm2(p->x_true);
  }
  return p;
}

class LinsolveExperiment final : public Experiment {
 public:
  std::string kind() const override { return "linsolve"; }
  std::string doc() const override {
    return "linear systems Ax = b: Gaussian elimination, Gauss-Seidel/SOR variants, library reference";
  }
  Schema const& problem_schema() const override { return schema_; }
  std::vector<MethodDef> const& methods() const override { return defs_; }
  std::vector<std::string> backends() const override { return kokkos_backends(); }
  std::vector<std::string> summary_metrics() const override {
    return {"solve_seconds_median", "iterations", "rel_error", "rel_residual"};
  }

  // A Matrix Market file is checked when the config is read: its banner and size line (a
  // malformed, empty or non-square matrix is a config error, not a failed point per method).
  void resolve_problem(ParamMap& problem, std::set<std::string> const& /*given*/,
                       std::string const& config_dir) const override {
    if (!has(problem, "generator") || get_string(problem, "generator") != "matrix_market" || !has(problem, "path"))
      return;
    std::string const path = resolve_input_path(get_string(problem, "path"), config_dir);
    if (!std::filesystem::exists(path)) return;  // reported as a missing input
    // Once per file: a sweep's every problem combination names the same one.
    static std::map<std::string, std::string> checked;  // path -> "" or the error
    auto it = checked.find(path);
    if (it == checked.end()) {
      std::string error;
      try {
        read_matrix_market_size(path);
      } catch (MatrixMarketError const& e) {
        error = e.what();
      }
      it = checked.emplace(path, error).first;
    }
    if (!it->second.empty()) throw KeyError("path", it->second);
  }

  void validate(PointSpec const& pt) const override {
    auto const& gen = get_string(pt.problem, "generator");
    if (gen == "matrix_market") {
      if (!has(pt.problem, "path")) throw KeyError("generator", "generator matrix_market needs matrix.path");
    } else if (!has(pt.problem, "N")) {
      throw KeyError("generator", "generator " + gen + " needs N (in 'matrix' or as a sweep axis)");
    }
    if (gen == "randsvd") {
      if (!has(pt.problem, "cond")) throw KeyError("generator", "generator randsvd needs matrix.cond");
      if (has(pt.problem, "N") && get_int(pt.problem, "N") > kRandsvdMaxN)
        throw KeyError("N", fmt::format("randsvd is dense: N = {} > {} ({:.0f} GiB per copy)", get_int(pt.problem, "N"),
                                        kRandsvdMaxN, 8.0 * double(get_int(pt.problem, "N")) *
                                                          double(get_int(pt.problem, "N")) / double(1 << 30)));
    } else {
      for (char const* k : {"cond", "sv_distribution"})
        if (has(pt.problem, k)) throw KeyError(k, std::string("matrix.") + k + " is randsvd's (generator " + gen + ")");
    }
    if (has(pt.problem, "solution") && !has(pt.problem, "rhs"))
      throw KeyError("solution", "matrix.solution needs matrix.rhs (b) as well");
    Methods::dispatch<int>(pt.method, [&](auto m) {
      check_method_options<decltype(m)>(pt);
      return 0;
    });
  }

  // random_sparse: the diagonal factor the matrix is built with (dominance_factor, else the
  // dominance level's).
  ParamMap derived(PointSpec const& pt) const override {
    ParamMap d;
    if (get_string(pt.problem, "generator") == "random_sparse")
      d["dominance_factor_effective"] = effective_dominance_factor(pt.problem);
    if (get_string(pt.problem, "generator") == "randsvd")
      d["sv_distribution_effective"] = effective_sv_distribution(pt.problem);
    return d;
  }

  double estimated_cost(PointSpec const& pt) const override {
    bool const random = get_string(pt.problem, "generator") == "random_sparse";
    return estimated_point_cost(pt, random ? effective_dominance_factor(pt.problem) : 0);
  }

  std::unique_ptr<ProblemInstance> make_problem(ParamMap const& prm, RunSettings const& s) override {
    return with_backend(s.backend, [&](auto space) { return build(space, prm, s); });
  }

  PointResult run(ProblemInstance& base, PointSpec const& pt, RunSettings const& s) override {
    PointResult r = Methods::dispatch<PointResult>(pt.method, [&](auto m) { return run_method<decltype(m)>(base, pt, s); });
    auto const& d = with_backend(s.backend, [&](auto space) -> MatrixDiagnostics const& {
      return dynamic_cast<LinsolveProblem<decltype(space)>&>(base).diagnostics;
    });
    // A solve that claims success with a non-finite error or residual is not a result.
    if (r.status == "solved" || r.status == "converged" || r.status == "max_iterations")
      for (char const* m : {"rel_error", "rel_residual"})
        if (auto it = r.metrics.find(m); it != r.metrics.end() && !std::isfinite(get_real(r.metrics, m))) {
          r.reason = fmt::format("{} is {} (status was {})", m, numlab::to_string(it->second), r.status);
          r.status = "nonfinite";
          break;
        }
    r.metrics["n_rows"] = std::int64_t(d.n);
    r.metrics["nnz"] = std::int64_t(d.nnz);
    r.metrics["density_actual"] = d.density;
    r.metrics["dominance_margin"] = d.dominance_margin;
    r.metrics["dominant_row_fraction"] = d.dominant_row_fraction;
    return r;
  }

 private:
  Schema schema_ = make_problem_schema();
  std::vector<MethodDef> defs_ = Methods::defs();
};

}  // namespace

Experiment* linsolve_experiment() {
  static LinsolveExperiment e;
  return &e;
}

}  // namespace numlab::linsolve
