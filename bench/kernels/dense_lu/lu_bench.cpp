// SPDX-License-Identifier: MIT
// Kernel harness: numlab's dense LU (linsolve/dense_lu.hpp) against the library LU of the same
// build (KokkosLapack::gesv: cuSOLVER getrf + getrs on CUDA, LAPACK on the host), on random
// matrices, and where the LU's time goes (panel, interchanges, trsm, gemm, each fenced).
// Numbers for kernel work only: numlab's sweeps (configs/linsolve_gpu.yaml) are the record.
//   lu_bench [N=2000,8192,16384] [reps=5] [mode=time|phases|check] [block=0] [leaf=0]
//            [kernel=auto|per_column|fused|team|persistent] [lookahead=1|0] [rows=0] [threads=0]
// check: backward error of each solve, no timing (ctest runs it at small N on the host).
#include "linsolve/dense_lu.hpp"
#include "linsolve/reference_solve.hpp"

#include <KokkosBlas2_gemv.hpp>
#include <Kokkos_Core.hpp>
#include <Kokkos_Random.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace nl = numlab::linsolve;
using Exec = Kokkos::DefaultExecutionSpace;
using Mem = Exec::memory_space;
using Mat = Kokkos::View<double**, Kokkos::LayoutLeft, Kokkos::Device<Exec, Mem>>;
using Vec = Kokkos::View<double*, Kokkos::LayoutLeft, Kokkos::Device<Exec, Mem>>;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <class F>
double median_seconds(int reps, F&& f) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    t.push_back(f());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// ||b - A x||_inf / (||A||_inf ||x||_inf + ||b||_inf): the normwise backward error.
double backward_error(Mat const& A, Vec const& x, Vec const& b) {
  Vec r("r", b.extent(0));
  Kokkos::deep_copy(r, b);
  KokkosBlas::gemv("N", -1.0, A, x, 1.0, r);
  const int n = int(A.extent(0));
  double rn = 0, xn = 0, bn = 0, an = 0;
  Kokkos::parallel_reduce(
      n, KOKKOS_LAMBDA(int i, double& v) { const double a = numlab::kx::abs(r(i)); if (a > v) v = a; }, Kokkos::Max<double>(rn));
  Kokkos::parallel_reduce(
      n, KOKKOS_LAMBDA(int i, double& v) { const double a = numlab::kx::abs(x(i)); if (a > v) v = a; }, Kokkos::Max<double>(xn));
  Kokkos::parallel_reduce(
      n, KOKKOS_LAMBDA(int i, double& v) { const double a = numlab::kx::abs(b(i)); if (a > v) v = a; }, Kokkos::Max<double>(bn));
  Kokkos::parallel_reduce(
      n,
      KOKKOS_LAMBDA(int i, double& v) {
        double s = 0;
        for (int j = 0; j < n; ++j) s += numlab::kx::abs(A(i, j));
        if (s > v) v = s;
      },
      Kokkos::Max<double>(an));
  return rn / (an * xn + bn);
}

