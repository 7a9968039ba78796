// SPDX-License-Identifier: MIT
// One linear-systems problem instance: generated (or read) once on the host,
// copied to the execution space, shared by every method of the point group.
#pragma once

#include "core/experiment.hpp"
#include "linsolve/csr.hpp"
#include "linsolve/diagnostics.hpp"

#include <KokkosBlas1_nrm2.hpp>
#include <KokkosBlas1_axpby.hpp>
#include <KokkosSparse_spmv.hpp>

namespace numlab::linsolve {

template <class ExecSpace>
struct LinsolveProblem : ProblemInstance {
  ExecSpace space;
  HostLinearSystem host;
  Csr<ExecSpace> A;
  Vector<ExecSpace> b;
  Vector<ExecSpace> x_true;  // extent 0 when the true solution is unknown
  MatrixDiagnostics diagnostics;
  double b_norm = 0;
  double x_true_norm = 0;
};

// Every method reports these the same way: error vs the true solution and
// residual, both recomputed here independently of the solver.
template <class ExecSpace>
void add_accuracy_metrics(LinsolveProblem<ExecSpace> const& p, Vector<ExecSpace> x, PointResult& r) {
  Vector<ExecSpace> tmp("numlab::linsolve::residual", x.extent(0));
  Kokkos::deep_copy(tmp, p.b);
  KokkosSparse::spmv("N", -1.0, p.A, x, 1.0, tmp);  // tmp = b - A x
  double rn = KokkosBlas::nrm2(tmp);
  r.metrics["rel_residual"] = p.b_norm > 0 ? rn / p.b_norm : rn;
  if (p.x_true.extent(0) == x.extent(0)) {
    Kokkos::deep_copy(tmp, x);
    KokkosBlas::axpy(-1.0, p.x_true, tmp);  // tmp = x - x_true
    double en = KokkosBlas::nrm2(tmp);
    r.metrics["rel_error"] = p.x_true_norm > 0 ? en / p.x_true_norm : en;
  }
}

// Solution array for save_outputs.
template <class ExecSpace>
std::vector<double> to_std_vector(Vector<ExecSpace> x) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

}  // namespace numlab::linsolve
