// SPDX-License-Identifier: MIT
// One attention problem: inputs Q, K, V, dO (seeded random or read from HDF5),
// in the precision and memory space of the run, plus the fp64 reference that
// every method of the problem is checked against.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/reference.hpp"
#include "core/experiment.hpp"

#include <cmath>
#include <optional>
#include <string>
#include <vector>
#include <random>

namespace numlab::attention {

// What every attention problem has, whichever backend runs it.
struct AttentionProblemBase : ProblemInstance {
  AttentionShape shape;        // the shape run (from the file when inputs are given)
  std::string invalid_inputs;          // which of Q, K, V, dO hold NaN or infinities ("" if none)
  std::string invalid_forward_inputs;  // the same of Q, K, V (what a forward reads)
};

// Outputs of the baselines standard (kernel auto) and standard_bwd on a problem's inputs, in its
// dtype, on the host: what the *_vs_standard metrics compare with. Made on first use.
template <class T>
struct StandardBaseline {
  bool forward_made = false, backward_made = false;
  std::string skipped;  // why there is none (too large for the default max_gib); "" otherwise
  Tensor4<T, Kokkos::HostSpace> O, dQ, dK, dV;
  Tensor3<T, Kokkos::HostSpace> L;
};

template <class ExecSpace, class T>
struct AttentionProblem : AttentionProblemBase {
  using Mem = typename ExecSpace::memory_space;
  ExecSpace space;
  Tensor4<T, Mem> Q, K, V, dO;
  std::optional<ReferenceResult> reference;  // absent with `reference: false`
  bool vs_standard = false;                  // `vs_standard`: record the errors against the baseline
  StandardBaseline<T> baseline;
  // Forward state for the backward methods (flash forward in T), made on first use.
  Tensor4<T, Mem> O;
  Tensor3<T, Mem> L;
};

// Standard normal values from a seeded mt19937_64 through Box-Muller, written
// out so every platform draws the same inputs for a seed.
inline void fill_standard_normal(double* x, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&] { return (double(rng() >> 11) + 0.5) * (1.0 / 9007199254740992.0); };  // (0, 1)
  constexpr double two_pi = 6.283185307179586476925286766559;
  for (std::size_t i = 0; i < n; i += 2) {
    double r = std::sqrt(-2.0 * std::log(uniform())), t = two_pi * uniform();
    x[i] = r * std::cos(t);
    if (i + 1 < n) x[i + 1] = r * std::sin(t);
  }
}

// Host doubles [B,H,n,D] -> a Tensor4<T> in the execution space.
template <class T, class Mem>
Tensor4<T, Mem> to_tensor(std::vector<double> const& host, int B, int H, int n, int D, char const* label) {
  Tensor4<T, Mem> t(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("numlab::attention::") + label), B, H,
                    n, D);
  auto h = Kokkos::create_mirror_view(t);
  for (std::size_t i = 0; i < host.size(); ++i) h.data()[i] = static_cast<T>(host[i]);
  Kokkos::deep_copy(t, h);
  return t;
}

// Row-major copy of a device tensor as doubles (for save_outputs).
template <class View>
std::vector<double> to_doubles(View const& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  std::vector<double> out(h.size());
  for (std::size_t i = 0; i < h.size(); ++i) out[i] = static_cast<double>(h.data()[i]);
  return out;
}

}  // namespace numlab::attention