std::vector<int> parse_ints(std::string const& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');) v.push_back(std::atoi(t.c_str()));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::ScopeGuard guard(argc, argv);
  std::map<std::string, std::string> arg{{"N", "2000,8192,16384"}, {"reps", "5"}, {"mode", "time"},
                                         {"block", "0"},           {"leaf", "0"},  {"kernel", "auto"}, {"lookahead", "1"},
                                         {"rows", "0"},            {"threads", "0"}};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const auto eq = a.find('=');
    if (eq == std::string::npos || !arg.count(a.substr(0, eq))) {
      std::fprintf(stderr, "lu_bench: unknown argument '%s' (N= reps= mode= block= leaf= kernel= lookahead= rows= threads=)\n", a.c_str());
      return 2;
    }
    arg[a.substr(0, eq)] = a.substr(eq + 1);
  }
  const int reps = std::max(1, std::atoi(arg["reps"].c_str()));
  const std::string mode = arg["mode"];
  nl::LuOptions opt;
  opt.block_size = std::atoi(arg["block"].c_str());
  opt.leaf_width = std::atoi(arg["leaf"].c_str());
  opt.lookahead = arg["lookahead"] != "0";
  opt.team_rows = std::atoi(arg["rows"].c_str());   // rows per team of the fused / persistent kernels
  opt.team_size = std::atoi(arg["threads"].c_str());  // threads per team of the panel kernels
  try {
    opt.panel_kernel = numlab::enum_from_name<nl::LuPanelKernel>(arg["kernel"]);
  } catch (std::exception const&) {
    std::fprintf(stderr, "lu_bench: unknown kernel '%s'\n", arg["kernel"].c_str());
    return 2;
  }
  Exec space;
  bool ok = true;
  std::printf("dense LU on %s, block %d leaf %d kernel %s lookahead %d\n", Exec::name(), opt.block_size,
              opt.leaf_width, arg["kernel"].c_str(), int(opt.lookahead));
  if (mode == "phases")
    std::printf("|     N | total ms | panel ms | leaves ms | plans ms | swaps ms | trsm ms | gemm ms | lower-swap ms |\n"
                "|---|---|---|---|---|---|---|---|---|\n");
  else
    std::printf("|     N | numlab ms | library ms | numlab / library | backward error numlab | library |\n"
                "|---|---|---|---|---|---|\n");
  for (int n : parse_ints(arg["N"])) {
    Mat A0("A0", n, n), A("A", n, n);
    Vec b("b", n), x("x", n);
    Kokkos::View<int*, Mem> piv("piv", n);
    Kokkos::Random_XorShift64_Pool<Exec> pool(20261202 + n);
    Kokkos::fill_random(A0, pool, -1.0, 1.0);
    Kokkos::fill_random(b, pool, -1.0, 1.0);
    Kokkos::fence();
    if (mode == "phases") {  // lu_factor with every phase fenced (no look-ahead), the fastest run
      nl::LuPhaseTimes best;
      double best_total = 1e30;
      for (int r = 0; r < reps; ++r) {
        Kokkos::deep_copy(A, A0);
        nl::LuPhaseTimes p;
        nl::LuOptions o = opt;
        o.phases = &p;
        const auto f = nl::lu_factor(space, A, piv, o);
        Kokkos::deep_copy(x, b);
        nl::lu_solve(space, A, Kokkos::View<const int*, Mem>(piv), x);
        space.fence();
        const double be = backward_error(A0, x, b);
        if (f.status != nl::SolveStatus::solved || !(be < 100.0 * n * 2.2e-16)) {
          std::printf("| %5d | FAIL: phase-timed factors give backward error %.2e |\n", n, be);
          ok = false;
        }
        const double total = p.panel + p.plans + p.swaps + p.trsm + p.gemm + p.lower_swaps;
        if (total < best_total) best_total = total, best = p;
      }
      std::printf("| %5d | %8.2f | %8.2f | %9.2f | %8.2f | %8.2f | %7.2f | %7.2f | %13.2f |\n", n, 1e3 * best_total,
                  1e3 * best.panel, 1e3 * best.leaves, 1e3 * best.plans, 1e3 * best.swaps, 1e3 * best.trsm,
                  1e3 * best.gemm, 1e3 * best.lower_swaps);
      continue;
    }
    auto ours = [&] {
      Kokkos::deep_copy(A, A0);
      Kokkos::deep_copy(x, b);
      space.fence();
      const double t0 = now();
      auto f = nl::lu_factor(space, A, piv, opt);
      nl::lu_solve(space, A, Kokkos::View<const int*, Mem>(piv), x);
      space.fence();
      if (f.status != numlab::linsolve::SolveStatus::solved) ok = false;
      return now() - t0;
    };
    auto library = [&] {
      Kokkos::deep_copy(A, A0);
      Kokkos::deep_copy(x, b);
      space.fence();
      const double t0 = now();
      nl::reference_solve(space, A, x);
      space.fence();
      return now() - t0;
    };
    const bool timing = mode != "check";
    ours();  // warm-up (and the check's solve)
    double t_ours = timing ? median_seconds(reps, ours) : 0;
    const double be_ours = backward_error(A0, x, b);
    library();
    double t_lib = timing ? median_seconds(reps, library) : 0;
    const double be_lib = backward_error(A0, x, b);
    // Backward-stable LU: a backward error of a few n eps; 100 n eps leaves room for growth.
    const bool good = be_ours < 100.0 * n * 2.2e-16 && be_ours < 20 * be_lib + 1e-15;
    ok = ok && good;
    std::printf("| %5d | %9.2f | %10.2f | %16.2f | %21.2e | %7.2e | %s\n", n, 1e3 * t_ours, 1e3 * t_lib,
                timing ? t_ours / t_lib : 0.0, be_ours, be_lib, good ? "" : "FAIL");
  }
  return ok ? 0 : 1;
}
